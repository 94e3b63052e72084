/**
 * The HTTP edge of auth mode `oauth`:
 * - `GET /oauth/upstream/client-metadata.json`: the gateway's Client ID Metadata Document (its URL is its client id);
 * - `GET /oauth/upstream/connect?link=…`: the connect page — checks the sealed single-use link, binds this browser
 *   with a cookie and redirects to the tool server's authorization endpoint;
 * - `GET /oauth/upstream/callback`: exchanges the code and stores the tokens, then says the person can go back to
 *   their chat (only in the browser that started the login: the cookie must match the `state`);
 * - `GET /t/{team}/connections`, `DELETE /t/{team}/connections/{toolServer}`: the caller's own connections, with
 *   their MCP access token for the team (the same pipeline as `GET /t/{team}/sessions`).
 */
import { Router, type RequestHandler, type Response } from 'express';
import type { Database } from '../../db/database.js';
import type { Logger } from '../../observability/logger.js';
import { html, sendPage } from '../../authserver/html.js';
import { sendErrorPage } from '../../authserver/pages.js';
import { Invalid, NotFound } from '../../errors.js';
import { TOOL_SERVER_NAME } from '../tool-server-config.js';
import { CONNECT_PATH } from './connect-link.js';
import { CALLBACK_PATH, CLIENT_METADATA_PATH } from './upstream-registration.js';
import { ConnectRefused, type UpstreamOAuth } from './upstream-oauth.js';
import { listConnections, removeConnectionByServer } from './connections-service.js';

const STATE_COOKIE = 'sb_upstream_state';

export function upstreamOAuthRouter(deps: { oauth: UpstreamOAuth; db: Database; logger: Logger; secureCookies: boolean; pipeline: RequestHandler[] }): Router {
  const router = Router();

  router.get(CLIENT_METADATA_PATH, (_req, res) => {
    res.set('cache-control', 'public, max-age=3600').json(deps.oauth.clientMetadataDocument());
  });

  router.get(CONNECT_PATH, async (req, res) => {
    try {
      const { location, state } = await deps.oauth.beginConnect(req.query.link);
      res.cookie(STATE_COOKIE, state, { httpOnly: true, sameSite: 'lax', secure: deps.secureCookies, path: '/oauth/upstream', maxAge: 15 * 60_000 });
      res.set('cache-control', 'no-store').redirect(303, location);
    } catch (err) {
      refused(res, err);
    }
  });

  router.get(CALLBACK_PATH, async (req, res) => {
    try {
      const cookie = readCookie(req.headers.cookie, STATE_COOKIE);
      const { toolServer } = await deps.oauth.finishConnect(req.query as Record<string, unknown>, cookie);
      res.clearCookie(STATE_COOKIE, { path: '/oauth/upstream' });
      sendPage(res, {
        title: 'Connected',
        body: html`<h1>Connected</h1>
<p>Your ${toolServer} account is connected. You can close this page, return to your chat and try again.</p>`,
      });
    } catch (err) {
      refused(res, err);
    }
  });

  router.get('/t/:team/connections', ...deps.pipeline, async (_req, res) => {
    const p = res.locals.principal!;
    res.json({ items: await listConnections(deps.db.prisma, { userId: p.user.id, teamId: p.team.id }), nextCursor: null });
  });

  router.delete('/t/:team/connections/:toolServer', ...deps.pipeline, async (req, res) => {
    const p = res.locals.principal!;
    const name = String(req.params.toolServer);
    if (!TOOL_SERVER_NAME.test(name)) throw new Invalid('invalid_path', 'toolServer must be a tool server name (1–32 of a-z, 0-9, _ and -)');
    const removed = await removeConnectionByServer(deps.db.prisma, { userId: p.user.id, teamId: p.team.id }, name);
    if (!removed) throw new NotFound('connection_not_found', `You have no connection to tool server ${name} in this team`);
    // Answered once the upstream has been told too (bounded by REVOKE_TIMEOUT_MS; its refusal is logged, not the user's problem).
    await deps.oauth.revoke(removed.tokens);
    res.status(204).end();
  });

  function refused(res: Response, err: unknown): void {
    if (err instanceof ConnectRefused) return sendErrorPage(res, err.status, err.title, err.message);
    deps.logger.error({ err }, 'upstream connect failed');
    sendErrorPage(res, 500, 'Something went wrong', 'The gateway could not complete the connection. Try the link again later.');
  }

  return router;
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}
