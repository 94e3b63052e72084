/**
 * Test and bench servers on 127.0.0.1 with an ephemeral port: listen, report the URL, and close without waiting
 * for keep-alive sockets or open SSE streams.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoopbackServer {
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

/** Listens on an ephemeral loopback port; `path` is appended to the URL (e.g. `/mcp`). */
export async function listenOnLoopback(server: http.Server, path = ''): Promise<LoopbackServer> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    server,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
