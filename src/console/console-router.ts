/**
 * `/console`: the server-rendered admin console. Every page is a pipeline — read the cookie session → judge the
 * user with the admin API's rules (`userPrincipal`, `mayCall`) → validate → call the admin services → render — and
 * every state-changing form is a POST that must carry the session's CSRF token (403 otherwise). Who may enter:
 * platform admins (ADMIN_EMAILS) and team admins (for their teams only); anyone else signed in gets a 403 page.
 * Errors are pages, never JSON: bad input 4xx saying what was wrong, an outage 503, a fault 500 with a request id.
 */
import express, { Router, type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import cookieParser from 'cookie-parser';
import { html } from '../authserver/html.js';
import type { Logger } from '../observability/logger.js';
import type { Config } from '../config/config.js';
import type { Services } from '../services.js';
import { createConsoleCookies, type ConsoleCookies } from './console-cookies.js';
import { CONSOLE_STYLESHEET, CONSOLE_STYLESHEET_PATH, sendConsoleError, sendConsolePage, type Viewer } from './layout.js';
import { signInRouter, consolePath } from './sign-in.js';
import { sessionRoutes } from './sessions-page.js';
import { activityRoutes } from './activity-page.js';
import { teamRoutes } from './teams-pages.js';
import { DomainError, isDatabaseUnavailable, isDataException } from '../errors.js';

/** What the console is built on: the services (never the database), the configuration, the cookie key. */
export interface ConsoleDeps {
  config: Config;
  services: Services;
  logger: Logger;
  clock: () => number;
  encryptionKey: Buffer;
}

export type ConsoleHandler = (req: Request, res: Response, viewer: Viewer) => Promise<void>;

/** How routes are declared: `page` for GETs that render, `action` for POSTs that change something. */
export interface ConsoleRoutes {
  page(path: string, handler: ConsoleHandler): void;
  action(path: string, handler: ConsoleHandler): void;
}

const TITLES: Record<number, string> = { 400: 'Invalid request', 403: 'Not allowed', 404: 'Not found', 405: 'Not allowed', 409: 'Conflict', 413: 'Too large', 422: 'Not possible' };

function refuseNonAdmin(res: Response, viewer: Viewer): void {
  sendConsoleError(
    res,
    403,
    'No admin rights',
    `You are signed in as ${viewer.principal.email ?? 'a user without an e-mail address'}, who administers no team and is not a platform admin. Ask a platform admin to make you a team admin, or sign out and sign in with another account.`,
    { viewer, back: { href: '/console/login', label: 'Sign in with another account' } },
  );
}

/** Where an error page's "back" link goes: the team page after a team form, else the section's start page. */
function backFor(req: Request): { href: string; label: string } {
  const team = /^\/teams\/([a-z0-9-]{1,63})\//.exec(req.path)?.[1];
  if (req.method === 'POST' && team) return { href: `/console/teams/${team}`, label: `Back to team ${team}` };
  const section = /^\/(sessions|activity|teams)(?:\/|$)/.exec(req.path)?.[1];
  return section ? { href: `/console/${section}`, label: `Back to ${section}` } : { href: '/console', label: 'Back to the console' };
}

function errorPages(logger: Logger, viewers: WeakMap<Response, Viewer>): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const viewer = viewers.get(res);
    const back = backFor(req);
    if (err instanceof DomainError && err.status < 500) return sendConsoleError(res, err.status, TITLES[err.status] ?? 'Invalid request', err.message, { viewer, back });
    const status = (err as { status?: unknown }).status;
    if ((typeof status === 'number' && status >= 400 && status < 500) || isDataException(err)) {
      return sendConsoleError(res, 400, 'Invalid request', 'The request could not be read (a malformed form, address or value).', { viewer, back });
    }
    if (isDatabaseUnavailable(err)) {
      (req.log ?? logger).warn({ err }, 'console: database unavailable');
      return sendConsoleError(res, 503, 'Temporarily unavailable', 'The database cannot be reached right now. Nothing was lost: wait a few seconds and reload.', { viewer, back });
    }
    (req.log ?? logger).error({ err }, 'console page failed');
    sendConsoleError(res, 500, 'Something went wrong', `The console could not complete this (request id ${String(req.id ?? 'unknown')}).`, { viewer, back });
  };
}

/** The signed-in admin behind a request, or undefined after answering (redirect to sign in, or a refusal page). */
async function viewerOf(req: Request, res: Response, deps: ConsoleDeps, cookies: ConsoleCookies, post: boolean): Promise<Viewer | undefined> {
  const session = await cookies.readSession(req);
  const principal = session && (await deps.services.users.principalOf(session.userId));
  if (!session || !principal) {
    if (session) cookies.clearSession(res);
    if (post) {
      sendConsoleError(res, 403, 'Request refused', 'Your console session has ended, so nothing was changed. Sign in and try again.', { back: { href: '/console/login', label: 'Sign in' } });
    } else {
      res.set('Cache-Control', 'no-store').redirect(303, `/console/login?next=${encodeURIComponent(consolePath(req.originalUrl))}`);
    }
    return undefined;
  }
  const viewer = { principal, session };
  if (post && !cookies.checkCsrf(session, (req.body as Record<string, unknown> | undefined)?.csrf)) {
    sendConsoleError(res, 403, 'Request refused', 'The form did not carry this console session’s security token, so nothing was changed. Reload the page and try again.', { viewer });
    return undefined;
  }
  if (!principal.platform && principal.adminTeams.size === 0) {
    refuseNonAdmin(res, viewer);
    return undefined;
  }
  return viewer;
}

export function consoleRouter(deps: ConsoleDeps): Router {
  const router = Router();
  const cookies = createConsoleCookies({ encryptionKey: deps.encryptionKey, publicUrl: deps.config.publicUrl, clock: deps.clock });
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 50 });
  const viewers = new WeakMap<Response, Viewer>();

  router.get(CONSOLE_STYLESHEET_PATH.slice('/console'.length), (_req, res) => {
    res.set({ 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=3600' }).send(CONSOLE_STYLESHEET);
  });
  if (deps.config.authMode !== 'builtin') {
    // Signing in needs the gateway's own authorization server; with an external issuer there is no login here.
    router.use((_req, res) => {
      sendConsoleError(res, 404, 'Console unavailable', 'The console needs the gateway’s built-in authorization server (AUTH_MODE=builtin) to sign people in. Use the admin API.');
    });
    return router;
  }
  router.use(cookieParser());
  router.use(signInRouter({ config: deps.config, keys: deps.services.keys, logger: deps.logger, cookies }, form));

  const guarded = (handler: ConsoleHandler, post: boolean): RequestHandler => {
    return async (req, res) => {
      const viewer = await viewerOf(req, res, deps, cookies, post);
      if (!viewer) return;
      viewers.set(res, viewer);
      await handler(req, res, viewer);
    };
  };
  const routes: ConsoleRoutes = {
    page: (path, handler) => void router.get(path, guarded(handler, false)),
    action: (path, handler) => void router.post(path, form, guarded(handler, true)),
  };
  routes.page('/', async (_req, res) => void res.redirect(303, '/console/sessions'));
  sessionRoutes(routes, deps);
  activityRoutes(routes, deps);
  teamRoutes(routes, deps);

  router.use((req, res) => {
    const viewer = viewers.get(res);
    if (req.method === 'POST') return sendConsoleError(res, 404, 'Not found', 'There is no such form in the console.', { viewer });
    sendConsolePage(res, { status: 404, title: 'Not found', viewer, body: html`<p class="error" role="alert">There is no console page at this address.</p><p><a href="/console">Back to the console</a></p>` });
  });
  router.use(errorPages(deps.logger, viewers));
  return router;
}
