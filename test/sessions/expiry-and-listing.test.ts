/** Idle TTL and max age enforced by the sweeper; `GET /t/{team}/sessions` lists only the caller's own sessions. */
import { describe, expect, it } from 'vitest';
import { useTestGateway, tokenFor } from '../helpers/gateway.js';
import { connectClient, rawPost, INIT } from '../helpers/mcp-client.js';
import { startSweeper } from '../../src/sessions/sweeper.js';

let now = Date.now();
const clock = () => now;

const t = useTestGateway({ clock, env: { SESSION_IDLE_TTL: '10m', SESSION_MAX_AGE: '1h' } });

const sweeper = () => startSweeper({ db: t.tdb.db, store: t.gw.app.store, runtime: t.gw.app.sessions, logger: t.gw.app.logger, intervalMs: 3_600_000 });

describe('expiry', () => {
  it('an idle session is closed by the sweeper after SESSION_IDLE_TTL, and then answers 404', async () => {
    const { token } = await tokenFor(t.gw, { email: 'idle@example.com' });
    // A raw initialize: an SDK client would keep a background GET stream that touches the session.
    const init = await rawPost(`${t.gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${token}` });
    const sid = init.headers.get('mcp-session-id')!;
    await init.text();
    const s = sweeper();
    now += 9 * 60_000;
    expect(await s.sweep()).not.toContain(sid);
    now += 2 * 60_000;
    expect(await s.sweep()).toContain(sid);
    s.stop();
    const row = await t.tdb.db.prisma.session.findUniqueOrThrow({ where: { id: sid } });
    expect(row.closeReason).toBe('expired');
    const res = await rawPost(`${t.gw.url}/t/demo/mcp`, { jsonrpc: '2.0', id: 5, method: 'tools/list' }, {
      authorization: `Bearer ${(await tokenFor(t.gw, { email: 'idle@example.com' })).token}`,
      'mcp-session-id': sid,
    });
    expect(res.status).toBe(404);
  });

  it('activity extends the idle TTL but never beyond SESSION_MAX_AGE', async () => {
    const { token } = await tokenFor(t.gw, { email: 'busy@example.com', ttlSeconds: 3600 });
    const { client, transport } = await connectClient(`${t.gw.url}/t/demo/mcp`, token);
    const sid = transport.sessionId!;
    const created = now;
    for (let i = 0; i < 6; i++) {
      now += 9 * 60_000; // always active within the idle TTL
      t.gw.app.sessions.evict(sid); // force a database touch on the next request
      const r = await rawPost(`${t.gw.url}/t/demo/mcp`, { jsonrpc: '2.0', id: i, method: 'tools/list' }, {
        authorization: `Bearer ${token}`,
        'mcp-session-id': sid,
        'mcp-protocol-version': '2025-11-25',
      });
      expect(r.status).toBe(200);
      await r.text();
    }
    const row = await t.tdb.db.prisma.session.findUniqueOrThrow({ where: { id: sid } });
    expect(row.expiresAt.getTime()).toBe(created + 3_600_000); // capped by max age
    now = created + 3_600_000 + 1;
    const r = await rawPost(`${t.gw.url}/t/demo/mcp`, { jsonrpc: '2.0', id: 99, method: 'tools/list' }, {
      authorization: `Bearer ${token}`,
      'mcp-session-id': sid,
    });
    expect(r.status).toBe(404);
    await client.close();
  });
});

describe('cleanup', () => {
  it('the sweeper deletes authorization codes and refresh tokens expired for more than a day, and only those', async () => {
    const user = await t.gw.app.users.upsert('urn:test', 'cleanup', 'c@example.com');
    const old = new Date(Date.now() - 2 * 86_400_000);
    const fresh = new Date(Date.now() + 60_000);
    const base = { clientId: 'c', userId: user.id, resource: `${t.gw.url}/t/demo/mcp`, scope: 'mcp' };
    await t.tdb.db.prisma.authorizationCode.createMany({
      data: [
        { ...base, codeHash: 'old-code', redirectUri: 'http://127.0.0.1/cb', codeChallenge: 'x', expiresAt: old },
        { ...base, codeHash: 'new-code', redirectUri: 'http://127.0.0.1/cb', codeChallenge: 'x', expiresAt: fresh },
      ],
    });
    await t.tdb.db.prisma.refreshToken.createMany({
      data: [
        { ...base, tokenHash: 'old-rt', familyId: 'f1', expiresAt: old },
        { ...base, tokenHash: 'new-rt', familyId: 'f2', expiresAt: fresh },
      ],
    });
    const s = sweeper();
    await s.sweep();
    s.stop();
    expect((await t.tdb.db.prisma.authorizationCode.findMany({ where: { clientId: 'c' } })).map((c) => c.codeHash)).toEqual(['new-code']);
    expect((await t.tdb.db.prisma.refreshToken.findMany({ where: { clientId: 'c' } })).map((c) => c.tokenHash)).toEqual(['new-rt']);
  });
});

describe('GET /t/{team}/sessions', () => {
  it("lists the caller's own sessions in the team, newest first, and nobody else's", async () => {
    now = Date.now();
    const alice = await tokenFor(t.gw, { email: 'alice@example.com' });
    const bob = await tokenFor(t.gw, { email: 'bob@example.com' });
    const a1 = await connectClient(`${t.gw.url}/t/demo/mcp`, alice.token, { headers: { 'x-chat-id': 'c-1' } });
    now += 1000;
    const a2 = await connectClient(`${t.gw.url}/t/demo/mcp`, alice.token, { headers: { 'x-chat-id': 'c-2' } });
    const b1 = await connectClient(`${t.gw.url}/t/demo/mcp`, bob.token);

    const res = await fetch(`${t.gw.url}/t/demo/sessions`, { headers: { authorization: `Bearer ${alice.token}` } });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.items.map((s: { id: string }) => s.id)).toEqual([a2.transport.sessionId, a1.transport.sessionId]);
    expect(body.nextCursor).toBeNull();
    expect(body.items[0]).toEqual({
      id: a2.transport.sessionId,
      team: 'demo',
      userId: alice.userId,
      userEmail: 'alice@example.com',
      chatId: 'c-2',
      clientId: 'test-client',
      clientName: 'switchboard-test',
      clientVersion: '1.0.0',
      protocolVersion: '2025-11-25',
      status: 'active',
      createdAt: expect.any(String),
      lastSeenAt: expect.any(String),
      closedAt: null,
      closeReason: null,
    });
    const page = await (await fetch(`${t.gw.url}/t/demo/sessions?limit=1`, { headers: { authorization: `Bearer ${alice.token}` } })).json();
    expect(page.items).toHaveLength(1);
    const next = await (await fetch(`${t.gw.url}/t/demo/sessions?limit=1&cursor=${page.nextCursor}`, { headers: { authorization: `Bearer ${alice.token}` } })).json();
    expect(next.items[0].id).toBe(a1.transport.sessionId);

    const bad = await fetch(`${t.gw.url}/t/demo/sessions?limit=500&cursor=zzz`, { headers: { authorization: `Bearer ${alice.token}` } });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe('invalid_query');
    expect((await fetch(`${t.gw.url}/t/demo/sessions`)).status).toBe(401);
    for (const c of [a1, a2, b1]) await c.client.close();
  });
});
