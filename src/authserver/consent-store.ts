/**
 * Remembered consent, per (user, client, team): once a person allows a client for a team, later authorizations
 * of that client for that team skip the consent page (unless the client asks with `prompt=consent` or wants more
 * scope) until the consent is revoked.
 */
import type { PrismaClient } from '../db/database.js';
import { scopeCovers, splitScope } from './scopes.js';

export interface ConsentKey {
  userId: string;
  clientId: string;
  teamId: string;
}

export interface ConsentStore {
  /** Whether the user already allowed at least `scope` for this client and team. */
  covers(key: ConsentKey, scope: string): Promise<boolean>;
  /** Records (or widens) the consent. */
  remember(key: ConsentKey, scope: string): Promise<void>;
  /** Forgets consents of a user, optionally only for one client and/or team; returns how many. */
  revoke(userId: string, filter?: { clientId?: string; teamId?: string }): Promise<number>;
}

export function createConsentStore(prisma: PrismaClient): ConsentStore {
  return {
    async covers(key, scope) {
      const row = await prisma.consent.findUnique({ where: { userId_clientId_teamId: key } });
      return row !== null && scopeCovers(row.scope, scope);
    },
    async remember(key, scope) {
      const existing = await prisma.consent.findUnique({ where: { userId_clientId_teamId: key } });
      const merged = [...new Set([...splitScope(existing?.scope), ...splitScope(scope)])].join(' ');
      await prisma.consent.upsert({ where: { userId_clientId_teamId: key }, create: { ...key, scope: merged }, update: { scope: merged } });
    },
    async revoke(userId, filter = {}) {
      const { count } = await prisma.consent.deleteMany({ where: { userId, ...filter } });
      return count;
    },
  };
}
