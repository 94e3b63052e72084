/**
 * docs/architecture.md §Replicas, end to end: three gateway processes (`switchboard start`, real child processes) on
 * one PostgreSQL, behind a balancer that sends every request to the next replica in turn (no affinity), and a tool
 * server that asks the client things mid-call. Elicitation and sampling answered through other replicas (a real SDK
 * client; a 2026-07-28 client through `input_required`), a response stream cut mid-call and resumed elsewhere with no
 * gap and no duplicate, the replica holding a call SIGKILLed (error within 5 s, never a hang), a notification
 * produced on one replica reaching the GET stream held by another.
 */
import http from 'node:http';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { startUpstream, type UpstreamFixture } from '../fixtures/upstream-server.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';
import { createSecretBox } from '../../src/security/secret-box.js';
import { createKeyStore } from '../../src/authserver/signing-keys.js';
import { issueAccessToken } from '../../src/authserver/access-token.js';
import { createUserDirectory } from '../../src/teams/users.js';
import { LOCAL_ISSUER } from '../../src/teams/users.js';
import { teamResource } from '../../src/auth/protected-resource.js';
import { SseReader, type SseEvent } from '../helpers/sse.js';

const root = path.resolve(import.meta.dirname, '../..');
const KEY = randomBytes(32);

interface Replica {
  port: number;
  child: ChildProcess;
  stderr: string;
}

/** Sends each request to the next live replica; `x-test-tag` records which one served it. Cuts both ways. */
async function startBalancer(replicas: Replica[]) {
  let next = 0;
  const tagged = new Map<string, Replica>();
  const server = http.createServer((req, res) => {
    const live = replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
    const target = live[next++ % live.length]!;
    const tag = req.headers['x-test-tag'];
    if (typeof tag === 'string') tagged.set(tag, target);
    const out = http.request({ host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: req.headers, agent: false }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      res.flushHeaders(); // a stream that has sent nothing yet (a GET stream) is open all the same
      r.pipe(res);
      r.on('error', () => res.destroy());
      r.on('aborted', () => res.destroy());
    });
    out.on('error', () => res.destroy());
    res.on('close', () => out.destroy());
    req.pipe(out);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, tagged, close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe.skipIf(!TEST_DATABASE_URL)('three gateway processes behind a round-robin balancer (needs TEST_DATABASE_URL)', () => {
  let tdb: TestDatabase;
  let up: UpstreamFixture;
  const replicas: Replica[] = [];
  let lb: Awaited<ReturnType<typeof startBalancer>>;
  let token: string;
  const endpoint = () => `${lb.url}/t/tri/mcp`;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    up = await startUpstream('up');
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    for (const port of ports) replicas.push({ port, child: undefined as unknown as ChildProcess, stderr: '' });
    lb = await startBalancer(replicas);
    for (const r of replicas) {
      const env = { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', DATABASE_URL: tdb.url!, ENCRYPTION_KEY: KEY.toString('base64'), PORT: String(r.port), PUBLIC_URL: lb.url, LOG_LEVEL: 'warn' };
      r.child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/index.ts'), 'start'], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
      r.child.stderr!.on('data', (d: Buffer) => (r.stderr += d.toString()));
    }
    for (const r of replicas) {
      await vi.waitFor(
        async () => {
          if (r.child.exitCode !== null) throw new Error(`a replica exited early: ${r.stderr}`);
          expect((await fetch(`http://127.0.0.1:${r.port}/ready`)).status).toBe(200);
        },
        { timeout: 120_000, interval: 250 },
      );
    }
    const box = createSecretBox(KEY);
    const team = await createTeam(tdb.db.prisma, { slug: 'tri', name: 'Three' });
    await addToolServer(tdb.db.prisma, box, team.id, { name: 'up', kind: 'remote', url: up.url });
    const user = await createUserDirectory(tdb.db.prisma).upsert(LOCAL_ISSUER, 'tri@example.com', 'tri@example.com');
    token = await issueAccessToken(createKeyStore({ prisma: tdb.db.prisma, box }), { issuer: lb.url, subject: user.id, audience: teamResource(lb.url, 'tri'), clientId: 'tri-client', scope: 'mcp', email: 'tri@example.com' });
  }, 180_000);
  afterAll(async () => {
    for (const r of replicas) r.child?.kill('SIGKILL');
    await lb?.close();
    await up?.close();
    await tdb?.drop();
  });

  const LEGACY = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(endpoint(), { method: 'POST', headers: { ...LEGACY, authorization: `Bearer ${token}`, ...headers }, body: JSON.stringify(body) });
  const resume = (sid: string, last: string) =>
    fetch(endpoint(), { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25', 'last-event-id': last } });
  async function session(): Promise<string> {
    const init = await post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    const sid = init.headers.get('mcp-session-id')!;
    await init.text();
    return sid;
  }
  const drops = (events: SseEvent[]) => events.filter((e) => e.message?.method === 'notifications/message').map((e) => String((e.message!.params as { data: string }).data).slice(0, 7));

  it('an SDK client answers elicitation and sampling, each answer reaching another replica than the call', async () => {
    const client = new Client({ name: 'sdk', version: '1' }, { capabilities: { elicitation: {}, sampling: {} } });
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { name: 'Tri' } }));
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: 'assistant', content: { type: 'text', text: 'Oslo' }, model: 'm', stopReason: 'endTurn' }));
    await client.connect(new StreamableHTTPClientTransport(new URL(endpoint()), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    for (let i = 0; i < 3; i++) {
      expect((await client.callTool({ name: 'up__ask', arguments: {} })).content).toEqual([{ type: 'text', text: 'elicited: accept {"name":"Tri"}' }]);
      expect((await client.callTool({ name: 'up__sample', arguments: { prompt: 'Capital?' } })).content).toEqual([{ type: 'text', text: 'sampled: Oslo' }]);
    }
    await client.close();
  });

  it('a 2026-07-28 client: input_required on one replica, the retry on the next, completes', async () => {
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } };
    const call = async (id: number, extra: Record<string, unknown> = {}) => {
      const r = await fetch(endpoint(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'up__ask', authorization: `Bearer ${token}` },
        body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'up__ask', arguments: {}, _meta: meta, ...extra } }),
      });
      return (await r.json()) as { result: Record<string, unknown> };
    };
    for (let round = 0; round < 3; round++) {
      const first = await call(1);
      expect(first.result.resultType).toBe('input_required');
      const key = Object.keys(first.result.inputRequests as object)[0]!;
      const done = await call(2, { requestState: first.result.requestState, inputResponses: { [key]: { action: 'accept', content: { name: `R${round}` } } } });
      expect(done.result).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: `elicited: accept {"name":"R${round}"}` }] });
    }
  });

  it('a response stream cut mid-call resumes on another replica: no gap, no duplicate, then the answer', async () => {
    const sid = await session();
    const first = new SseReader(await post({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'up__drip', arguments: { count: 6, gapMs: 150 } } }, { 'mcp-session-id': sid }));
    await first.next((e) => e.message?.method === 'notifications/message');
    const last = (await first.next((e) => e.message?.method === 'notifications/message'))!;
    await first.cancel();
    const replay = new SseReader(await resume(sid, last.id!));
    expect((await replay.next((e) => e.message?.id === 5))!.message!.result).toMatchObject({ content: [{ type: 'text', text: 'dripped 6' }] });
    expect([...drops(first.events), ...drops(replay.events)]).toEqual(['drop 1', 'drop 2', 'drop 3', 'drop 4', 'drop 5', 'drop 6']);
  });

  it('a GET stream held by one replica receives a notification produced on another', async () => {
    const sid = await session();
    const get = new SseReader(await fetch(endpoint(), { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' } }));
    // Every replica holds the session and its tool server's session (each request went to the next one).
    for (let i = 0; i < 3; i++) await (await post({ jsonrpc: '2.0', id: 10 + i, method: 'tools/call', params: { name: 'up__echo', arguments: { text: 'x' } } }, { 'mcp-session-id': sid })).text();
    // The replica holding the GET opens an upstream stream for the session once it learns of an upstream session
    // (its own, or one another replica announces): that happens in the background; the measure starts once it did.
    const streams = () => [...up.openStreams.values()].reduce((n, v) => n + v, 0);
    await vi.waitFor(() => expect(streams()).toBeGreaterThan(0), { timeout: 5_000 });
    const started = Date.now();
    up.announceToolsChanged();
    await get.next((e) => e.message?.method === 'notifications/tools/list_changed', 3_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    await get.cancel();
  });

  it('the replica holding a call is SIGKILLed: the client resuming elsewhere gets an error within 5 s', async () => {
    const sid = await session();
    const first = new SseReader(await post({ jsonrpc: '2.0', id: 'doomed', method: 'tools/call', params: { name: 'up__drip', arguments: { count: 40, gapMs: 200 } } }, { 'mcp-session-id': sid, 'x-test-tag': 'doomed' }));
    const last = (await first.next((e) => e.message?.method === 'notifications/message'))!;
    const holder = lb.tagged.get('doomed')!;
    holder.child.kill('SIGKILL');
    const killed = Date.now();
    await first.rest().catch(() => undefined); // the balancer drops the stream with its replica
    const replay = new SseReader(await resume(sid, last.id!));
    const end = (await replay.next((e) => e.message?.id === 'doomed', 8_000))!;
    expect(end.message!.error).toMatchObject({ code: -32603 });
    expect(Date.now() - killed).toBeLessThan(5_000);
  });
});
