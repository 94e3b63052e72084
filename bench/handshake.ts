/**
 * Session handshake rate (initialize + notifications/initialized + tools/list) through the gateway against
 * PostgreSQL, against a bare SDK server in the same process as the baseline; and memory per idle session at
 * 1,000 sessions, held in memory and after idle eviction.
 */
import http from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { listenOnLoopback } from '../test/helpers/loopback-server.js';
import { benchDatabase, benchGateway, benchToken, load, round } from './harness.js';

const H = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } };

async function handshake(endpoint: string, auth: Record<string, string>): Promise<string> {
  const r1 = await fetch(endpoint, { method: 'POST', headers: { ...H, ...auth }, body: JSON.stringify(INIT) });
  const sid = r1.headers.get('mcp-session-id');
  await r1.text();
  if (r1.status !== 200 || !sid) throw new Error(`initialize failed: ${r1.status}`);
  const h = { ...H, ...auth, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
  const r2 = await fetch(endpoint, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  await r2.text();
  const r3 = await fetch(endpoint, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
  const body = await r3.text();
  if (r3.status !== 200 || !body.includes('echo')) throw new Error(`tools/list failed: ${r3.status}`);
  return sid;
}

/** The baseline: the SDK's own stateful server with one tool per session, no auth, no database. */
async function bareServer(): Promise<{ url: string; close(): Promise<void> }> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    const sid = req.headers['mcp-session-id'] as string | undefined;
    let t = sid ? transports.get(sid) : undefined;
    if (!t) {
      t = new StreamableHTTPServerTransport({ sessionIdGenerator: () => crypto.randomUUID(), onsessioninitialized: (id) => void transports.set(id, t!) });
      const mcp = new McpServer({ name: 'bare', version: '1' });
      mcp.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
      await mcp.connect(t);
    }
    await t.handleRequest(req, res, body);
  });
  return listenOnLoopback(server, '/mcp');
}

/** Heap in MB after closed sockets and streams had a moment to finish and a few full collections. */
async function heapMb(): Promise<number> {
  await new Promise((r) => setTimeout(r, 500));
  for (let i = 0; i < 4; i++) globalThis.gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

export async function benchHandshake(opts: { seconds?: number; sessions?: number } = {}): Promise<Record<string, unknown>> {
  const ms = (opts.seconds ?? 5) * 1000;
  const sessions = opts.sessions ?? 1000;
  const { db, drop } = await benchDatabase();
  const gw = await benchGateway(db, { SESSION_CACHE_TTL: '1h' });
  const bare = await bareServer();
  try {
    const token = await benchToken(gw.app, 'bench@example.com');
    const auth = { authorization: `Bearer ${token}` };
    const endpoint = `${gw.url}/t/demo/mcp`;
    await handshake(endpoint, auth); // warm up both
    await handshake(bare.url, {});
    const direct = await load(() => handshake(bare.url, {}).then(() => undefined), { concurrency: 8, ms, maxOps: 20_000 });
    const gateway = await load(() => handshake(endpoint, auth).then(() => undefined), { concurrency: 8, ms, maxOps: 20_000 });

    // Memory per idle session: a fresh gateway process state with `sessions` live sessions.
    await gw.app.sessions.shutdown();
    const before = await heapMb();
    for (let i = 0; i < sessions; i += 20) await Promise.all(Array.from({ length: Math.min(20, sessions - i) }, () => handshake(endpoint, auth)));
    const live = await heapMb();
    const held = gw.app.sessions.size;
    await gw.app.sessions.shutdown(); // what idle eviction does to each of them
    const evicted = await heapMb();
    return {
      'handshakes/s direct (bare SDK server)': round(direct.perSecond, 1),
      'handshakes/s through gateway (auth + PostgreSQL)': round(gateway.perSecond, 1),
      'gateway/direct throughput ratio': round(gateway.perSecond / direct.perSecond, 3),
      'handshake p50 ms direct / gateway': `${round(direct.p50)} / ${round(gateway.p50)}`,
      'handshake p99 ms direct / gateway': `${round(direct.p99)} / ${round(gateway.p99)}`,
      [`live sessions held`]: held,
      [`heap per live session KB (${sessions})`]: round(((live - before) * 1024) / sessions, 1),
      [`heap per idle session after eviction KB (${sessions})`]: round(((evicted - before) * 1024) / sessions, 2),
      'gc exposed': typeof globalThis.gc === 'function',
    };
  } finally {
    await bare.close();
    await gw.close();
    await drop();
  }
}
