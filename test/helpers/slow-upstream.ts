/**
 * An upstream MCP server (the SDK's `McpServer` over Streamable HTTP, one per session) whose only tool, `slow`,
 * returns when the test releases it: a tool call that is in flight for exactly as long as a test needs.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { listenOnLoopback } from './loopback-server.js';

export interface SlowUpstream {
  url: string;
  /** Resolves when a `slow` call has reached the upstream. */
  whenStarted: Promise<void>;
  /** Lets every `slow` call (current and future) return. */
  release(): void;
  close(): Promise<void>;
}

export const SLOW_RESULT = 'finished for real';

export async function startSlowUpstream(): Promise<SlowUpstream> {
  let started!: () => void;
  let release!: () => void;
  const whenStarted = new Promise<void>((r) => (started = r));
  const released = new Promise<void>((r) => (release = r));
  const sessions = new Map<string, StreamableHTTPServerTransport>();

  async function transportFor(sid: string | undefined): Promise<StreamableHTTPServerTransport | undefined> {
    if (sid) return sessions.get(sid);
    const mcp = new McpServer({ name: 'slow', version: '1.0.0' });
    mcp.registerTool('slow', { description: 'Returns when the test says so', inputSchema: {} }, async () => {
      started();
      await released;
      return { content: [{ type: 'text' as const, text: SLOW_RESULT }] };
    });
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, transport),
    });
    await mcp.connect(transport);
    return transport;
  }

  const server = http.createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body: unknown = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      const sid = req.headers['mcp-session-id'];
      const transport = await transportFor(typeof sid === 'string' ? sid : undefined);
      if (!transport) return void res.writeHead(404).end();
      await transport.handleRequest(req, res, body);
    })();
  });
  const lb = await listenOnLoopback(server, '/mcp');
  return { url: lb.url, whenStarted, release, close: lb.close };
}
