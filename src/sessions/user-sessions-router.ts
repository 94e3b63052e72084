/** `GET /t/{team}/sessions`: the calling user's own sessions in the team, with their MCP access token. */
import { Router, type RequestHandler } from 'express';
import type { Principal } from '../mcp/session-runtime.js';
import type { PrismaClient } from '../db/database.js';
import { listSessions, parseSessionListQuery } from './session-list.js';

export function userSessionsRouter(deps: { prisma: PrismaClient; pipeline: RequestHandler[] }): Router {
  const router = Router();
  router.get('/t/:team/sessions', ...deps.pipeline, async (req, res) => {
    const p = res.locals.principal as Principal;
    const q = parseSessionListQuery(req.query);
    res.json(await listSessions(deps.prisma, { teamId: p.team.id, userId: p.user.id }, q));
  });
  return router;
}
