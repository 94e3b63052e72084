/**
 * `POST /dev/token` — local tokens while the gateway runs on the embedded database, which the CLI cannot open
 * itself (PGlite is single-process). Exists only with the dev login on (anyone on this machine may already log in as
 * any e-mail then, so it grants nothing new) and, like the dev login, answers loopback connections only. A token for
 * a non-member of an invite-only team is refused unless `force` (`token --force`); the CLI's read-only commands
 * are answered beside it (`dev-read-router.ts`).
 */
import express, { Router } from 'express';
import { z } from 'zod';
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import { isLoopbackSocket } from '../http/loopback-socket.js';
import { mintLocalToken } from './local-token.js';
import { nonMemberProblem } from './token-membership.js';
import { devReadRouter } from './dev-read-router.js';
import { Invalid, Forbidden } from '../errors.js';

const body = z.object({
  email: z.string().min(3).max(320),
  team: z.string().max(63).optional(),
  admin: z.boolean().default(false),
  ttl: z.string().max(10).default('1h'),
  client: z.string().min(1).max(200).default('switchboard-cli'),
  /** Mint even for a non-member of an invite-only team (`switchboard token --force`). */
  force: z.boolean().default(false),
});

export function devTokenRouter(deps: { config: Config; db: Database; encryptionKey: Buffer }): Router {
  const router = Router();
  router.post('/dev/token', express.json({ limit: '4kb' }), async (req, res) => {
    if (!isLoopbackSocket(req)) throw new Forbidden('Dev tokens are only handed out to local callers');
    const parsed = body.safeParse(req.body);
    if (!parsed.success) throw new Invalid('invalid_body', 'Invalid body', parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })));
    const b = parsed.data;
    const team = b.admin ? undefined : (b.team ?? 'demo');
    const problem = team === undefined || b.force ? undefined : await nonMemberProblem(deps.db.prisma, team, b.email);
    if (problem) throw new Forbidden(problem);
    const token = await mintLocalToken({ ...deps, email: b.email, team, ttl: b.ttl, clientId: b.client });
    res.set('Cache-Control', 'no-store').json({ access_token: token, token_type: 'Bearer' });
  });
  // What the CLI's read-only commands ask for while this gateway holds the embedded database.
  router.use(devReadRouter(deps.db.prisma));
  return router;
}
