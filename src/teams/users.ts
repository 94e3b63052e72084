/**
 * Users are keyed by (issuer, subject). The built-in issuer puts the gateway user id in `sub`; an external
 * issuer's subjects are mapped to users on first sight, keeping the e-mail claim current. E-mail addresses are
 * stored normalised (`normaliseEmail`), and a sign-in with a verified address claims the invitations made for it.
 */
import { LRUCache } from 'lru-cache';
import type { PrismaClient } from '../db/database.js';
import { normaliseEmail } from './email.js';
import { claimInvitations } from './invitations.js';

/** Issuer namespace for users created by the dev login and the CLI (`switchboard token`), keyed by e-mail. */
export const LOCAL_ISSUER = 'urn:switchboard:local';

export interface UserRef {
  id: string;
  email: string | null;
}

export interface UserDirectory {
  /** The user behind a verified token; undefined when a built-in token names a user that no longer exists. */
  fromToken(
    identity: { iss: string; sub: string; email: string | undefined; emailVerified?: boolean | undefined },
    builtinIssuer: string | undefined,
  ): Promise<UserRef | undefined>;
  /**
   * Finds or creates the user for an upstream identity (login, CLI). Callers pass a verified address (the login
   * drops unverified ones) unless `emailVerified: false` says otherwise; only a verified one claims invitations.
   */
  upsert(issuer: string, subject: string, email: string | undefined, name?: string, opts?: { emailVerified?: boolean }): Promise<UserRef>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createUserDirectory(prisma: PrismaClient): UserDirectory {
  const cache = new LRUCache<string, UserRef>({ max: 50_000, ttl: 60_000 });
  const upsert = async (issuer: string, subject: string, rawEmail: string | undefined, name?: string, opts: { emailVerified?: boolean } = {}) => {
    const email = rawEmail === undefined ? undefined : normaliseEmail(rawEmail) || undefined;
    // Insert-if-absent then update: safe when the same new user's first requests arrive together.
    await prisma.user.createMany({ data: [{ issuer, subject, email: email ?? null, name: name ?? null }], skipDuplicates: true });
    const where = { issuer_subject: { issuer, subject } };
    const changes = { ...(email ? { email } : {}), ...(name ? { name } : {}) };
    const user = Object.keys(changes).length
      ? await prisma.user.update({ where, data: changes, select: { id: true, email: true } })
      : await prisma.user.findUniqueOrThrow({ where, select: { id: true, email: true } });
    if (email && opts.emailVerified !== false) await claimInvitations(prisma, user.id, email);
    return user;
  };
  return {
    async fromToken(identity, builtinIssuer) {
      const key = `${identity.iss}\n${identity.sub}`;
      const hit = cache.get(key);
      if (hit) return hit;
      let user: UserRef | undefined;
      if (builtinIssuer !== undefined && identity.iss === builtinIssuer) {
        user = UUID.test(identity.sub)
          ? ((await prisma.user.findUnique({ where: { id: identity.sub }, select: { id: true, email: true } })) ?? undefined)
          : undefined;
      } else {
        user = await upsert(identity.iss, identity.sub, identity.email, undefined, { emailVerified: identity.emailVerified === true });
      }
      if (user) cache.set(key, user);
      return user;
    },
    upsert,
  };
}
