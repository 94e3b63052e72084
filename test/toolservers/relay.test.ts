/**
 * The relay (docs/architecture.md §The relay) against a hand-written upstream that answers the way real servers may
 * and the SDK's own server never does: events with CRLF line endings cut in the middle, a priming event without data,
 * an event of another type, data over two lines, a plain JSON answer, an HTTP 500 with a body, no answer at all.
 * A real SDK client talks to the gateway; the upstream records every message it receives.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from '@modelcontextprotocol/client';
import { tokenFor, useTestGateway } from '../helpers/gateway.js';
import { connectClient, rawPost } from '../helpers/mcp-client.js';
import { listenOnLoopback, type LoopbackServer } from '../helpers/loopback-server.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';

// A short resumption grace: a client that goes away and does not come back is cancelled after it.
const t = useTestGateway({ upstreamTimeouts: { callMs: 1_500, maxCallMs: 4_000 }, resumeGraceMs: 200 });

interface Seen {
  id?: string | number;
  method?: string;
  params?: { name?: string; uri?: string; ref?: { name?: string; uri?: string }; argument?: { value?: string }; arguments?: Record<string, string>; requestId?: unknown; _meta?: Record<string, unknown> };
}

const seen: Seen[] = [];
/** Event id of a `poll` call's priming event → the request id to answer when the stream is resumed from it. */
const polls = new Map<string, string | number>();
const resumedWith: string[] = [];
let upstream: LoopbackServer;

/** Writes `text` in pieces of `size` bytes (cutting characters too), a turn of the event loop apart. */
async function writeInPieces(res: http.ServerResponse, text: string, size: number): Promise<void> {
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) {
    res.write(bytes.subarray(i, i + size));
    await new Promise((r) => setImmediate(r));
  }
}

function startRawUpstream(): Promise<LoopbackServer> {
  const server = http.createServer((req, res) => {
    void (async () => {
      if (req.method === 'GET') {
        // Only the resumption of a `poll` call's stream (Last-Event-ID); no standalone stream.
        const last = req.headers['last-event-id'];
        const pending = typeof last === 'string' ? polls.get(last) : undefined;
        if (!pending) return void res.writeHead(405).end();
        resumedWith.push(last as string);
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        return void res.end(`id: ${last}-2\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: pending, result: { content: [{ type: 'text', text: 'after a pause' }] } })}\n\n`);
      }
      if (req.method === 'DELETE') return void res.writeHead(200).end();
      let text = '';
      for await (const c of req) text += String(c);
      const m = JSON.parse(text) as Seen;
      seen.push(m);
      if (m.method === 'initialize') {
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'raw-session' });
        const capabilities = { tools: {}, prompts: {}, resources: {}, completions: {} };
        return void res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-11-25', capabilities, serverInfo: { name: 'raw', version: '1' } } }));
      }
      if (m.id === undefined) return void res.writeHead(202).end();
      if (req.headers['mcp-session-id'] !== 'raw-session') return void res.writeHead(400).end('no session');
      const json = (body: object) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, ...body }));
      };
      switch (m.method) {
        case 'prompts/get': {
          if (m.params?.name === 'fail') return void res.writeHead(500, { 'content-type': 'text/plain' }).end('secret-internal-detail');
          if (m.params?.name !== 'greet') return json({ error: { code: -32602, message: `no prompt ${m.params?.name}` } });
          // On an event stream, with progress first (the client's own token: the relay passes `_meta` as it is).
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          const progress = { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: m.params._meta?.progressToken, progress: 1 } };
          const answer = { jsonrpc: '2.0', id: m.id, result: { messages: [{ role: 'user', content: { type: 'text', text: `hello ${m.params.arguments?.who}` } }] } };
          return void res.end(`data: ${JSON.stringify(progress)}\n\ndata: ${JSON.stringify(answer)}\n\n`);
        }
        case 'resources/read':
          return json({ result: { contents: [{ uri: m.params?.uri, text: 'the doc' }, { uri: `${m.params?.uri}#part`, text: 'a part' }] } });
        case 'completion/complete':
          return json({ result: { completion: { values: [`${m.params?.ref?.name ?? m.params?.ref?.uri}:${m.params?.argument?.value}`], hasMore: false } } });
      }
      const answer = (text: string) => JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text }] } });
      switch (m.params?.name) {
        case 'sse': {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          const progress = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: m.params._meta?.progressToken, progress: 1, total: 2 } });
          const whole = answer('über sse');
          const [head, tail] = [whole.slice(0, whole.indexOf(',') + 1), whole.slice(whole.indexOf(',') + 1)]; // JSON allows a line break there
          const stream = `id: prime\r\ndata:\r\n\r\n: a comment\r\n\r\nevent: ping\r\ndata: {"not":"for the client"}\r\n\r\nevent: message\r\ndata: ${progress}\r\n\r\ndata: ${head}\r\ndata: ${tail}\r\n\r\n`;
          await writeInPieces(res, stream, 1);
          return void res.end();
        }
        case 'json':
          res.writeHead(200, { 'content-type': 'application/json' });
          return void res.end(answer('plain json'));
        case 'steady': {
          // Longer than the call's idle budget (1.5 s) in all, with progress more often than that.
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          for (let i = 1; i <= 4; i++) {
            await new Promise((r) => setTimeout(r, 600));
            res.write(`data: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: m.params._meta?.progressToken ?? 0, progress: i } })}\n\n`);
          }
          return void res.end(`data: ${answer('kept going')}\n\n`);
        }
        case 'fail':
          res.writeHead(500, { 'content-type': 'text/plain' });
          return void res.end('secret-internal-detail');
        case 'poll': {
          // 2025-11-25 SSE polling: a priming event with an id and a retry hint, then the stream closes unanswered.
          const eventId = `poll-${polls.size + 1}`;
          polls.set(eventId, m.id!);
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          return void res.end(`id: ${eventId}\nretry: 50\ndata:\n\n`);
        }
        case 'hang':
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          return void res.write(': waiting\n\n'); // and never answers
        default:
          res.writeHead(200, { 'content-type': 'application/json' });
          return void res.end(JSON.stringify({ jsonrpc: '2.0', id: m.id, error: { code: -32602, message: `no tool ${m.params?.name}` } }));
      }
    })();
  });
  return listenOnLoopback(server, '/mcp');
}

let client: Client;
let token: string;

beforeAll(async () => {
  upstream = await startRawUpstream();
  const team = await createTeam(t.tdb.db.prisma, { slug: 'relay', name: 'Relay' });
  await addToolServer(t.tdb.db.prisma, t.gw.app.box, team.id, { name: 'raw', kind: 'remote', url: upstream.url, auth: { mode: 'none' } });
  ({ token } = await tokenFor(t.gw, { email: 'relay@example.com', team: 'relay' }));
  ({ client } = await connectClient(`${t.gw.url}/t/relay/mcp`, token));
});
afterAll(async () => {
  await client?.close();
  await upstream?.close();
});

const textOf = (r: unknown) => (r as { content: { text?: string }[] }).content[0]?.text;
const callsSeen = (name: string) => seen.filter((m) => m.method === 'tools/call' && m.params?.name === name);

describe('the relay', () => {
  it('reads an event stream cut anywhere, with CRLF, a priming event, other event types and data over two lines', async () => {
    const progress: unknown[] = [];
    const r = await client.callTool({ name: 'raw__sse', arguments: {} }, undefined, { onprogress: (p) => void progress.push(p) });
    expect(textOf(r)).toBe('über sse');
    expect(progress).toEqual([{ progress: 1, total: 2 }]);
  });

  it('sends the upstream its own request id and the tool’s own name, and gives the client its id back', async () => {
    const res = await rawPost(`${t.gw.url}/t/relay/mcp`, { jsonrpc: '2.0', id: 0, method: 'tools/call', params: { name: 'raw__json', arguments: {} } }, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain('"id":0');
    expect(body).toContain('plain json');
    // Answered at once: the whole event stream in one piece, with its length (no chunked framing).
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(res.headers.get('transfer-encoding')).toBeNull();
    const upstreamIds = callsSeen('json').map((m) => m.id);
    expect(upstreamIds.length).toBe(1);
    expect(upstreamIds[0]).toMatch(/^sb-\d+$/);
  });

  it('resumes a stream the upstream closed before answering (SSE polling) from its last event id', async () => {
    const r = await client.callTool({ name: 'raw__poll', arguments: {} });
    expect(textOf(r)).toBe('after a pause');
    expect(resumedWith).toEqual(['poll-1']);
  });

  it('passes an error the upstream answers with through unchanged', async () => {
    await expect(client.callTool({ name: 'raw__nope', arguments: {} })).rejects.toThrow(/no tool nope/);
  });

  it('turns an HTTP error into a tool error naming the server, without the upstream’s text', async () => {
    const r = await client.callTool({ name: 'raw__fail', arguments: {} });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toBe('Tool server raw failed: answered HTTP 500 (details are in the gateway log)');
    expect(JSON.stringify(r)).not.toContain('secret-internal-detail');
  });

  it('gives a call that keeps sending progress more than its idle budget: every message starts it again', async () => {
    const started = Date.now();
    const r = await client.callTool({ name: 'raw__steady', arguments: {} }, undefined, { onprogress: () => undefined });
    expect(textOf(r)).toBe('kept going');
    expect(Date.now() - started).toBeGreaterThan(2_000);
  });

  it('times out a call the upstream never answers, and tells the upstream it gave up', async () => {
    const started = Date.now();
    const r = await client.callTool({ name: 'raw__hang', arguments: {} });
    expect(textOf(r)).toBe('Tool server raw failed: timed out (details are in the gateway log)');
    expect(Date.now() - started).toBeLessThan(5_000);
    const call = callsSeen('hang').at(-1)!;
    await expect.poll(() => seen.some((m) => m.method === 'notifications/cancelled' && m.params?.requestId === call.id)).toBe(true);
    await t.gw.app.audit.flush();
    const audit = await t.tdb.db.prisma.auditRecord.findFirstOrThrow({ where: { target: 'raw__hang' } });
    expect(audit.outcome).toBe('upstream_error');
  });

  it('cancels the upstream call when the client goes away and does not resume its stream', async () => {
    const before = callsSeen('hang').length;
    const ac = new AbortController();
    const sessionId = (client.transport as { sessionId?: string } | undefined)?.sessionId;
    const pending = fetch(`${t.gw.url}/t/relay/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}`, ...(sessionId ? { 'mcp-session-id': sessionId } : {}) },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'going', method: 'tools/call', params: { name: 'raw__hang', arguments: {} } }),
      signal: ac.signal,
    }).catch(() => undefined);
    await expect.poll(() => callsSeen('hang').length).toBe(before + 1);
    ac.abort();
    await pending;
    const call = callsSeen('hang').at(-1)!;
    await expect.poll(() => seen.some((m) => m.method === 'notifications/cancelled' && m.params?.requestId === call.id), { timeout: 1_000 }).toBe(true);
  });

  it('forwards prompts/get, resources/read and completion/complete too: the tool server’s own names and URIs there, the client’s here', async () => {
    const requestsSeen = (method: string) => seen.filter((m) => m.method === method);
    const progress: unknown[] = [];
    const prompt = await client.getPrompt({ name: 'raw__greet', arguments: { who: 'Ada' } }, { onprogress: (p) => void progress.push(p) });
    expect(prompt.messages[0]!.content).toEqual({ type: 'text', text: 'hello Ada' });
    expect(progress).toEqual([{ progress: 1 }]);
    const resource = await client.readResource({ uri: 'switchboard://raw/raw%3A%2F%2Fdoc' });
    expect(resource.contents.map((c) => c.uri)).toEqual(['switchboard://raw/raw%3A%2F%2Fdoc', 'switchboard://raw/raw%3A%2F%2Fdoc%23part']);
    const completion = await client.complete({ ref: { type: 'ref/prompt', name: 'raw__greet' }, argument: { name: 'who', value: 'A' } });
    expect(completion.completion.values).toEqual(['greet:A']);

    // Each went out once, with the relay's own request id (the SDK client numbers its requests) and unwrapped.
    const [get] = requestsSeen('prompts/get');
    const [read] = requestsSeen('resources/read');
    const [complete] = requestsSeen('completion/complete');
    expect([get?.id, read?.id, complete?.id]).toEqual([expect.stringMatching(/^sb-\d+$/), expect.stringMatching(/^sb-\d+$/), expect.stringMatching(/^sb-\d+$/)]);
    expect([get?.params?.name, read?.params?.uri, complete?.params?.ref?.name]).toEqual(['greet', 'raw://doc', 'greet']);
  });

  it('answers those with a JSON-RPC error naming a failed tool server, and passes the tool server’s own error as it is', async () => {
    const sessionId = (client.transport as { sessionId?: string } | undefined)?.sessionId;
    const headers = { authorization: `Bearer ${token}`, 'mcp-session-id': sessionId!, 'mcp-protocol-version': '2025-11-25' };
    const errorOf = async (body: object) => {
      const text = await (await rawPost(`${t.gw.url}/t/relay/mcp`, { jsonrpc: '2.0', ...body }, headers)).text();
      return (JSON.parse(text.split('\n').find((l) => l.startsWith('data: {'))!.slice(6)) as { error?: unknown }).error;
    };
    const failed = await errorOf({ id: 'f', method: 'prompts/get', params: { name: 'raw__fail' } });
    expect(failed).toEqual({ code: -32603, message: 'MCP error -32603: Tool server raw failed: answered HTTP 500 (details are in the gateway log)' });
    expect(JSON.stringify(failed)).not.toContain('secret');
    expect(await errorOf({ id: 'n', method: 'prompts/get', params: { name: 'raw__nope' } })).toEqual({ code: -32602, message: 'no prompt nope' });
    expect(seen.filter((m) => m.method === 'prompts/get' && m.params?.name === 'nope').map((m) => m.id)).toEqual([expect.stringMatching(/^sb-\d+$/)]);
  });

  it('forwards them for a 2026-07-28 client as well', async () => {
    const before = seen.length;
    const modern = new ModernClient({ name: 'v2-auto', version: '2' }, { versionNegotiation: { mode: 'auto' } });
    await modern.connect(new ModernTransport(new URL(`${t.gw.url}/t/relay/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    expect(modern.getProtocolEra()).toBe('modern');
    expect((await modern.getPrompt({ name: 'raw__greet', arguments: { who: 'Bo' } })).messages[0]!.content).toEqual({ type: 'text', text: 'hello Bo' });
    expect((await modern.readResource({ uri: 'switchboard://raw/raw%3A%2F%2Fdoc' })).contents[0]!.uri).toBe('switchboard://raw/raw%3A%2F%2Fdoc');
    expect((await modern.complete({ ref: { type: 'ref/resource', uri: 'switchboard://raw/raw%3A%2F%2F%7Bid%7D' }, argument: { name: 'id', value: 'x' } })).completion.values).toEqual(['raw://{id}:x']);
    const relayed = seen.slice(before).filter((m) => m.method === 'prompts/get' || m.method === 'resources/read' || m.method === 'completion/complete');
    expect(relayed.map((m) => [m.method, typeof m.id === 'string' && m.id.startsWith('sb-')])).toEqual([
      ['prompts/get', true],
      ['resources/read', true],
      ['completion/complete', true],
    ]);
    await modern.close();
  });

  it('routes a completion in a batch (the front end’s path) the same way: the prompt’s own name upstream', async () => {
    const sessionId = (client.transport as { sessionId?: string } | undefined)?.sessionId;
    const headers = { authorization: `Bearer ${token}`, 'mcp-session-id': sessionId!, 'mcp-protocol-version': '2025-03-26' };
    const batch = [{ jsonrpc: '2.0', id: 'b1', method: 'completion/complete', params: { ref: { type: 'ref/prompt', name: 'raw__greet' }, argument: { name: 'who', value: 'Z' } } }];
    const text = await (await rawPost(`${t.gw.url}/t/relay/mcp`, batch, headers)).text();
    expect(text).toContain('"values":["greet:Z"]');
    const upstreamSeen = seen.filter((m) => m.method === 'completion/complete' && m.params?.argument?.value === 'Z');
    expect(upstreamSeen.map((m) => m.params?.ref?.name)).toEqual(['greet']);
  });
});

