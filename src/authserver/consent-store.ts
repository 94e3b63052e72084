/**
 * Remembered consent, per (user, client, team): once a person allows a client for a team, later authorizations
 * of that client for that team skip the consent page (unless the client asks with `prompt=consent` or wants more
 * scope) until the consent is revoked. Consent for the admin API is kept the same way under `ADMIN_CONSENT_TEAM_ID`.
 */
import type { PrismaClient } from '../db/database.js';
import { scopeCovers, splitScope } from './scopes.js';

/**
 * The `teamId` of consents for the admin API (`PUBLIC_URL/admin`), which belongs to no team: the nil UUID (RFC 9562
 * §5.9). `consents.team_id` is a uuid column without a foreign key to `teams`, and team ids are random (v4) UUIDs,
 * never nil — so the sentinel cannot collide with a team, needs no migration, and keeps one key shape and one
 * lookup for both. Revoking a user's consents without a team filter revokes this one too.
 */
export const ADMIN_CONSENT_TEAM_ID = '00000000-0000-0000-0000-000000000000';

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
