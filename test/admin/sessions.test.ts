/**
 * Issue #5 "Sessions": every user's sessions, created by real SDK clients, listed and filtered through the admin API;
 * keyset pages without duplicates or gaps while sessions keep appearing; DELETE ends a session for good — the
 * client's next request gets 404 and its open stream ends, on this process and on a second replica.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { TEST_DATABASE_URL } from '../helpers/database.js';
import { startTestGateway, tokenFor, type TestGateway } from '../helpers/gateway.js';
import { connectClient, rawPost, INIT } from '../helpers/mcp-client.js';
import { sessionJson } from '../../src/admin/response-schemas.js';
import { startAdminFixture, type AdminFixture } from './admin-fixture.js';

let f: AdminFixture;
const clients: Client[] = [];

beforeAll(async () => {
  f = await startAdminFixture();
});
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await f?.close();
});

async function member(email: string, team: 'acme' | 'globex') {
  const t = await tokenFor(f.gw, { email, team });
  const teamId = team === 'acme' ? f.acme.id : f.globex.id;
  await f.tdb.db.prisma.membership.upsert({ where: { teamId_userId: { teamId, userId: t.userId } }, create: { teamId, userId: t.userId }, update: {} });
  return t;
}

/** A real SDK client session; returns its id. */
async function open(gw: TestGateway, team: string, email: string, opts: { chat?: string; clientId?: string } = {}) {
  const { token } = await tokenFor(gw, { email, team, ...(opts.clientId ? { clientId: opts.clientId } : {}) });
  const { client, transport } = await connectClient(`${gw.url}/t/${team}/mcp`, token, opts.chat ? { headers: { 'x-chat-id': opts.chat } } : {});
  clients.push(client);
  return { id: transport.sessionId!, client, transport, token };
}

function mcpPost(gw: TestGateway, team: string, token: string, sessionId: string) {
  return rawPost(`${gw.url}/t/${team}/mcp`, { jsonrpc: '2.0', id: 7, method: 'tools/list' }, {
    authorization: `Bearer ${token}`,
    'mcp-session-id': sessionId,
    'mcp-protocol-version': '2025-11-25',
  });
}

/**
 * A session opened with raw requests (initialize, initialized) so that the test, not the SDK client, holds its
 * standalone GET stream — the SDK client would already hold it, and a session has only one.
 */
async function openRaw(gw: TestGateway, team: string, email: string) {
  const { token } = await tokenFor(gw, { email, team });
  const headers = { authorization: `Bearer ${token}` };
  const init = await rawPost(`${gw.url}/t/${team}/mcp`, INIT, headers);
  expect(init.status).toBe(200);
  await init.text();
  const id = init.headers.get('mcp-session-id')!;
  const ack = await rawPost(`${gw.url}/t/${team}/mcp`, { jsonrpc: '2.0', method: 'notifications/initialized' }, { ...headers, 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' });
  expect(ack.status).toBe(202);
  return { id, token };
}

/** Opens the session's standalone GET stream and resolves when the server ends it. */
async function openStream(gw: TestGateway, team: string, token: string, sessionId: string) {
  const res = await fetch(`${gw.url}/t/${team}/mcp`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' },
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const ended = (async () => {
    try {
      while (!(await reader.read()).done);
    } catch {
      // an aborted stream counts as ended
    }
    return 'ended' as const;
  })();
  return { ended };
}

const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);

async function eventually(check: () => Promise<boolean>, ms = 5000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe('listing sessions', () => {
  let s: Record<'adaChat1' | 'adaChat2' | 'bobChat1' | 'adaGlobex', string>;
  let adaId: string;
  let between: string;

  beforeAll(async () => {
    adaId = (await member('ada@example.com', 'acme')).userId;
    await member('bob@example.com', 'acme');
    const adaChat1 = (await open(f.gw, 'acme', 'ada@example.com', { chat: 'chat-1', clientId: 'client-a' })).id;
    const adaChat2 = (await open(f.gw, 'acme', 'ada@example.com', { chat: 'chat-2', clientId: 'client-a' })).id;
    await new Promise((r) => setTimeout(r, 20));
    between = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    const bob = await open(f.gw, 'acme', 'bob@example.com', { chat: 'chat-1', clientId: 'client-b' });
    const adaGlobex = (await open(f.gw, 'globex', 'ada@example.com', { chat: 'chat-1', clientId: 'client-a' })).id;
    s = { adaChat1, adaChat2, bobChat1: bob.id, adaGlobex };
    await bob.transport.terminateSession(); // closed by its client
  });

  it("a team's sessions, newest first, in the session JSON of docs/interface.md §3", async () => {
    const res = await f.call('GET', '/teams/acme/sessions');
    expect(res.status).toBe(200);
    expect(res.body.items.map((x: { id: string }) => x.id)).toEqual([s.bobChat1, s.adaChat2, s.adaChat1]);
    expect(res.body.nextCursor).toBeNull();
    for (const item of res.body.items) sessionJson.parse(item);
    expect(res.body.items[2]).toMatchObject({
      id: s.adaChat1,
      team: 'acme',
      userId: adaId,
      userEmail: 'ada@example.com',
      chatId: 'chat-1',
      clientId: 'client-a',
      clientName: 'switchboard-test',
      clientVersion: '1.0.0',
      protocolVersion: '2025-11-25',
      status: 'active',
      closedAt: null,
      closeReason: null,
    });
    expect(res.body.items[0]).toMatchObject({ status: 'closed', closeReason: 'client_delete' });
  });

  it.each([
    ['chat=chat-1', () => [s.bobChat1, s.adaChat1]],
    ['chat=chat-2', () => [s.adaChat2]],
    ['client=client-b', () => [s.bobChat1]],
    ['status=active', () => [s.adaChat2, s.adaChat1]],
    ['status=closed', () => [s.bobChat1]],
    ['status=all&client=client-a', () => [s.adaChat2, s.adaChat1]],
    ['chat=nope', () => []],
  ])('filter %s', async (query, expected) => {
    const res = await f.call('GET', `/teams/acme/sessions?${query}`);
    expect(res.status).toBe(200);
    expect(res.body.items.map((x: { id: string }) => x.id)).toEqual(expected());
  });

  it('filter since', async () => {
    const res = await f.call('GET', `/teams/acme/sessions?since=${encodeURIComponent(between)}`);
    expect(res.body.items.map((x: { id: string }) => x.id)).toEqual([s.bobChat1]);
  });

  it("a user's sessions across teams", async () => {
    const res = await f.call('GET', `/users/${adaId}/sessions`);
    expect(res.status).toBe(200);
    expect(res.body.items.map((x: { id: string; team: string }) => [x.id, x.team])).toEqual([
      [s.adaGlobex, 'globex'],
      [s.adaChat2, 'acme'],
      [s.adaChat1, 'acme'],
    ]);
    const filtered = await f.call('GET', `/users/${adaId}/sessions?chat=chat-1&limit=1`);
    expect(filtered.body.items.map((x: { id: string }) => x.id)).toEqual([s.adaGlobex]);
    const next = await f.call('GET', `/users/${adaId}/sessions?chat=chat-1&limit=1&cursor=${filtered.body.nextCursor}`);
    expect(next.body).toEqual({ items: [expect.objectContaining({ id: s.adaChat1 })], nextCursor: null });
  });

  it('one session by id; a team admin sees only their teams', async () => {
    const res = await f.call('GET', `/sessions/${s.adaChat1}`, { as: 'teamAdmin' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: s.adaChat1, team: 'acme' });
    expect((await f.call('GET', `/sessions/${s.adaGlobex}`, { as: 'teamAdmin' })).status).toBe(404);
    expect((await f.call('GET', `/sessions/${s.adaGlobex}`, { as: 'otherTeamAdmin' })).status).toBe(200);
  });
});

describe('pagination while sessions appear', () => {
  it('walks every session that existed when it started, once, in order', async () => {
    const pager = await f.tdb.db.prisma.team.create({ data: { slug: 'pager', name: 'Pager', toolServers: { create: { name: 'demo', kind: 'builtin', pack: 'demo' } } } });
    const { token, userId } = await tokenFor(f.gw, { email: 'pager@example.com', team: 'pager' });
    // A member already: concurrent first requests to an open team race on creating the membership (reported).
    await f.tdb.db.prisma.membership.create({ data: { teamId: pager.id, userId } });
    const initialize = async () => {
      const res = await rawPost(`${f.gw.url}/t/pager/mcp`, INIT, { authorization: `Bearer ${token}` });
      expect(res.status).toBe(200);
      await res.text();
      return res.headers.get('mcp-session-id')!;
    };
    const existing: string[] = [];
    // Several at once: some share a createdAt millisecond, so ties must be broken by id.
    for (let i = 0; i < 3; i++) existing.push(...(await Promise.all([initialize(), initialize(), initialize()])));
    const expected = (await f.tdb.db.prisma.session.findMany({ where: { id: { in: existing } }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] })).map((r) => r.id);

    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await f.call('GET', `/teams/pager/sessions?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      if (pages === 0) expect(res.body.items.length).toBe(2);
      seen.push(...res.body.items.map((x: { id: string }) => x.id));
      cursor = res.body.nextCursor;
      pages++;
      await Promise.all([initialize(), initialize()]); // newer than everything listed so far
    } while (cursor);

    expect(seen).toEqual(expected);
    expect(new Set(seen).size).toBe(seen.length);
    expect(pages).toBe(5);
    // A fresh listing starts with the newest.
    const first = await f.call('GET', '/teams/pager/sessions?limit=1');
    expect(existing).not.toContain(first.body.items[0].id);
  });
});

describe('ending a session', () => {
  it('DELETE: the SDK client gets 404 next; the row and an audit record say who and why', async () => {
    const ada = await open(f.gw, 'acme', 'ada@example.com', { chat: 'end-1' });
    expect((await mcpPost(f.gw, 'acme', ada.token, ada.id)).status).toBe(200);

    const res = await f.call('DELETE', `/sessions/${ada.id}`, { as: 'teamAdmin' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: ada.id, status: 'closed', closeReason: 'admin' });
    expect(res.body.closedAt).not.toBeNull();

    const next = await mcpPost(f.gw, 'acme', ada.token, ada.id);
    expect(next.status).toBe(404);
    await expect(ada.client.listTools()).rejects.toThrow(/404|not found/i);

    await f.gw.app.audit.flush();
    const audit = await f.tdb.db.prisma.auditRecord.findMany({ where: { sessionId: ada.id, action: 'admin.session_end' } });
    expect(audit).toEqual([expect.objectContaining({ actor: `user:${f.userIds.teamAdmin}`, outcome: 'ok', teamId: f.acme.id, chat: 'end-1' })]);

    const again = await f.call('DELETE', `/sessions/${ada.id}`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('session_closed');
    expect((await f.call('GET', `/sessions/${ada.id}`)).body).toMatchObject({ status: 'closed', closeReason: 'admin' });
  });

  it('DELETE ends an open GET stream of the session at once', async () => {
    await member('streamer@example.com', 'acme');
    const s = await openRaw(f.gw, 'acme', 'streamer@example.com');
    const stream = await openStream(f.gw, 'acme', s.token, s.id);
    expect(await within(stream.ended, 200)).toBe('timeout');
    expect((await f.call('DELETE', `/sessions/${s.id}`)).status).toBe(200);
    expect(await within(stream.ended, 5000)).toBe('ended');
    expect((await mcpPost(f.gw, 'acme', s.token, s.id)).status).toBe(404);
  });

  it('removing a member ends their sessions in that team (user_removed), not elsewhere', async () => {
    const { userId } = await member('eve@example.com', 'acme');
    const inAcme = await open(f.gw, 'acme', 'eve@example.com');
    const inGlobex = await open(f.gw, 'globex', 'eve@example.com');
    const res = await f.call('DELETE', `/teams/acme/members/${userId}`, { as: 'teamAdmin' });
    expect(res.status).toBe(204);
    expect((await mcpPost(f.gw, 'acme', inAcme.token, inAcme.id)).status).toBe(403); // invite-only team, no longer a member
    expect((await f.tdb.db.prisma.session.findUniqueOrThrow({ where: { id: inAcme.id } })).closeReason).toBe('user_removed');
    expect((await mcpPost(f.gw, 'globex', inGlobex.token, inGlobex.id)).status).toBe(200);
  });
});

describe.skipIf(!TEST_DATABASE_URL)('ending sessions on another replica (needs TEST_DATABASE_URL)', () => {
  let gw2: TestGateway;
  beforeAll(async () => {
    gw2 = await startTestGateway(await f.tdb.open());
  });
  afterAll(async () => {
    await gw2?.close();
  });

  it('DELETE on replica 1 → the session held by replica 2 gets 404 there and its stream ends', async () => {
    await member('rep@example.com', 'acme');
    const s = await openRaw(gw2, 'acme', 'rep@example.com');
    const stream = await openStream(gw2, 'acme', s.token, s.id);
    expect(gw2.app.sessions.liveSessionsOfTeam(f.acme.id).map((x) => x.id)).toContain(s.id);
    const sdk = await open(gw2, 'acme', 'rep@example.com', { chat: 'replica' });

    expect((await f.call('DELETE', `/sessions/${s.id}`)).status).toBe(200);
    expect((await f.call('DELETE', `/sessions/${sdk.id}`)).status).toBe(200);

    expect(await within(stream.ended, 5000)).toBe('ended');
    expect(await eventually(async () => (await mcpPost(gw2, 'acme', s.token, s.id)).status === 404)).toBe(true);
    expect(gw2.app.sessions.liveSessionsOfTeam(f.acme.id).map((x) => x.id)).not.toContain(s.id);
    await expect(sdk.client.listTools()).rejects.toThrow(/404|not found/i);
  });

  it('a session created on replica 1 and resumed on replica 2 is listed once and ends everywhere', async () => {
    await member('both@example.com', 'acme');
    const s = await open(f.gw, 'acme', 'both@example.com', { chat: 'both' });
    const { token: token2 } = await tokenFor(gw2, { email: 'both@example.com', team: 'acme' });
    expect((await mcpPost(gw2, 'acme', token2, s.id)).status).toBe(200); // rehydrated on replica 2
    const listed = await f.call('GET', '/teams/acme/sessions?chat=both');
    expect(listed.body.items.map((x: { id: string }) => x.id)).toEqual([s.id]);
    expect((await f.call('DELETE', `/sessions/${s.id}`)).status).toBe(200);
    expect(await eventually(async () => (await mcpPost(gw2, 'acme', token2, s.id)).status === 404)).toBe(true);
    expect((await mcpPost(f.gw, 'acme', s.token, s.id)).status).toBe(404);
  });

  it('a tool-server change on replica 1 reaches live sessions held by replica 2 (NOTIFY)', async () => {
    await member('tools@example.com', 'acme');
    const idle = await openRaw(gw2, 'acme', 'tools@example.com');
    const busy = await open(gw2, 'acme', 'tools@example.com');
    let heard = 0;
    busy.client.setNotificationHandler(ToolListChangedNotificationSchema, () => void heard++);
    expect(await eventually(async () => gw2.app.sessions.liveSessionsOfTeam(f.acme.id).some((x) => x.id === busy.id && x.inFlight > 0))).toBe(true);
    expect(gw2.app.sessions.liveSessionsOfTeam(f.acme.id).map((x) => x.id)).toContain(idle.id);

    const res = await f.call('POST', '/teams/acme/tool-servers', { body: { name: 'replicated', kind: 'builtin', pack: 'demo' } });
    expect(res.status).toBe(201);
    expect(await eventually(async () => heard > 0)).toBe(true);
    const list = await mcpPost(gw2, 'acme', idle.token, idle.id);
    expect(await list.text()).toContain('replicated__echo');
    expect((await f.call('DELETE', '/teams/acme/tool-servers/replicated')).status).toBe(204);
  });

  it('deleting a team ends its sessions on every replica (team_deleted), then the team is gone', async () => {
    const created = await f.call('POST', '/teams', { body: { slug: 'short-lived', name: 'Short', packs: ['demo'] } });
    expect(created.status).toBe(201);
    const s = await openRaw(gw2, 'short-lived', 'temp@example.com');
    const stream = await openStream(gw2, 'short-lived', s.token, s.id);
    const before = await f.gw.app.metrics.registry.getSingleMetricAsString('switchboard_sessions_closed_total');
    expect(before).not.toMatch(/reason="team_deleted"\} 1/);
    expect((await f.call('DELETE', '/teams/short-lived')).status).toBe(204);
    expect(await within(stream.ended, 5000)).toBe('ended');
    expect(await eventually(async () => (await mcpPost(gw2, 'short-lived', s.token, s.id)).status === 404)).toBe(true);
    expect(await f.gw.app.metrics.registry.getSingleMetricAsString('switchboard_sessions_closed_total')).toMatch(/reason="team_deleted"\} 1/);
    expect(await f.tdb.db.prisma.team.findUnique({ where: { slug: 'short-lived' } })).toBeNull();
    expect((await f.call('GET', '/teams/short-lived')).status).toBe(404);
  });
});
