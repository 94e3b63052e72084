/** `GET /t/{team}/sessions`: the calling user's own sessions in the team, with their MCP access token. */
import { Router, type RequestHandler } from 'express';
import { parseSessionListQuery, type SessionListQuery } from './session-list.js';

export interface UserSessionsDeps {
  /** A page of the sessions of `userId` in team `teamId` (`services.sessions.listOwn`). */
  listOwn(teamId: string, userId: string, q: SessionListQuery): Promise<unknown>;
  pipeline: RequestHandler[];
}

export function userSessionsRouter(deps: UserSessionsDeps): Router {
  const router = Router();
  router.get('/t/:team/sessions', ...deps.pipeline, async (req, res) => {
    const p = res.locals.principal!;
    const q = parseSessionListQuery(req.query);
    res.json(await deps.listOwn(p.team.id, p.user.id, q));
  });
  return router;
}
