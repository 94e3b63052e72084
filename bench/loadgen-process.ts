/**
 * The load generator, in its own process so its CPU is measured apart from what it loads. Kept cheap on purpose:
 * raw `http.request` over a keep-alive Agent, bodies serialised once (only the request id is spliced in), and a
 * response parsed only as far as needed — the session id header, and the one JSON-RPC message that answers us.
 * Every MCP session sends its own `x-chat-id`, so the gateway never supersedes one bench session with another.
 */
import http from 'node:http';
import { percentile } from './harness.js';
import { serveBenchCommands } from './ipc.js';

const PROTOCOL = '2025-11-25';
const INIT_BODY = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'bench', version: '1' } } });
const INITIALIZED_BODY = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });
const LIST_BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
const CALL_HEAD = '{"jsonrpc":"2.0","id":';
const CALL_TAIL = ',"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}';

type Headers = Record<string, string>;
interface Target {
  host: string;
  port: number;
  path: string;
  agent: http.Agent;
}
interface McpSession {
  target: Target;
  headers: Headers;
  next: number;
}
interface Reply {
  status: number;
  sid: string | undefined;
  body: string;
}

const targets = new Map<string, Target>();
function target(url: string): Target {
  let t = targets.get(url);
  if (!t) {
    const u = new URL(url);
    t = { host: u.hostname, port: Number(u.port), path: u.pathname, agent: new http.Agent({ keepAlive: true, maxSockets: 64 }) };
    targets.set(url, t);
  }
  return t;
}

function post(t: Target, headers: Headers, body: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: t.host, port: t.port, path: t.path, method: 'POST', agent: t.agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sid: res.headers['mcp-session-id'] as string | undefined, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The JSON-RPC response with this id, from a JSON body or from the `data:` lines of an SSE body. */
function answer(reply: Reply, id: number): { result?: { isError?: boolean }; error?: unknown } {
  if (reply.status !== 200) throw new Error(`HTTP ${reply.status}: ${reply.body.slice(0, 200)}`);
  const candidates = reply.body.startsWith('{') ? [reply.body] : reply.body.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5));
  for (const c of candidates) {
    const m = JSON.parse(c) as { id?: unknown; result?: { isError?: boolean }; error?: unknown };
    if (m.id === id) {
      if (m.error !== undefined || !m.result) throw new Error(`JSON-RPC error: ${c.slice(0, 200)}`);
      return m;
    }
  }
  throw new Error(`no answer to request ${id}: ${reply.body.slice(0, 200)}`);
}

let chats = 0;
function baseHeaders(auth: string | undefined): Headers {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'x-chat-id': `bench-${process.pid}-${chats++}`,
    ...(auth ? { authorization: `Bearer ${auth}` } : {}),
  };
}

async function initialize(t: Target, auth: string | undefined): Promise<McpSession> {
  const base = baseHeaders(auth);
  const init = await post(t, base, INIT_BODY);
  answer(init, 0);
  if (!init.sid) throw new Error('initialize answered without Mcp-Session-Id');
  const headers = { ...base, 'mcp-session-id': init.sid, 'mcp-protocol-version': PROTOCOL };
  const done = await post(t, headers, INITIALIZED_BODY);
  if (done.status !== 202 && done.status !== 200) throw new Error(`notifications/initialized: HTTP ${done.status}`);
  return { target: t, headers, next: 2 };
}

async function listTools(s: McpSession): Promise<void> {
  const reply = await post(s.target, s.headers, LIST_BODY);
  answer(reply, 1);
  if (!reply.body.includes('"echo"')) throw new Error(`tools/list without echo: ${reply.body.slice(0, 200)}`);
}

async function callEcho(s: McpSession): Promise<void> {
  const id = s.next++;
  const r = answer(await post(s.target, s.headers, CALL_HEAD + id + CALL_TAIL), id);
  if (r.result?.isError) throw new Error('echo answered isError');
}

/** Runs `op` from `workers` loops until `ms` pass or `op` returns false; latencies of successful ops only. */
async function drive(workers: number, ms: number, op: (worker: number) => Promise<boolean>) {
  const latencies: number[] = [];
  const errors: string[] = [];
  let errorCount = 0;
  const t0 = performance.now();
  const until = t0 + ms;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (performance.now() < until) {
        const s = performance.now();
        try {
          if (!(await op(w))) return;
          latencies.push(performance.now() - s);
        } catch (err) {
          errorCount++;
          if (errors.length < 3) errors.push(err instanceof Error ? err.message : String(err));
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { ops: latencies.length, perSecond: latencies.length / seconds, seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors: errorCount, errorSamples: errors };
}

const callSessions = new Map<string, McpSession[]>();

/** Opens (once per `key`) `sessions` MCP sessions, then runs calls on them for `warmupMs` (`firstWarmupMs` the first time). */
async function prepareCalls(a: { key: string; url: string; auth?: string; sessions: number; warmupMs: number; firstWarmupMs: number }) {
  let sessions = callSessions.get(a.key);
  let warmupMs = a.warmupMs;
  if (!sessions) {
    const t = target(a.url);
    sessions = await Promise.all(Array.from({ length: a.sessions }, () => initialize(t, a.auth)));
    callSessions.set(a.key, sessions);
    warmupMs = a.firstWarmupMs;
  }
  const ready = sessions;
  return drive(ready.length, warmupMs, (w) => callEcho(ready[w]!).then(() => true));
}

/** `tools/call echo` from every session of `key`, one call in flight per session, for `ms`. */
function runCalls(a: { key: string; ms: number }) {
  const sessions = callSessions.get(a.key);
  if (!sessions) throw new Error(`prepareCalls ${a.key} first`);
  return drive(sessions.length, a.ms, (w) => callEcho(sessions[w]!).then(() => true));
}

/** Handshakes (initialize + initialized + tools/list); with `auths`, each uses the next token, until none is left. */
function handshakes(a: { url: string; auths?: string[]; workers: number; ms: number }) {
  const t = target(a.url);
  let used = 0;
  return drive(a.workers, a.ms, async () => {
    if (a.auths && used >= a.auths.length) return false;
    const s = await initialize(t, a.auths?.[used++]);
    await listTools(s);
    return true;
  }).then((r) => ({ ...r, exhausted: a.auths !== undefined && used >= a.auths.length }));
}

/** Opens `count` sessions that stay open (each optionally doing one `tools/call`), within `maxMs`. */
function openSessions(a: { url: string; auth?: string; count: number; workers: number; call: boolean; maxMs: number }) {
  const t = target(a.url);
  let started = 0;
  return drive(a.workers, a.maxMs, async () => {
    if (started >= a.count) return false;
    started++;
    const s = await initialize(t, a.auth);
    if (a.call) await callEcho(s);
    return true;
  });
}

serveBenchCommands({ pid: process.pid }, { prepareCalls, runCalls, handshakes, openSessions });
