/**
 * A gateway with the admin API configured, two teams and one caller of every kind, plus a small HTTP client that
 * remembers every response so tests can assert that no secret ever appears in one.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, tokenFor, type TestGateway } from '../helpers/gateway.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { LOCAL_ISSUER } from '../../src/teams/users.js';

export const ADMIN_API_KEY = `sb-admin-${randomBytes(12).toString('hex')}`;
export const PLATFORM_EMAIL = 'root@example.com';

export type Caller = 'platform' | 'apiKey' | 'teamAdmin' | 'otherTeamAdmin' | 'member' | 'anonymous' | 'expired' | 'wrongAudience' | 'wrongKey';
export const CALLERS: Caller[] = ['platform', 'apiKey', 'teamAdmin', 'otherTeamAdmin', 'member', 'anonymous', 'expired', 'wrongAudience', 'wrongKey'];

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface AdminFixture {
  tdb: TestDatabase;
  gw: TestGateway;
  /** Team `acme` (administered by `teamAdmin`, `member` is a plain member) and `globex` (administered by `otherTeamAdmin`). */
  acme: { id: string };
  globex: { id: string };
  tokens: Record<Caller, string | undefined>;
  userIds: Record<'platform' | 'teamAdmin' | 'otherTeamAdmin' | 'member', string>;
  /** Every response so far (status line, headers and body), for secret scans. */
  seen: string[];
  call(method: string, path: string, opts?: { as?: Caller; token?: string; body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<ApiResponse>;
  close(): Promise<void>;
}

export async function adminToken(gw: TestGateway, email: string, opts: { clientId?: string } = {}) {
  return tokenFor(gw, { email, audience: `${gw.url}/admin`, ...(opts.clientId ? { clientId: opts.clientId } : {}) });
}

export async function startAdminFixture(opts: { tdb?: TestDatabase; env?: Record<string, string> } = {}): Promise<AdminFixture> {
  const tdb = opts.tdb ?? (await createTestDatabase());
  const gw = await startTestGateway(tdb.db, { env: { ADMIN_API_KEY, ADMIN_EMAILS: `other@example.com, ${PLATFORM_EMAIL.toUpperCase()}`, ...opts.env } });
  const prisma = tdb.db.prisma;
  const acme = await createTeam(prisma, { slug: 'acme', name: 'Acme', joinPolicy: 'invite', packs: ['demo'] });
  const globex = await createTeam(prisma, { slug: 'globex', name: 'Globex', packs: ['demo'] });
  const platform = await adminToken(gw, PLATFORM_EMAIL);
  const teamAdmin = await adminToken(gw, 'alice@example.com');
  const otherTeamAdmin = await adminToken(gw, 'bob@example.com');
  const member = await adminToken(gw, 'carol@example.com');
  await prisma.membership.createMany({
    data: [
      { teamId: acme.id, userId: teamAdmin.userId, role: 'admin' },
      { teamId: globex.id, userId: otherTeamAdmin.userId, role: 'admin' },
      { teamId: acme.id, userId: member.userId, role: 'member' },
    ],
  });
  const root = await gw.app.users.upsert(LOCAL_ISSUER, PLATFORM_EMAIL, PLATFORM_EMAIL);
  const expired = await gw.app.keys.sign(
    { iss: gw.url, sub: root.id, aud: `${gw.url}/admin`, client_id: 'test-client', email: PLATFORM_EMAIL, jti: randomUUID() },
    { expiresInSeconds: -120, typ: 'at+jwt' },
  );
  const wrongAudience = (await tokenFor(gw, { email: PLATFORM_EMAIL, team: 'acme' })).token;
  const tokens: Record<Caller, string | undefined> = {
    platform: platform.token,
    apiKey: ADMIN_API_KEY,
    teamAdmin: teamAdmin.token,
    otherTeamAdmin: otherTeamAdmin.token,
    member: member.token,
    anonymous: undefined,
    expired,
    wrongAudience,
    wrongKey: `${ADMIN_API_KEY.slice(0, -1)}x`,
  };
  const seen: string[] = [];
  return {
    tdb,
    gw,
    acme,
    globex,
    tokens,
    userIds: { platform: platform.userId, teamAdmin: teamAdmin.userId, otherTeamAdmin: otherTeamAdmin.userId, member: member.userId },
    seen,
    async call(method, path, o = {}) {
      const token = o.token ?? (o.as ? tokens[o.as] : tokens.platform);
      const headers: Record<string, string> = { ...o.headers };
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (o.raw !== undefined) body = o.raw;
      else if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${gw.url}/admin/v1${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
      const text = await res.text();
      seen.push(`${res.status} ${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${text}`);
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, headers: res.headers, text, body: parsed };
    },
    async close() {
      await gw.close();
      if (!opts.tdb) await tdb.drop();
    },
  };
}
