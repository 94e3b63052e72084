/**
 * The bench's upstream, in its own process, no auth — what every scenario (directly, through nginx, through the
 * gateway) ends at, with one `echo` tool. `BENCH_UPSTREAM_ERA=legacy` (the default): the SDK v1 `McpServer` over
 * stateful Streamable HTTP (2025-11-25 sessions), with a second tool, `stream`, for the events phase: `count`
 * progress notifications on the call's response stream — the first; then it waits for the load generator's
 * `POST /release?token=<progress token>` (sent once it has dropped that stream and its resuming GET is being
 * served, so the rest reach a cut stream: the gateway's event store); then the others at once — and the answer. `modern`: the SDK v2 server's `createMcpHandler` serving
 * 2026-07-28 statelessly, legacy requests refused (a modern-only tool server).
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpHandler, McpServer as ModernMcpServer } from '@modelcontextprotocol/server';
import { listenOnLoopback } from '../test/helpers/loopback-server.js';
import { fetchHandlerListener } from '../test/helpers/fetch-handler-server.js';
import { serveBenchCommands } from './ipc.js';
import { benchEra } from './mcp-requests.js';

const era = benchEra('BENCH_UPSTREAM_ERA', process.env.BENCH_UPSTREAM_ERA);
const transports = new Map<string, StreamableHTTPServerTransport>();

/** `stream` calls waiting for their release, and releases that came first; by progress token. */
const waiting = new Map<string, () => void>();
const released = new Set<string>();
const RELEASE_WAIT_MS = 30_000;
function release(token: string): void {
  const go = waiting.get(token);
  if (go) go();
  else released.add(token);
}
function whenReleased(token: string): Promise<void> {
  if (released.delete(token)) return Promise.resolve();
  return new Promise((resolve) => {
    // Never forever: a load generator that failed between the drop and the release must not leave calls behind.
    const timer = setTimeout(go, RELEASE_WAIT_MS);
    function go() {
      clearTimeout(timer);
      waiting.delete(token);
      resolve();
    }
    waiting.set(token, go);
  });
}

async function newSession(): Promise<StreamableHTTPServerTransport> {
  const mcp = new McpServer({ name: 'bench-upstream', version: '1' });
  mcp.registerTool('echo', { description: 'echo', inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
  mcp.registerTool('stream', { description: 'progress events, then an answer', inputSchema: { count: z.number().int().min(1).max(10_000) } }, async ({ count }, extra) => {
    const progressToken = extra._meta?.progressToken;
    if (progressToken === undefined) throw new Error('stream needs a progressToken');
    for (let i = 1; i <= count; i++) {
      await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: i, total: count, message: `event ${i} of ${count}` } });
      if (i === 1) await whenReleased(String(progressToken));
    }
    return { content: [{ type: 'text', text: `${count} events` }] };
  });
  const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    onsessioninitialized: (id) => void transports.set(id, t),
  });
  t.onclose = () => void (t.sessionId && transports.delete(t.sessionId));
  await mcp.connect(t);
  return t;
}

const legacyListener = async (req: http.IncomingMessage, res: http.ServerResponse) => {
  if (req.method === 'POST' && req.url?.startsWith('/release?')) {
    release(new URLSearchParams(req.url.slice('/release?'.length)).get('token') ?? '');
    return void res.writeHead(204).end();
  }
  try {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body: unknown = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    const sid = req.headers['mcp-session-id'];
    const known = typeof sid === 'string' ? transports.get(sid) : undefined;
    if (typeof sid === 'string' && !known) return void res.writeHead(404).end();
    await (known ?? (await newSession())).handleRequest(req, res, body);
  } catch {
    if (!res.headersSent) res.writeHead(400).end();
  }
};

function modernListener() {
  const handler = createMcpHandler(
    () => {
      const mcp = new ModernMcpServer({ name: 'bench-upstream', version: '2' });
      mcp.registerTool('echo', { description: 'echo', inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
      return mcp;
    },
    { legacy: 'reject' },
  );
  return fetchHandlerListener(handler.fetch);
}

const server = http.createServer(era === 'modern' ? modernListener() : legacyListener);
server.keepAliveTimeout = 120_000;
const listening = await listenOnLoopback(server, '/mcp');

serveBenchCommands({ url: listening.url, era }, { sessions: () => transports.size }, () => listening.close());
