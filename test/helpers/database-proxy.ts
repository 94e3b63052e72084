/**
 * A real database outage for tests: a TCP proxy in front of PostgreSQL that the test stops (every connection through
 * it is cut and new ones are refused) and starts again on the same port.
 */
import net from 'node:net';

export interface DatabaseProxy {
  /** The database URL with the proxy as its host. */
  readonly url: string;
  /** Cuts every connection and refuses new ones. */
  stop(): Promise<void>;
  /** Accepts connections again (same port). */
  start(): Promise<void>;
}

export async function startDatabaseProxy(databaseUrl: string): Promise<DatabaseProxy> {
  const target = new URL(databaseUrl);
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;

  const start = () => {
    const s = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      for (const sock of [client, upstream]) {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
        sock.on('error', () => sock.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    server = s;
    return new Promise<void>((resolve) =>
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as net.AddressInfo).port;
        resolve();
      }),
    );
  };
  const stop = async () => {
    for (const sock of sockets) sock.destroy();
    await new Promise((resolve) => server?.close(resolve));
  };

  await start();
  const url = new URL(databaseUrl);
  url.host = `127.0.0.1:${port}`;
  return { url: url.toString(), stop, start };
}
