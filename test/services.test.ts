/**
 * `createServices` (src/services.ts) against a real PostgreSQL: the services the app builds once (`app.services`)
 * and those a CLI command builds for itself (`openOperatorServices`) are the same code over the same rows — a team
 * created through a service is what the admin API and the CLI then show; a team admin's principal reaches nothing of
 * another team through them; the object and each service are frozen.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TEST_DATABASE_URL } from './helpers/database.js';
import { TEST_ENCRYPTION_KEY } from './helpers/gateway.js';
import { startAdminFixture, type AdminFixture } from './admin/admin-fixture.js';
import { openOperatorServices, type Services } from '../src/services.js';
import { loadConfig } from '../src/config/config.js';
import type { Database } from '../src/db/database.js';
import type { AdminPrincipal } from '../src/admin/admin-principal.js';
import { runCli } from '../src/cli/index.js';

const OPERATOR: AdminPrincipal = { kind: 'api_key', platform: true, userId: null, email: null, adminTeams: new Map(), actor: 'services-test' };

let f: AdminFixture;
let second: Database;
let operator: { services: Services; close(): Promise<void> };

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((err += String(c)), true));
  try {
    const code = await runCli(args, { DATABASE_URL: f.tdb.url!, ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString('base64'), LOG_LEVEL: 'warn' });
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

async function newSession(teamId: string, userId: string): Promise<string> {
  const id = randomUUID();
  await f.gw.app.store.create({ id, teamId, userId, clientId: 'services-test', chatExternalId: null, clientName: 'services', clientVersion: '1', protocolVersion: '2025-11-25', clientCapabilities: {}, initializeRequest: {} });
  return id;
}

describe.skipIf(!TEST_DATABASE_URL)('createServices (needs TEST_DATABASE_URL)', () => {
  beforeAll(async () => {
    f = await startAdminFixture();
    // A second connection, as a CLI command on another host would have: its own services over the same rows.
    second = await f.tdb.open();
    operator = openOperatorServices(loadConfig({ DATABASE_URL: f.tdb.url!, ENCRYPTION_KEY: TEST_ENCRYPTION_KEY.toString('base64'), LOG_LEVEL: 'warn' }), second);
  }, 120_000);
  afterAll(async () => {
    await operator?.close();
    await second?.close();
    await f?.close();
  });

  it('is frozen: neither the object nor any service can be changed or extended', () => {
    for (const services of [f.gw.app.services, operator.services]) {
      expect(Object.isFrozen(services)).toBe(true);
      expect(Object.keys(services).sort()).toEqual(['audit', 'connections', 'keys', 'members', 'sessions', 'teams', 'toolServers', 'users']);
      for (const [name, service] of Object.entries(services)) expect(Object.isFrozen(service), name).toBe(true);
      expect(() => Object.assign(services, { teams: {} })).toThrow(TypeError);
      expect(() => Object.assign(services.teams, { create: () => undefined })).toThrow(TypeError);
      expect(() => Object.defineProperty(services.sessions, 'extra', { value: 1 })).toThrow(TypeError);
    }
  });

  it('a team created through a service is what the admin API and the CLI show, and the creation is audited', { timeout: 120_000 }, async () => {
    const created = await operator.services.teams.create(OPERATOR, { slug: 'initech', name: 'Initech', joinPolicy: 'invite', packs: ['demo'] });
    expect(created).toMatchObject({ slug: 'initech', name: 'Initech', joinPolicy: 'invite' });

    const api = await f.call('GET', '/teams/initech');
    expect(api.status, api.text).toBe(200);
    expect(api.body).toEqual(created);
    const servers = await f.call('GET', '/teams/initech/tool-servers');
    expect(servers.body.items.map((t: { name: string }) => t.name)).toEqual(['demo']);

    const listed = await cli('teams', 'list', '--json');
    expect(listed.code, listed.err).toBe(0);
    expect((JSON.parse(listed.out) as { items: unknown[] }).items).toContainEqual(created);
    // The app's own services read the same row (the team directory's cache does not hide it).
    expect(await f.gw.app.services.teams.find('initech')).toMatchObject({ id: created.id, slug: 'initech' });

    await operator.services.audit.flush();
    expect(await f.tdb.db.prisma.auditRecord.findFirst({ where: { action: 'admin.team_create', target: 'initech' } })).toMatchObject({ actor: 'services-test', teamId: created.id, outcome: 'ok' });

    // The same rule as the admin API: a second team with that slug is a conflict, nothing is written.
    await expect(f.gw.app.services.teams.create(OPERATOR, { slug: 'initech', name: 'Again' })).rejects.toMatchObject({ code: 'conflict', status: 409 });
    expect(await f.tdb.db.prisma.team.count({ where: { slug: 'initech' } })).toBe(1);
  });

  it('a team admin’s principal reaches nothing of another team through the services', { timeout: 60_000 }, async () => {
    const { services } = f.gw.app;
    const alice = await services.users.principalOf(f.userIds.teamAdmin);
    expect(alice).toMatchObject({ platform: false, actor: `user:${f.userIds.teamAdmin}` });
    if (!alice) throw new Error('no principal');
    const acmeSession = await newSession(f.acme.id, f.userIds.member);
    const globexSession = await newSession(f.globex.id, f.userIds.otherTeamAdmin);

    // Lists: only acme's rows; naming globex is refused, not narrowed to nothing.
    expect((await services.teams.listVisibleTo(alice, { limit: 50 })).items.map((t) => t.slug)).toEqual(['acme']);
    const sessions = await services.sessions.listAll(alice, { status: 'all', limit: 50 });
    expect(sessions.items.map((s) => s.id)).toContain(acmeSession);
    expect(sessions.items.map((s) => s.id)).not.toContain(globexSession);
    await expect(services.sessions.listAll(alice, { team: 'globex', status: 'all', limit: 50 })).rejects.toMatchObject({ code: 'forbidden', status: 403 });
    await expect(services.audit.list(alice, { team: 'globex', limit: 50 })).rejects.toMatchObject({ code: 'forbidden', status: 403 });

    // One session: another team's is "not found" (nothing revealed), and it cannot be ended.
    expect(await services.sessions.get(alice, acmeSession)).toMatchObject({ id: acmeSession, team: 'acme' });
    await expect(services.sessions.get(alice, globexSession)).rejects.toMatchObject({ code: 'session_not_found', status: 404 });
    await expect(services.sessions.end(alice, globexSession)).rejects.toMatchObject({ code: 'session_not_found', status: 404 });
    expect(await f.tdb.db.prisma.session.findUniqueOrThrow({ where: { id: globexSession } })).toMatchObject({ closedAt: null });

    // A user of another team is an unknown id to her, and an address she cannot see gets an invitation, not a membership.
    await expect(services.members.add(alice, 'acme', { userId: f.userIds.otherTeamAdmin, role: 'member' })).rejects.toMatchObject({ code: 'user_not_found', status: 404 });
    expect(await services.members.add(alice, 'acme', { email: 'bob@example.com', role: 'member' })).toMatchObject({ kind: 'invitation' });
    expect(await f.tdb.db.prisma.membership.count({ where: { teamId: f.acme.id, userId: f.userIds.otherTeamAdmin } })).toBe(0);
  });
});
