/**
 * Authorization codes: random, stored only as SHA-256 hashes, valid for 60 s, single use. Redeeming marks the
 * code used and records the refresh-token family it started in the same transaction, so a second redemption
 * (RFC 6749 §4.1.2: "the authorization server MUST deny the request and SHOULD revoke all tokens previously
 * issued based on that authorization code") can find and revoke what the first one got.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { PrismaClient } from '../db/database.js';
import type { AuthorizationCode } from '../generated/prisma/client.js';
import { hashSecret, randomToken, safeEqual } from '../security/secret-box.js';
import { InvalidGrant } from './oauth-errors.js';
import type { RefreshTokens } from './refresh-tokens.js';

export const AUTHORIZATION_CODE_SECONDS = 60;
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

export interface CodeGrant {
  clientId: string;
  userId: string;
  redirectUri: string;
  resource: string;
  scope: string;
  codeChallenge: string;
}

/** RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) must equal the stored S256 challenge. */
export function pkceMatches(verifier: string, challenge: string): boolean {
  if (!CODE_VERIFIER.test(verifier)) return false;
  return safeEqual(createHash('sha256').update(verifier).digest('base64url'), challenge);
}

export interface AuthorizationCodes {
  issue(grant: CodeGrant): Promise<string>;
  /** The unredeemed, unexpired code row; a used code revokes its family and throws `InvalidGrant`. */
  lookup(code: string): Promise<AuthorizationCode>;
  /**
   * Marks the code used and runs `issue(familyId)` (which stores the refresh token) in one transaction; a code
   * redeemed concurrently loses the race and has its family revoked.
   */
  redeem<T>(row: AuthorizationCode, issue: (familyId: string, tx: Pick<PrismaClient, 'refreshToken'>) => Promise<T>): Promise<T>;
}

export function createAuthorizationCodes(deps: { prisma: PrismaClient; clock: () => number; refreshTokens: RefreshTokens }): AuthorizationCodes {
  const { prisma, clock, refreshTokens } = deps;

  async function reused(codeHash: string): Promise<never> {
    const row = await prisma.authorizationCode.findUnique({ where: { codeHash } });
    if (row?.familyId) await refreshTokens.revokeFamily(row.familyId);
    throw new InvalidGrant('The authorization code was already used; the tokens issued for it are revoked');
  }

  return {
    async issue(grant) {
      const code = randomToken(32);
      await prisma.authorizationCode.create({
        data: { codeHash: hashSecret(code), ...grant, expiresAt: new Date(clock() + AUTHORIZATION_CODE_SECONDS * 1000) },
      });
      return code;
    },

    async lookup(code) {
      const row = code.length <= 200 ? await prisma.authorizationCode.findUnique({ where: { codeHash: hashSecret(code) } }) : null;
      if (!row) throw new InvalidGrant('The authorization code is not valid');
      if (row.usedAt) return reused(row.codeHash);
      if (row.expiresAt.getTime() <= clock()) throw new InvalidGrant('The authorization code has expired; start the authorization again');
      return row;
    },

    async redeem(row, issue) {
      const familyId = randomUUID();
      const result = await prisma.$transaction(async (tx) => {
        const claimed = await tx.authorizationCode.updateMany({
          where: { codeHash: row.codeHash, usedAt: null },
          data: { usedAt: new Date(clock()), familyId },
        });
        if (claimed.count !== 1) return { lost: true as const };
        return { lost: false as const, value: await issue(familyId, tx) };
      });
      if (result.lost) return reused(row.codeHash);
      return result.value;
    },
  };
}
