/**
 * Users are keyed by (issuer, subject). The built-in issuer puts the gateway user id in `sub`; an external
 * issuer's subjects are mapped to users on first sight. A user's e-mail is always the identity provider's latest
 * *verified* address: it grants platform-admin rights (ADMIN_EMAILS), finds users for the admin API, claims the
 * team invitations made for it and is shown to tool servers, so an address the provider no longer vouches for
 * (unverified, missing) is cleared, not kept. Addresses are stored normalised (`normaliseEmail`).
 */
import { LRUCache } from 'lru-cache';
import type { PrismaClient } from '../db/database.js';
import type { RawSql } from '../db/raw-sql.js';
import { normaliseEmail } from './email.js';
import { claimInvitations } from './invitations.js';
import type { MemberRole } from '../generated/prisma/client.js';

/** Issuer namespace for users created by the dev login and the CLI (`switchboard token`), keyed by e-mail. */
export const LOCAL_ISSUER = 'urn:switchboard:local';

export interface TokenUser {
  iss: string;
  sub: string;
  email: string | undefined;
  emailVerified: boolean;
}

export interface UserRef {
  id: string;
  email: string | null;
}

export interface UserDirectory {
  /**
   * The user behind a verified token; undefined when a built-in token names a user that no longer exists. An
   * external issuer's token sets the user's e-mail: its `email` claim when `email_verified` is true, else none.
   */
  fromToken(identity: TokenUser, builtinIssuer: string | undefined): Promise<UserRef | undefined>;
  /**
   * `fromToken` for a request to `team`, and — where it can be had in the same statement, for a built-in token
   * whose user is not cached — the user's role there, creating the membership of an `open` team as
   * `TeamDirectory.admit` would (`role` undefined: the caller must still admit the user).
   */
  fromTokenInTeam(identity: TokenUser, builtinIssuer: string | undefined, team: { id: string; joinPolicy: string }): Promise<{ user: UserRef; role: MemberRole | undefined } | undefined>;
  /**
   * Finds or creates the user for an identity (login, CLI) and records `email` — the provider's current verified
   * address, or undefined when it vouches for none, which clears a stored one.
   */
  upsert(issuer: string, subject: string, email: string | undefined, name?: string): Promise<UserRef>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `sql`: where given, a token's user is looked up with one raw statement (the first request of every user is a
 * handshake, and the ORM's per-query work was a tenth of a handshake's CPU); otherwise through Prisma.
 */
export function createUserDirectory(prisma: PrismaClient, sql?: Pick<RawSql, 'query'>): UserDirectory {
  /** The cache keys under which each user is held, so a change of the user's e-mail drops every cached copy. */
  const keysOf = new Map<string, Set<string>>();
  const cache = new LRUCache<string, UserRef>({
    max: 50_000,
    ttl: 60_000,
    dispose: (user, key) => {
      const keys = keysOf.get(user.id);
      keys?.delete(key);
      if (keys?.size === 0) keysOf.delete(user.id);
    },
  });
  const remember = (key: string, user: UserRef) => {
    cache.set(key, user);
    let keys = keysOf.get(user.id);
    if (!keys) keysOf.set(user.id, (keys = new Set()));
    keys.add(key);
  };
  const forget = (userId: string) => {
    for (const key of [...(keysOf.get(userId) ?? [])]) cache.delete(key);
  };
  const upsert = async (issuer: string, subject: string, rawEmail: string | undefined, name?: string) => {
    const email = rawEmail === undefined ? undefined : normaliseEmail(rawEmail) || undefined;
    // Insert-if-absent then update: safe when the same new user's first requests arrive together.
    await prisma.user.createMany({ data: [{ issuer, subject, email: email ?? null, name: name ?? null }], skipDuplicates: true });
    const where = { issuer_subject: { issuer, subject } };
    const user = await prisma.user.update({ where, data: { email: email ?? null, ...(name ? { name } : {}) }, select: { id: true, email: true } });
    // A login that changed or cleared the address: requests with tokens issued earlier see it at once.
    forget(user.id);
    // Callers pass only an address the provider vouches for, so it may claim what was invited by that address.
    if (email) await claimInvitations(prisma, user.id, email);
    return user;
  };
  const fromToken = async (identity: TokenUser, builtinIssuer: string | undefined): Promise<UserRef | undefined> => {
    const builtin = builtinIssuer !== undefined && identity.iss === builtinIssuer;
    const email = !builtin && identity.emailVerified && identity.email ? normaliseEmail(identity.email) || undefined : undefined;
    const key = `${identity.iss}\n${identity.sub}`;
    const hit = cache.get(key);
    // An external token with another address (or none) than the cached one updates the user at once.
    if (hit && (builtin || hit.email === (email ?? null))) return hit;
    let user: UserRef | undefined;
    if (builtin) {
      const id = identity.sub;
      user = !UUID.test(id)
        ? undefined
        : sql
          ? (await sql.query<UserRef>('SELECT id::text AS id, email FROM users WHERE id = $1::uuid', [id], 'sb_user_by_id'))[0]
          : ((await prisma.user.findUnique({ where: { id }, select: { id: true, email: true } })) ?? undefined);
    } else {
      user = await upsert(identity.iss, identity.sub, email);
    }
    if (user) remember(key, user);
    return user;
  };
  return {
    fromToken,
    async fromTokenInTeam(identity, builtinIssuer, team) {
      const id = identity.sub;
      if (!sql || builtinIssuer === undefined || identity.iss !== builtinIssuer || cache.has(`${identity.iss}\n${id}`) || !UUID.test(id)) {
        const user = await fromToken(identity, builtinIssuer);
        return user && { user, role: undefined };
      }
      // A user's first request on this replica: the user and their admission in one statement (a handshake's
      // round trips to PostgreSQL were most of its cost). A membership inserted concurrently, committed after this
      // statement began, is not seen here: `role` is then null and the caller's admit finds it.
      const rows = await sql.query<UserRef & { role: MemberRole | null }>(
        `WITH u AS (SELECT id, email FROM users WHERE id = $1::uuid),
         added AS (
           INSERT INTO memberships (team_id, user_id) SELECT $2::uuid, u.id FROM u WHERE $3::boolean
           ON CONFLICT (team_id, user_id) DO NOTHING RETURNING role::text)
         SELECT u.id::text AS id, u.email,
           COALESCE((SELECT role FROM added), (SELECT m.role::text FROM memberships m WHERE m.team_id = $2::uuid AND m.user_id = u.id)) AS role
         FROM u`,
        [id, team.id, team.joinPolicy === 'open'],
        'sb_user_in_team',
      );
      const row = rows[0];
      if (!row) return undefined;
      const user = { id: row.id, email: row.email };
      remember(`${identity.iss}\n${id}`, user);
      return { user, role: row.role ?? undefined };
    },
    upsert,
  };
}
