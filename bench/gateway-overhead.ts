/**
 * Gateway overhead on `tools/call` (docs/architecture.md §Performance): the same SDK client and load against an upstream MCP
 * server directly, then through the gateway to that upstream (a remote tool server with the default `exchange`
 * auth, PostgreSQL behind the gateway). Reports the throughput ratio and the latency the gateway adds.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createTeam } from '../src/teams/team-admin.js';
import { addToolServer } from '../src/toolservers/tool-server-config.js';
import { benchDatabase, benchGateway, benchToken, load, round } from './harness.js';
import { listenOnLoopback } from '../test/helpers/loopback-server.js';

const CONCURRENCY = 8;
const RUN_MS = 4_000;
const MAX_OPS = 50_000;
const WARMUP_OPS = 300;

/** The upstream: the SDK's stateful server with one `echo` tool, no auth. */
async function upstream(): Promise<{ url: string; close(): Promise<void> }> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body: unknown = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    const sid = req.headers['mcp-session-id'] as string | undefined;
    let t = sid ? transports.get(sid) : undefined;
    if (!t) {
      if (sid) return void res.writeHead(404).end();
      const mcp = new McpServer({ name: 'bench-upstream', version: '1' });
      mcp.registerTool('echo', { description: 'echo', inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
      const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void transports.set(id, created),
      });
      await mcp.connect(created);
      t = created;
    }
    await t.handleRequest(req, res, body);
  });
  const listening = await listenOnLoopback(server, '/mcp');
  return {
    url: listening.url,
    async close() {
      await listening.close();
    await Promise.allSettled([...transports.values()].map((t) => t.close()));
    },
  };
}

async function measure(url: string, tool: string, headers: Record<string, string>) {
  const client = new Client({ name: 'bench', version: '1' });
  // A per-request signal: the SDK hands fetch one long-lived signal whose listeners pile up until GC (warnings).
  const fetchFn = (u: string | URL, init?: RequestInit) => fetch(u, { ...init, ...(init?.signal ? { signal: AbortSignal.any([init.signal]) } : {}) });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers }, fetch: fetchFn }));
  const call = async () => {
    const r = await client.callTool({ name: tool, arguments: { text: 'hello' } });
    if (r.isError) throw new Error(`tool call failed: ${JSON.stringify(r.content)}`);
  };
  await load(call, { concurrency: CONCURRENCY, ms: 10_000, maxOps: WARMUP_OPS });
  const result = await load(call, { concurrency: CONCURRENCY, ms: RUN_MS, maxOps: MAX_OPS });
  await client.close();
  return result;
}

export async function benchGatewayOverhead(): Promise<Record<string, unknown>> {
  const { db, drop } = await benchDatabase();
  const up = await upstream();
  const gw = await benchGateway(db);
  try {
    const team = await createTeam(db.prisma, { slug: 'overhead', name: 'Overhead' });
    await addToolServer(db.prisma, gw.app.box, team.id, { name: 'up', kind: 'remote', url: up.url });
    const token = await benchToken(gw.app, 'bench@example.com', 'overhead');

    const direct = await measure(up.url, 'echo', {});
    const gateway = await measure(`${gw.url}/t/overhead/mcp`, 'up__echo', { Authorization: `Bearer ${token}` });
    return {
      'load': `${CONCURRENCY} concurrent tools/call from one SDK client, ${RUN_MS / 1000} s each after ${WARMUP_OPS} warm-up calls`,
      'direct: calls/s': round(direct.perSecond, 0),
      'direct: p50 / p99 ms': `${round(direct.p50)} / ${round(direct.p99)}`,
      'gateway: calls/s': round(gateway.perSecond, 0),
      'gateway: p50 / p99 ms': `${round(gateway.p50)} / ${round(gateway.p99)}`,
      'throughput ratio (gateway / direct)': round(gateway.perSecond / direct.perSecond),
      'added latency p50 ms': round(gateway.p50 - direct.p50),
      'added latency p99 ms': round(gateway.p99 - direct.p99),
    };
  } finally {
    await gw.close();
    await up.close();
    await drop();
  }
}
