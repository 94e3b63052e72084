/**
 * Resolving `{team}` slugs and enforcing join policies. Lookups are cached briefly (teams and memberships are read
 * on every MCP request); admin changes take effect within the cache TTL on every replica.
 */
import { LRUCache } from 'lru-cache';
import type { Database } from '../db/database.js';
import type { JoinPolicy, MemberRole } from '../generated/prisma/client.js';
import { Forbidden } from '../errors.js';

export const TEAM_SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const DEFAULT_TEAM = 'demo';

export interface TeamRef {
  id: string;
  slug: string;
  name: string;
  joinPolicy: JoinPolicy;
}

export interface TeamDirectory {
  /** The team with this slug, or undefined (also for slugs that are not valid). */
  find(slug: string): Promise<TeamRef | undefined>;
  /**
   * Ensures the user may use the team: creates the membership for `open` teams, 403 for `invite` non-members.
   * `known`: the role just read with the user (`UserDirectory.fromTokenInTeam`), remembered without a query.
   */
  admit(team: TeamRef, userId: string, known?: MemberRole): Promise<MemberRole>;
  /** Forgets cached entries (after admin changes in this process). */
  invalidate(slug?: string): void;
}

export function createTeamDirectory(db: Pick<Database, 'prisma' | 'sql'>, ttlMs = 15_000): TeamDirectory {
  const { prisma, sql } = db;
  const teams = new LRUCache<string, TeamRef | 'none'>({ max: 10_000, ttl: ttlMs });
  const members = new LRUCache<string, MemberRole>({ max: 100_000, ttl: ttlMs });
  return {
    async find(slug) {
      if (!TEAM_SLUG.test(slug)) return undefined;
      const hit = teams.get(slug);
      if (hit) return hit === 'none' ? undefined : hit;
      const row = await prisma.team.findUnique({ where: { slug }, select: { id: true, slug: true, name: true, joinPolicy: true } });
      teams.set(slug, row ?? 'none');
      return row ?? undefined;
    },
    async admit(team, userId, known) {
      const key = `${team.id}:${userId}`;
      if (known) {
        members.set(key, known);
        return known;
      }
      const cached = members.get(key);
      if (cached) return cached;
      let role: MemberRole | undefined;
      if (team.joinPolicy === 'open') {
        // Insert-if-absent and read in one statement (several first requests of one user arrive together:
        // ChatGPT sends in parallel); the new row, or the one that was there.
        const rows = await sql.query<{ role: MemberRole }>(
          `WITH added AS (
             INSERT INTO memberships (team_id, user_id) VALUES ($1::uuid, $2::uuid) ON CONFLICT (team_id, user_id) DO NOTHING RETURNING role::text)
           SELECT role FROM added UNION ALL SELECT role::text FROM memberships WHERE team_id = $1::uuid AND user_id = $2::uuid LIMIT 1`,
          [team.id, userId],
        );
        // A concurrent first request's insert, committed after this statement began, is seen by the next one.
        role = rows[0]?.role ?? (await sql.query<{ role: MemberRole }>(`SELECT role::text FROM memberships WHERE team_id = $1::uuid AND user_id = $2::uuid`, [team.id, userId]))[0]?.role;
      } else {
        role = (await prisma.membership.findUnique({ where: { teamId_userId: { teamId: team.id, userId } }, select: { role: true } }))?.role;
        if (!role) throw new Forbidden(`Team ${team.slug} is invite-only and you are not a member; ask a team admin to add you`);
      }
      if (!role) throw new Error(`membership of ${userId} in ${team.id} neither found nor created`);
      members.set(key, role);
      return role;
    },
    invalidate(slug) {
      if (slug) teams.delete(slug);
      else teams.clear();
      members.clear();
    },
  };
}
