/**
 * Creating teams, shared by the CLI and the admin API so both apply the same rules.
 */
import { z } from 'zod';
import type { PrismaClient } from '../db/database.js';
import { Prisma } from '../generated/prisma/client.js';
import { BUILTIN_PACKS } from '../toolservers/packs/index.js';
import { TEAM_SLUG } from './team-directory.js';
import { Invalid, Conflict } from '../errors.js';

export const teamInput = z.object({
  slug: z.string().regex(TEAM_SLUG, { message: 'must be 1–63 lowercase letters, digits or dashes, not starting or ending with a dash' }),
  name: z.string().trim().min(1).max(200),
  joinPolicy: z.enum(['open', 'invite']).default('open'),
  packs: z
    .array(z.string().refine((p) => BUILTIN_PACKS.has(p), { message: `unknown pack; known: ${[...BUILTIN_PACKS.keys()].join(', ')}` }))
    .default([]),
});

export type TeamInput = z.input<typeof teamInput>;

export async function createTeam(prisma: PrismaClient, input: TeamInput) {
  const parsed = teamInput.safeParse(input);
  if (!parsed.success) {
    throw new Invalid('invalid_body', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })));
  }
  const t = parsed.data;
  try {
    return await prisma.team.create({
      data: {
        slug: t.slug,
        name: t.name,
        joinPolicy: t.joinPolicy,
        toolServers: { create: t.packs.map((pack) => ({ name: pack, kind: 'builtin', pack })) },
      },
    });
  } catch (err) {
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
      throw new Conflict('conflict', `A team with slug ${t.slug} already exists`);
    }
    throw err;
  }
}
