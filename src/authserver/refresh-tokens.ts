/**
 * Refresh tokens: opaque, stored as SHA-256 hashes, grouped in families (one per authorization), rotated on every
 * use. Presenting a token that was already rotated means two parties hold it (OAuth 2.1 §4.3.1, RFC 9700 §4.14):
 * the whole family is revoked, so the thief and the victim both have to authorize again.
 */
import type { PrismaClient } from '../db/database.js';
import type { RefreshToken } from '../generated/prisma/client.js';
import { hashSecret, randomToken } from '../security/secret-box.js';
import { InvalidGrant } from './oauth-errors.js';

/** Each token lives this long unused; a client that refreshes at least this often stays logged in. */
export const REFRESH_TOKEN_SECONDS = 30 * 24 * 3600;

export interface RefreshGrant {
  familyId: string;
  clientId: string;
  userId: string;
  resource: string;
  scope: string;
  rotatedFrom?: string;
}

type Db = Pick<PrismaClient, 'refreshToken'>;

export interface RefreshTokens {
  /** Stores a new token (inside the caller's transaction when `db` is given) and returns it. */
  issue(grant: RefreshGrant, db?: Db): Promise<string>;
  /** The live token row for `clientId`; reuse of a rotated token revokes its family. Throws `InvalidGrant`. */
  lookup(token: string, clientId: string): Promise<RefreshToken>;
  /** Marks `row` used and issues its successor atomically; a lost race counts as reuse. */
  rotate(row: RefreshToken, scope: string): Promise<string>;
  revokeFamily(familyId: string): Promise<void>;
  /** RFC 7009: revokes the family of `token` if it belongs to `clientId`; silently ignores anything else. */
  revoke(token: string, clientId: string): Promise<void>;
}

export function createRefreshTokens(deps: { prisma: PrismaClient; clock: () => number }): RefreshTokens {
  const { prisma, clock } = deps;

  async function revokeFamily(familyId: string) {
    await prisma.refreshToken.updateMany({ where: { familyId, revokedAt: null }, data: { revokedAt: new Date(clock()) } });
  }

  async function issue(grant: RefreshGrant, db: Db = prisma) {
    const token = randomToken(32);
    await db.refreshToken.create({
      data: {
        tokenHash: hashSecret(token),
        familyId: grant.familyId,
        clientId: grant.clientId,
        userId: grant.userId,
        resource: grant.resource,
        scope: grant.scope,
        rotatedFrom: grant.rotatedFrom ?? null,
        expiresAt: new Date(clock() + REFRESH_TOKEN_SECONDS * 1000),
      },
    });
    return token;
  }

  return {
    issue,
    revokeFamily,

    async lookup(token, clientId) {
      const row = token.length <= 200 ? await prisma.refreshToken.findUnique({ where: { tokenHash: hashSecret(token) } }) : null;
      if (!row || row.clientId !== clientId) throw new InvalidGrant('The refresh token is not valid');
      if (row.revokedAt) throw new InvalidGrant('The refresh token has been revoked; authorize again');
      if (row.usedAt) {
        await revokeFamily(row.familyId);
        throw new InvalidGrant('The refresh token was already used; every token of this authorization is revoked');
      }
      if (row.expiresAt.getTime() <= clock()) throw new InvalidGrant('The refresh token has expired; authorize again');
      return row;
    },

    async rotate(row, scope) {
      const next = await prisma.$transaction(async (tx) => {
        const claimed = await tx.refreshToken.updateMany({
          where: { tokenHash: row.tokenHash, usedAt: null, revokedAt: null },
          data: { usedAt: new Date(clock()) },
        });
        if (claimed.count !== 1) return undefined;
        return issue({ familyId: row.familyId, clientId: row.clientId, userId: row.userId, resource: row.resource, scope, rotatedFrom: row.tokenHash }, tx);
      });
      if (next === undefined) {
        await revokeFamily(row.familyId);
        throw new InvalidGrant('The refresh token was already used; every token of this authorization is revoked');
      }
      return next;
    },

    async revoke(token, clientId) {
      if (token.length > 200) return;
      const row = await prisma.refreshToken.findUnique({ where: { tokenHash: hashSecret(token) } });
      if (row && row.clientId === clientId) await revokeFamily(row.familyId);
    },
  };
}
