/**
 * Who counts as a platform admin (docs/interface.md §2 ADMIN_EMAILS: "users with these verified e-mails"): for an external
 * issuer the token's e-mail counts only with `email_verified: true`. Unit-level: a stand-in verifier returns what a
 * verified external token would, the user directory and memberships are real.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnsecuredJWT } from 'jose';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { AdminAuthError, resolveAdminPrincipal, type AdminPrincipalDeps } from '../../src/admin/admin-principal.js';
import { TokenRejectedError } from '../../src/auth/token-errors.js';
import { createUserDirectory } from '../../src/teams/users.js';

let tdb: TestDatabase;
let deps: AdminPrincipalDeps;
const ISSUER = 'https://idp.example.com';

beforeAll(async () => {
  tdb = await createTestDatabase();
  deps = {
    config: { publicUrl: 'https://gw.example.com', authMode: 'external', authIssuer: ISSUER, adminApiKey: 'k'.repeat(32), adminEmails: ['boss@example.com'] },
    prisma: tdb.db.prisma,
    users: createUserDirectory(tdb.db.prisma),
    verifier: {
      async verify(token, audience) {
        expect(audience).toBe('https://gw.example.com/admin');
        if (token.startsWith('bad')) throw new TokenRejectedError('signature', 'The access token signature is invalid');
        const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string; email?: string };
        return { token, clientId: 'c', scopes: [], resource: new URL(audience), extra: { iss: ISSUER, sub: claims.sub, email: claims.email } } as AuthInfo;
      },
    },
  };
});
afterAll(async () => {
  await tdb?.drop();
});

const token = (claims: Record<string, unknown>) => new UnsecuredJWT(claims).encode();

describe('resolveAdminPrincipal', () => {
  it('the API key is a platform admin', async () => {
    expect(await resolveAdminPrincipal(`Bearer ${'k'.repeat(32)}`, deps)).toMatchObject({ kind: 'api_key', platform: true, actor: 'api_key' });
  });

  it('an external token with a verified listed e-mail is a platform admin; unverified or unlisted is not', async () => {
    expect(await resolveAdminPrincipal(`Bearer ${token({ sub: 'u1', email: 'Boss@Example.com', email_verified: true })}`, deps)).toMatchObject({ kind: 'user', platform: true });
    expect(await resolveAdminPrincipal(`Bearer ${token({ sub: 'u2', email: 'boss@example.com' })}`, deps)).toMatchObject({ platform: false });
    expect(await resolveAdminPrincipal(`Bearer ${token({ sub: 'u3', email: 'boss@example.com', email_verified: 'true' })}`, deps)).toMatchObject({ platform: false });
    expect(await resolveAdminPrincipal(`Bearer ${token({ sub: 'u4', email: 'someone@example.com', email_verified: true })}`, deps)).toMatchObject({ platform: false });
  });

  it('team admin roles come from memberships', async () => {
    const p = await resolveAdminPrincipal(`Bearer ${token({ sub: 'u5' })}`, deps);
    const team = await tdb.db.prisma.team.create({ data: { slug: 'crew', name: 'Crew' } });
    await tdb.db.prisma.membership.create({ data: { teamId: team.id, userId: p.userId!, role: 'admin' } });
    expect([...(await resolveAdminPrincipal(`Bearer ${token({ sub: 'u5' })}`, deps)).adminTeams]).toEqual([['crew', team.id]]);
  });

  it.each([
    [undefined, false],
    ['Basic abc', true],
    ['Bearer', true],
    ['Bearer bad.token.here', true],
  ])('%s → AdminAuthError (token given: %s)', async (header, given) => {
    await expect(resolveAdminPrincipal(header, deps)).rejects.toEqual(expect.objectContaining({ name: 'AdminAuthError', tokenGiven: given }));
    await expect(resolveAdminPrincipal(header, deps)).rejects.toBeInstanceOf(AdminAuthError);
  });
});
