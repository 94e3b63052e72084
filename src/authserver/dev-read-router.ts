/**
 * What the CLI's read-only commands show (`teams list`, `members list`, `tool-servers list`), read here both for the
 * CLI itself and for `GET /dev/teams…`, through which the CLI asks a gateway that holds the embedded database
 * (PGlite serves one process). Mounted beside `POST /dev/token` and guarded like it: the dev login on, loopback
 * connections only — whoever may log in as any e-mail may read this through the admin API already.
 */
import { Router } from 'express';
import type { PrismaClient } from '../db/database.js';
import { isLoopbackSocket } from '../http/loopback-socket.js';
import { toTeamJson } from '../admin/teams-service.js';
import { toInvitationJson, toMemberJson } from '../admin/members-service.js';
import { listToolServers } from '../toolservers/tool-server-registry.js';
import { TEAM_SLUG } from '../teams/team-directory.js';
import { Forbidden, NotFound } from '../errors.js';

async function teamOf(prisma: PrismaClient, slug: string) {
  const team = TEAM_SLUG.test(slug) ? await prisma.team.findUnique({ where: { slug }, select: { id: true, slug: true } }) : null;
  if (!team) throw new NotFound('team_not_found', `No team ${slug}`);
  return team;
}

/** Every team, by slug. */
export async function readTeams(prisma: PrismaClient) {
  const rows = await prisma.team.findMany({ orderBy: { slug: 'asc' } });
  return { items: rows.map(toTeamJson) };
}

/** A team's members (oldest first) and its pending invitations. */
export async function readMembers(prisma: PrismaClient, slug: string) {
  const team = await teamOf(prisma, slug);
  const [members, invitations] = await Promise.all([
    prisma.membership.findMany({ where: { teamId: team.id }, include: { user: { select: { email: true, name: true } } }, orderBy: [{ createdAt: 'asc' }, { userId: 'asc' }] }),
    prisma.teamInvitation.findMany({ where: { teamId: team.id }, orderBy: [{ createdAt: 'asc' }, { email: 'asc' }] }),
  ]);
  return { items: members.map(toMemberJson), invitations: invitations.map((i) => toInvitationJson(team.slug, i)) };
}

/** A team's tool servers (secrets are never part of them). */
export async function readToolServers(prisma: PrismaClient, slug: string) {
  const team = await teamOf(prisma, slug);
  return { items: await listToolServers(prisma, team.id) };
}

export type TeamsView = Awaited<ReturnType<typeof readTeams>>;
export type MembersView = Awaited<ReturnType<typeof readMembers>>;
export type ToolServersView = Awaited<ReturnType<typeof readToolServers>>;

export function devReadRouter(prisma: PrismaClient): Router {
  const router = Router();
  router.use('/dev/teams', (req, _res, next) => {
    next(isLoopbackSocket(req) ? undefined : new Forbidden('Dev endpoints only answer local callers'));
  });
  router.get('/dev/teams', async (_req, res) => {
    res.set('Cache-Control', 'no-store').json(await readTeams(prisma));
  });
  router.get('/dev/teams/:team/members', async (req, res) => {
    res.set('Cache-Control', 'no-store').json(await readMembers(prisma, req.params.team));
  });
  router.get('/dev/teams/:team/tool-servers', async (req, res) => {
    res.set('Cache-Control', 'no-store').json(await readToolServers(prisma, req.params.team));
  });
  return router;
}
