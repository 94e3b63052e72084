/**
 * A slow MCP client holds back the upstream feeding it, end to end: during a `tools/call` the upstream floods log
 * notifications (far more than socket buffers hold) while the client's raw socket reads nothing. The gateway stops
 * reading the upstream's stream, so a TCP proxy between the gateway and the upstream sees the gateway stop taking
 * bytes long before the upstream has sent everything. Without backpressure the gateway reads the whole flood into
 * memory (measured: ~124 MB for 94 MB of notifications).
 *
 * The same for a request the session's front end answers through the upstream's SDK client (`prompts/get`: the
 * response's flow, `mcp/backpressure.ts`).
 *
 * Observed from outside only: the test waits until the proxy's gateway-side socket is full (or the whole flood went
 * through), then checks that nothing more reaches the gateway for half a second and that it holds a fraction of the flood.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { tokenFor, useTestGateway } from '../helpers/gateway.js';
import { listenOnLoopback, type LoopbackServer } from '../helpers/loopback-server.js';
import { INIT, rawPost } from '../helpers/mcp-client.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';

const NOTIFICATIONS = 1500;
const NOTIFICATION_BYTES = 64 * 1024;
const FLOOD_BYTES = NOTIFICATIONS * NOTIFICATION_BYTES;

const t = useTestGateway();

/** A stateless upstream whose `flood` tool sends `n` large log notifications on the call's stream. */
async function startFloodingUpstream(): Promise<LoopbackServer> {
  const server = http.createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const mcp = new McpServer({ name: 'flood', version: '1.0.0' }, { capabilities: { logging: {} } });
      mcp.registerTool('flood', { inputSchema: { n: z.number().int() } }, async ({ n }, extra) => {
        for (let i = 0; i < n; i++) {
          await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: 'x'.repeat(NOTIFICATION_BYTES) } });
        }
        return { content: [{ type: 'text', text: 'done' }] };
      });
      mcp.registerPrompt('flood', { argsSchema: { n: z.string() } }, async ({ n }, extra) => {
        for (let i = 0; i < Number(n); i++) {
          await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: 'x'.repeat(NOTIFICATION_BYTES) } });
        }
        return { messages: [{ role: 'user', content: { type: 'text', text: 'done' } }] };
      });
      const transport = new StreamableHTTPServerTransport({});
      await mcp.connect(transport);
      await transport.handleRequest(req, res, chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined);
    })();
  });
  return listenOnLoopback(server, '/mcp');
}

/** A TCP proxy to `port` that keeps the gateway-side sockets, to see whether the gateway still reads. */
async function startProxy(port: number): Promise<{ port: number; toGateway: net.Socket[]; close(): Promise<void> }> {
  const toGateway: net.Socket[] = [];
  const server = net.createServer((gatewaySide) => {
    toGateway.push(gatewaySide);
    const upstreamSide = net.connect(port, '127.0.0.1');
    gatewaySide.pipe(upstreamSide).pipe(gatewaySide);
    const end = () => (gatewaySide.destroy(), upstreamSide.destroy());
    gatewaySide.on('error', end).on('close', end);
    upstreamSide.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    toGateway,
    async close() {
      for (const s of toGateway) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

let upstream: LoopbackServer;
let proxy: Awaited<ReturnType<typeof startProxy>>;

beforeAll(async () => {
  upstream = await startFloodingUpstream();
  proxy = await startProxy(Number(new URL(upstream.url).port));
  const team = await createTeam(t.tdb.db.prisma, { slug: 'flood', name: 'Flood' });
  await addToolServer(t.tdb.db.prisma, t.gw.app.box, team.id, { name: 'f', kind: 'remote', url: `http://127.0.0.1:${proxy.port}/mcp`, auth: { mode: 'none' } });
});
afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

/**
 * Sends `request` on a raw socket that reads nothing, then waits until the gateway has stopped taking the upstream's
 * bytes (or the whole flood went through) and checks it holds a fraction of the flood; then the client gives up.
 */
async function floodWhileNotReading(request: { method: string; params: unknown }): Promise<void> {
  const { token } = await tokenFor(t.gw, { email: `slow-${request.method.replace('/', '-')}@example.com`, team: 'flood' });
  const endpoint = `${t.gw.url}/t/flood/mcp`;
  const headers = { authorization: `Bearer ${token}` };
  const init = await rawPost(endpoint, INIT, headers);
  const session = { ...headers, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
  await init.text();
  await (await rawPost(endpoint, { jsonrpc: '2.0', method: 'notifications/initialized' }, session)).text();
  const before = proxy.toGateway.length;

  const body = JSON.stringify({ jsonrpc: '2.0', id: 2, ...request });
  const { host, port } = new URL(t.gw.url);
  const client = net.connect(Number(port), '127.0.0.1');
  client.pause();
  client.write(
    [
      'POST /t/flood/mcp HTTP/1.1',
      `Host: ${host}`,
      `Authorization: Bearer ${token}`,
      'Content-Type: application/json',
      'Accept: application/json, text/event-stream',
      `Mcp-Session-Id: ${session['mcp-session-id']}`,
      'Mcp-Protocol-Version: 2025-11-25',
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ].join('\r\n'),
  );

  // This request's connections only (a session's first request through the SDK client opens its own).
  const mine = () => proxy.toGateway.slice(before);
  const delivered = () => mine().reduce((n, sock) => n + sock.bytesWritten, 0);
  const gatewayFull = () => mine().some((sock) => sock.writableNeedDrain);
  // Stopped, not merely slow: wait until nothing more has gone to the gateway for half a second (or the flood is
  // through, which fails below).
  let last = -1;
  await expect
    .poll(
      () => {
        const now = delivered();
        const stopped = now === last && gatewayFull();
        last = now;
        return stopped || now >= FLOOD_BYTES;
      },
      { timeout: 30_000, interval: 500 },
    )
    .toBe(true);
  const held = delivered();
  expect(gatewayFull()).toBe(true);
  // What reached the gateway is what the sockets in between hold, not the flood. (The SDK's upstream transport
  // queues the rest in the upstream's own process: that is the upstream's business.)
  expect(held).toBeLessThan(FLOOD_BYTES / 4);

  // The client gives up: the gateway lets go of the upstream's stream (cancels the call, closes that connection).
  client.destroy();
  await expect.poll(() => mine().every((sock) => sock.destroyed || !sock.writableNeedDrain), { timeout: 10_000 }).toBe(true);
}

describe('a client that stops reading holds back its upstream', () => {
  it('the gateway stops reading an upstream flood while the client reads nothing (a relayed tools/call)', async () => {
    await floodWhileNotReading({ method: 'tools/call', params: { name: 'f__flood', arguments: { n: NOTIFICATIONS } } });
  });

  it('the same for a request the front end answers through the upstream’s client (prompts/get)', async () => {
    await floodWhileNotReading({ method: 'prompts/get', params: { name: 'f__flood', arguments: { n: String(NOTIFICATIONS) } } });
  });
});
