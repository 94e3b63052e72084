/** First start: a `demo` team (open to anyone who logs in) with the built-in `demo` pack. */
import type { PrismaClient } from '../db/database.js';
import { DEFAULT_TEAM } from './team-directory.js';

/** Creates the demo team when the gateway has no team at all; returns true if it did. */
export async function ensureDemoTeam(prisma: PrismaClient): Promise<boolean> {
  return prisma.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(7593286410873497192)`;
    if ((await tx.team.count()) > 0) return false;
    await tx.team.create({
      data: {
        slug: DEFAULT_TEAM,
        name: 'Demo',
        joinPolicy: 'open',
        toolServers: { create: { name: 'demo', kind: 'builtin', pack: 'demo' } },
      },
    });
    return true;
  });
}
