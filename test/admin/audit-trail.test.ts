/**
 * Issue 13 item 9: `GET /admin/v1/audit` — tool calls made by real SDK clients, with the OAuth client that made
 * them; the filters (team, user, tool, outcome, time range); keyset pages newest first without duplicates or gaps
 * while records keep arriving; a team admin never sees another team's records; bad parameters are clear 400s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { tokenFor } from '../helpers/gateway.js';
import { connectClient } from '../helpers/mcp-client.js';
import { auditRecordJson, listOf } from '../../src/admin/response-schemas.js';
import { startAdminFixture, type AdminFixture } from './admin-fixture.js';

let f: AdminFixture;
const clients: Client[] = [];
const auditList = listOf(auditRecordJson, 'AuditRecordList');

beforeAll(async () => {
  f = await startAdminFixture();
});
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await f?.close();
});

let seq = 0;
/** Audit rows written straight to the table, with chosen times (the gateway's batching is covered elsewhere). */
async function seed(rows: { team: 'acme' | 'globex'; at: Date; tool?: string; outcome?: string; userId?: string }[]) {
  await f.tdb.db.prisma.auditRecord.createMany({
    data: rows.map((r) => ({
      teamId: r.team === 'acme' ? f.acme.id : f.globex.id,
      actor: `user:${r.userId ?? f.userIds.member}`,
      userId: r.userId ?? f.userIds.member,
      sessionId: `seeded-${++seq}`,
      action: 'tool_call',
      target: r.tool ?? 'demo__echo',
      outcome: r.outcome ?? 'ok',
      durationMs: 5,
      createdAt: r.at,
    })),
  });
}

/** Every page of `query` (limit `limit`), running `between` after each page; fails on a repeated id. */
async function allPages(query: string, limit: number, between: (page: number) => Promise<void> = async () => {}) {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const res = await f.call('GET', `/audit?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.status, res.text).toBe(200);
    auditList.parse(res.body);
    ids.push(...res.body.items.map((i: { id: string }) => i.id));
    cursor = res.body.nextCursor;
    if (!cursor) break;
    await between(page);
  }
  expect(new Set(ids).size).toBe(ids.length);
  return ids;
}

describe('GET /admin/v1/audit', () => {
  it('lists a real tool call with its team, user, session, chat and OAuth client', async () => {
    const { token, userId } = await tokenFor(f.gw, { email: 'Dora@Example.com', team: 'globex', clientId: 'audit-test-client' });
    await f.tdb.db.prisma.membership.create({ data: { teamId: f.globex.id, userId } });
    const { client, transport } = await connectClient(`${f.gw.url}/t/globex/mcp`, token, { headers: { 'x-chat-id': 'chat-audit' } });
    clients.push(client);
    const echo = (await client.listTools()).tools.find((t) => t.name.endsWith('echo'))!;
    await client.callTool({ name: echo.name, arguments: { text: 'hello' } });
    await f.gw.app.audit.flush();

    const res = await f.call('GET', '/audit?user=%20dora@EXAMPLE.com%20');
    expect(res.status).toBe(200);
    expect(auditList.parse(res.body).items).toEqual([
      {
        id: expect.stringMatching(/^\d+$/),
        at: expect.any(String),
        team: 'globex',
        userId,
        userEmail: 'dora@example.com',
        sessionId: transport.sessionId,
        chatId: 'chat-audit',
        clientId: 'audit-test-client',
        tool: echo.name,
        outcome: 'ok',
        durationMs: expect.any(Number),
      },
    ]);
    expect(res.text).not.toContain('hello'); // never the arguments
  });

  it('pages newest first without duplicates or gaps while records keep arriving', async () => {
    const base = Date.parse('2031-01-01T00:00:00Z');
    // Several records share a millisecond: the id breaks the tie.
    await seed(Array.from({ length: 23 }, (_, i) => ({ team: 'acme' as const, at: new Date(base + Math.floor(i / 3) * 1000), tool: 'paging' })));
    const before = await f.tdb.db.prisma.auditRecord.findMany({ where: { target: 'paging' }, select: { id: true }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
    const ids = await allPages('tool=paging', 4, async (page) => {
      // Newer calls keep arriving, and one held through an outage lands late with an old time.
      await seed([{ team: 'acme', at: new Date(base + 60_000 + page), tool: 'paging' }]);
      if (page === 1) await seed([{ team: 'acme', at: new Date(base - 1), tool: 'paging' }]);
    });
    const late = await f.tdb.db.prisma.auditRecord.findFirstOrThrow({ where: { target: 'paging', createdAt: new Date(base - 1) } });
    expect(ids).toEqual([...before.map((r) => r.id.toString()), late.id.toString()]);
  });

  it('filters by team, tool, outcome and time range (from inclusive, to exclusive)', async () => {
    const t0 = Date.parse('2032-03-01T10:00:00Z');
    await seed([
      { team: 'acme', at: new Date(t0), tool: 'filter_a', outcome: 'ok' },
      { team: 'acme', at: new Date(t0 + 1000), tool: 'filter_a', outcome: 'tool_error' },
      { team: 'acme', at: new Date(t0 + 2000), tool: 'filter_b', outcome: 'upstream_error' },
      { team: 'globex', at: new Date(t0 + 3000), tool: 'filter_a', outcome: 'ok' },
    ]);
    const list = async (q: string) => {
      const res = await f.call('GET', `/audit?${q}`);
      expect(res.status, res.text).toBe(200);
      return res.body.items.map((i: { team: string; tool: string; outcome: string; at: string }) => `${i.team}/${i.tool}/${i.outcome}/${i.at.slice(11, 19)}`);
    };
    expect(await list('tool=filter_a')).toEqual(['globex/filter_a/ok/10:00:03', 'acme/filter_a/tool_error/10:00:01', 'acme/filter_a/ok/10:00:00']);
    expect(await list('tool=filter_a&team=acme')).toEqual(['acme/filter_a/tool_error/10:00:01', 'acme/filter_a/ok/10:00:00']);
    expect(await list('tool=filter_a&outcome=ok')).toEqual(['globex/filter_a/ok/10:00:03', 'acme/filter_a/ok/10:00:00']);
    expect(await list('from=2032-03-01T10:00:01Z&to=2032-03-01T10:00:03Z')).toEqual(['acme/filter_b/upstream_error/10:00:02', 'acme/filter_a/tool_error/10:00:01']);
    expect(await list('from=2032-03-01T11:00:01%2B01:00&to=2032-03-01T10:00:03Z')).toEqual(['acme/filter_b/upstream_error/10:00:02', 'acme/filter_a/tool_error/10:00:01']);
    expect(await list('user=nobody@example.com')).toEqual([]);
  });

  it('a team admin sees only the teams they administer, whatever the filters say', async () => {
    const t0 = Date.parse('2033-01-01T00:00:00Z');
    await seed([
      { team: 'acme', at: new Date(t0), tool: 'tenancy' },
      { team: 'globex', at: new Date(t0 + 1), tool: 'tenancy', userId: f.userIds.otherTeamAdmin },
    ]);
    const asAlice = await f.call('GET', '/audit?tool=tenancy', { as: 'teamAdmin' });
    expect(asAlice.body.items.map((i: { team: string }) => i.team)).toEqual(['acme']);
    const all = await allPagesAs('teamAdmin');
    expect(all.every((team) => team === 'acme')).toBe(true);

    // Naming another team (or one that does not exist) is 403, as on that team's own routes.
    for (const team of ['globex', 'no-such-team']) {
      const res = await f.call('GET', `/audit?team=${team}`, { as: 'teamAdmin' });
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'forbidden', message: `You are not an admin of team ${team}` });
    }
    // A user of another team is simply not there.
    const bob = await f.call('GET', '/audit?user=bob@example.com', { as: 'teamAdmin' });
    expect(bob.body.items).toEqual([]);
    // A platform admin sees both; an unknown team is 404 for them.
    expect((await f.call('GET', '/audit?tool=tenancy')).body.items.map((i: { team: string }) => i.team)).toEqual(['globex', 'acme']);
    expect((await f.call('GET', '/audit?team=no-such-team')).body.error.code).toBe('team_not_found');
  });

  it('answers bad parameters with a 400 naming each', async () => {
    const cases: [string, string, string][] = [
      ['outcome=fine', 'outcome', 'Invalid option'],
      ['from=yesterday', 'from', 'must be an RFC 3339 date-time'],
      ['to=2030-01-01', 'to', 'must be an RFC 3339 date-time'],
      ['from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z', 'to', 'must be later than from'],
      ['user=not-an-address', 'user', 'must be an e-mail address'],
      ['team=Not_A_Slug', 'team', 'must be a team slug'],
      ['limit=0', 'limit', ''],
      ['limit=201', 'limit', ''],
      ['cursor=bm9wZQ', 'cursor', 'unknown cursor'],
      ['colour=blue', 'colour', 'unknown field'],
    ];
    for (const [query, field, message] of cases) {
      const res = await f.call('GET', `/audit?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code, query).toBe('invalid_query');
      expect(res.body.error.details, query).toEqual(expect.arrayContaining([expect.objectContaining({ field, message: expect.stringContaining(message) })]));
    }
    // Forged cursors and values PostgreSQL cannot hold are the client's fault: 4xx, never 5xx.
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const query of [
      `cursor=${b64(['audit', '-271821-04-20T00:00:00.000Z', '1'])}`,
      `cursor=${b64(['audit', '+275760-09-13T00:00:00.000Z', '9223372036854775807'])}`,
      `cursor=${b64(['audit', '2020-01-01T00:00:00.000Z', '99999999999999999999'])}`,
      `cursor=${b64(['audit', 'yesterday', '1'])}`,
      'from=0000-01-01T00:00:00Z',
      'tool=%00',
      'user=%00@example.com',
      'team=acme&team=globex',
    ]) {
      const res = await f.call('GET', `/audit?${query}`);
      expect(res.status, query).toBeGreaterThanOrEqual(200);
      expect(res.status, query).toBeLessThan(500);
    }
    // A cursor of another list is refused too.
    const teams = await f.call('GET', '/teams?limit=1');
    const res = await f.call('GET', `/audit?cursor=${teams.body.nextCursor}`);
    expect(res.status).toBe(400);
  });
});

async function allPagesAs(caller: 'teamAdmin'): Promise<string[]> {
  const teams: string[] = [];
  let cursor: string | null = null;
  do {
    const res = await f.call('GET', `/audit?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { as: caller });
    expect(res.status).toBe(200);
    teams.push(...res.body.items.map((i: { team: string }) => i.team));
    cursor = res.body.nextCursor;
  } while (cursor);
  return teams;
}
