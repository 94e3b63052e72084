/**
 * The bench's upstream, in its own process: the SDK's `McpServer` with one `echo` tool over stateful Streamable
 * HTTP, no auth — what every scenario (directly, through nginx, through the gateway) ends at.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { listenOnLoopback } from '../test/helpers/loopback-server.js';
import { serveBenchCommands } from './ipc.js';

const transports = new Map<string, StreamableHTTPServerTransport>();

async function newSession(): Promise<StreamableHTTPServerTransport> {
  const mcp = new McpServer({ name: 'bench-upstream', version: '1' });
  mcp.registerTool('echo', { description: 'echo', inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
  const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    onsessioninitialized: (id) => void transports.set(id, t),
  });
  t.onclose = () => void (t.sessionId && transports.delete(t.sessionId));
  await mcp.connect(t);
  return t;
}

const server = http.createServer(async (req, res) => {
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
});
server.keepAliveTimeout = 120_000;
const listening = await listenOnLoopback(server, '/mcp');

serveBenchCommands({ url: listening.url }, { sessions: () => transports.size }, () => listening.close());
