/**
 * The load generator, in its own process so its CPU is measured apart from what it loads. Kept cheap on purpose:
 * raw `http.request` over a keep-alive Agent, bodies serialised once (only the request id is spliced in), and a
 * response parsed only as far as needed — the session id header, and the one JSON-RPC message that answers us.
 * Every MCP session sends its own `x-chat-id`, so the gateway never supersedes one bench session with another.
 * Each command names the protocol era to speak (`mcp-requests.ts`): a legacy session is opened with `initialize`;
 * a modern one is a chat, opened by nothing (its `server/discover` probe, as a client sends once, is not measured).
 */
import http from 'node:http';
import { percentile } from './harness.js';
import { serveBenchCommands } from './ipc.js';
import { answer, callBody, DISCOVER_BODY, firstEventId, INIT_BODY, INITIALIZED_BODY, LEGACY_PROTOCOL, listBody, modernHeaders, resumedStream, streamBody, type BenchEra, type Reply } from './mcp-requests.js';

type Headers = Record<string, string>;
interface Target {
  host: string;
  port: number;
  path: string;
  agent: http.Agent;
}
interface McpSession {
  era: BenchEra;
  target: Target;
  /** The headers of its `tools/call` requests (and, legacy, of every request). */
  headers: Headers;
  /** Modern: the headers of its `tools/list` requests. */
  listHeaders: Headers;
  next: number;
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

/** A GET read to its end; `onHeaders` runs when its status line and headers have arrived. */
function get(t: Target, headers: Headers, onHeaders: () => void = () => undefined): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: t.host, port: t.port, path: t.path, method: 'GET', agent: t.agent, headers }, (res) => {
      onHeaders();
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sid: undefined, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** POSTs `body` and drops the connection once the first event with data has arrived; resolves with that event's id. */
function postUntilFirstEvent(t: Target, headers: Headers, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let done = false;
    const req = http.request({ host: t.host, port: t.port, path: t.path, method: 'POST', agent: t.agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
        const id = done ? undefined : firstEventId(text);
        if (id === undefined) return;
        done = true;
        resolve(id);
        req.destroy(); // the client loses its stream: what follows goes to the gateway's event store
      });
      res.on('end', () => done || reject(new Error(`HTTP ${res.statusCode}: stream ended before its first event: ${text.slice(0, 200)}`)));
      res.on('error', (err) => done || reject(err));
    });
    req.on('error', (err) => done || reject(err));
    req.end(body);
  });
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

/** A session of `era`: legacy, `initialize` + `notifications/initialized`; modern, a new chat and nothing sent. */
async function initialize(era: BenchEra, t: Target, auth: string | undefined): Promise<McpSession> {
  const base = baseHeaders(auth);
  if (era === 'modern') return { era, target: t, headers: modernHeaders(base, 'tools/call', 'echo'), listHeaders: modernHeaders(base, 'tools/list'), next: 2 };
  const init = await post(t, base, INIT_BODY);
  answer(init, 0);
  if (!init.sid) throw new Error('initialize answered without Mcp-Session-Id');
  const headers = { ...base, 'mcp-session-id': init.sid, 'mcp-protocol-version': LEGACY_PROTOCOL };
  const done = await post(t, headers, INITIALIZED_BODY);
  if (done.status !== 202 && done.status !== 200) throw new Error(`notifications/initialized: HTTP ${done.status}`);
  return { era, target: t, headers, listHeaders: headers, next: 2 };
}

/** A modern client's first request to a server: `server/discover` (once per client, so outside measured loops). */
async function discover(t: Target, auth: string | undefined): Promise<void> {
  answer(await post(t, modernHeaders(baseHeaders(auth), 'server/discover'), DISCOVER_BODY), 0);
}

async function listTools(s: McpSession): Promise<void> {
  const reply = await post(s.target, s.listHeaders, listBody(s.era));
  answer(reply, 1);
  if (!reply.body.includes('"echo"')) throw new Error(`tools/list without echo: ${reply.body.slice(0, 200)}`);
}

async function callEcho(s: McpSession): Promise<void> {
  const id = s.next++;
  const r = answer(await post(s.target, s.headers, callBody(s.era, id)), id);
  if (r.result?.isError) throw new Error('echo answered isError');
}

/** Tells the upstream's `stream` call with this progress token to go on (`upstream-process.ts`). */
const releaser = new http.Agent({ keepAlive: true, maxSockets: 16 });
function releaseStream(releaseUrl: URL, token: string): void {
  const req = http.request({ host: releaseUrl.hostname, port: releaseUrl.port, path: `/release?token=${encodeURIComponent(token)}`, method: 'POST', agent: releaser }, (res) => res.resume());
  req.on('error', (err) => console.error('bench loadgen: could not release a stream call', err));
  req.end();
}

/**
 * The events phase's call: `tools/call stream`, its response stream dropped after the first event, then resumed with
 * `GET` + `Last-Event-ID` (through a balancer, on any replica) and read to the answer. The upstream sends the rest
 * only once the resuming GET is being answered (its headers are here), so they reach a cut stream whatever the
 * machine's load. Returns the events received.
 */
let tokens = 0;
async function callStream(s: McpSession, count: number, releaseUrl: URL): Promise<number> {
  const id = s.next++;
  const token = `${process.pid}.${++tokens}`;
  const last = await postUntilFirstEvent(s.target, s.headers, streamBody(id, count, token));
  const reply = await get(s.target, { ...s.headers, accept: 'text/event-stream', 'last-event-id': last }, () => releaseStream(releaseUrl, token));
  const { progress } = resumedStream(reply, id);
  if (progress !== count - 1) throw new Error(`resumed stream carried ${progress} of the ${count - 1} progress events after the first`);
  return count + 1;
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
async function prepareCalls(a: { key: string; era: BenchEra; url: string; auth?: string; sessions: number; warmupMs: number; firstWarmupMs: number }) {
  let sessions = callSessions.get(a.key);
  let warmupMs = a.warmupMs;
  if (!sessions) {
    const t = target(a.url);
    if (a.era === 'modern') await discover(t, a.auth);
    sessions = await Promise.all(Array.from({ length: a.sessions }, () => initialize(a.era, t, a.auth)));
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

/**
 * Handshakes — legacy: initialize + initialized + tools/list; modern: what a new client does first, server/discover
 * + tools/list — with `auths`, each uses the next token, until none is left.
 */
function handshakes(a: { era: BenchEra; url: string; auths?: string[]; workers: number; ms: number }) {
  const t = target(a.url);
  let used = 0;
  return drive(a.workers, a.ms, async () => {
    if (a.auths && used >= a.auths.length) return false;
    const auth = a.auths?.[used++];
    if (a.era === 'modern') await discover(t, auth);
    const s = await initialize(a.era, t, auth);
    await listTools(s);
    return true;
  }).then((r) => ({ ...r, exhausted: a.auths !== undefined && used >= a.auths.length }));
}

/**
 * Opens `count` sessions that stay open (each optionally doing one `tools/call`), within `maxMs`. A modern session
 * exists once it made a request: without a call it lists the tools.
 */
function openSessions(a: { era: BenchEra; url: string; auth?: string; count: number; workers: number; call: boolean; maxMs: number }) {
  const t = target(a.url);
  let started = 0;
  return drive(a.workers, a.maxMs, async () => {
    if (started >= a.count) return false;
    started++;
    const s = await initialize(a.era, t, a.auth);
    if (a.call) await callEcho(s);
    else if (a.era === 'modern') await listTools(s);
    return true;
  });
}

const streamSessions = new Map<string, McpSession[]>();

/**
 * `sessions` legacy sessions for the events phase (once per `key`), warmed up by `warmupMs` of stream calls. Its own
 * sessions: a stream call drops connections, which the `tools/call` sessions' keep-alive sockets should not see.
 */
async function prepareStreams(a: { key: string; url: string; auth?: string; sessions: number; count: number; release: string; warmupMs: number }) {
  let sessions = streamSessions.get(a.key);
  if (!sessions) {
    const t: Target = { ...target(a.url), agent: new http.Agent({ keepAlive: true, maxSockets: 64 }) };
    sessions = await Promise.all(Array.from({ length: a.sessions }, () => initialize('legacy', t, a.auth)));
    streamSessions.set(a.key, sessions);
  }
  const ready = sessions;
  return drive(ready.length, a.warmupMs, (w) => callStream(ready[w]!, a.count, new URL(a.release)).then(() => true));
}

/** Stream calls (each dropped and resumed) from every events session of `key` for `ms`; `events`: all received. */
async function runStreams(a: { key: string; count: number; release: string; ms: number }) {
  const sessions = streamSessions.get(a.key);
  if (!sessions) throw new Error(`prepareStreams ${a.key} first`);
  let events = 0;
  const release = new URL(a.release);
  const r = await drive(sessions.length, a.ms, (w) => callStream(sessions[w]!, a.count, release).then((n) => ((events += n), true)));
  return { ...r, events };
}

serveBenchCommands({ pid: process.pid }, { prepareCalls, runCalls, handshakes, openSessions, prepareStreams, runStreams });
