/**
 * The login step: `GET|POST /login` (the dev form: any e-mail address, users keyed by LOCAL_ISSUER + e-mail) and
 * `GET /login/oidc` → upstream identity provider → `GET /login/oidc/callback` (users keyed by issuer + subject).
 * Either way the user id goes into the login transaction and the browser moves on to `/consent`. A failed upstream
 * login is answered to the client (denied, unavailable, failed) whenever the callback belongs to the transaction.
 * The dev form only serves connections from this machine (see `isLoopbackSocket`): PUBLIC_URL being localhost says
 * nothing about who can reach the port.
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { LOCAL_ISSUER } from '../teams/users.js';
import { UpstreamLoginError, type UpstreamIdentity, type UpstreamOidc } from './upstream-oidc.js';
import { redirectWithError } from './authorization-response.js';
import { loadFlow, type Flow, type InteractiveDeps } from './interactive-flow.js';
import { TemporarilyUnavailable } from './oauth-errors.js';
import { sendErrorPage, sendLoginPage } from './pages.js';
import { clientAnswerFor } from './upstream-login-answers.js';
import { isLoopbackSocket } from '../http/loopback-socket.js';
import { isDatabaseUnavailable } from '../errors.js';

const email = z
  .string()
  .trim()
  .toLowerCase()
  .max(254)
  .regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$|^[^\s@]+@localhost$/);

function renderLogin(res: Response, flow: Flow, deps: InteractiveDeps, error?: string): void {
  sendLoginPage(
    res,
    {
      csrf: flow.tx.csrf,
      clientName: flow.clientName,
      teamName: flow.teamName,
      devLogin: deps.config.devLogin,
      oidcHost: deps.upstream && deps.config.loginOidc ? new URL(deps.config.loginOidc.issuer).host : undefined,
      formTargets: flow.formTargets,
      ...(error ? { error } : {}),
    },
    error ? 400 : 200,
  );
}

/**
 * Records the logged-in user in the transaction and moves on to consent (303: the browser follows with GET). One
 * `info` line per login: who, how, for which client and team (operators see logins at the default level).
 */
async function loggedIn(req: Request, res: Response, flow: Flow, userId: string, method: 'dev' | 'oidc', deps: InteractiveDeps): Promise<void> {
  const { upstream: _upstream, ...rest } = flow.tx;
  await deps.transactions.save(res, { ...rest, userId });
  const team = flow.target.kind === 'team' ? flow.target.team.slug : 'admin API';
  (req.log ?? deps.logger).info({ userId, login: method, clientId: flow.client.id, team }, 'login');
  res.set('Cache-Control', 'no-store').redirect(303, '/consent');
}

/** The dev login is on and this request's connection comes from this machine. */
function devLoginServes(req: Request, deps: InteractiveDeps): boolean {
  return deps.config.devLogin && isLoopbackSocket(req);
}

function refuseRemoteDevLogin(res: Response): void {
  sendErrorPage(res, 403, 'Sign-in refused', 'The development login only serves the machine the gateway runs on. Sign in from that machine, or ask the operator to configure LOGIN_OIDC_ISSUER.');
}

function showLogin(deps: InteractiveDeps): RequestHandler {
  return async (req, res) => {
    const flow = await loadFlow(req, res, deps);
    if (!flow) return;
    const dev = devLoginServes(req, deps);
    if (!dev && deps.upstream) return res.redirect(302, '/login/oidc');
    if (!dev && deps.config.devLogin) return refuseRemoteDevLogin(res);
    if (!dev) {
      return sendErrorPage(res, 503, 'Login is not configured', 'This gateway has no login method: its operator must set LOGIN_OIDC_ISSUER (or DEV_LOGIN for local use).');
    }
    renderLogin(res, flow, deps);
  };
}

function devLogin(deps: InteractiveDeps): RequestHandler {
  return async (req: Request, res) => {
    if (!deps.config.devLogin) return sendErrorPage(res, 404, 'Not found', 'The development login is switched off on this gateway.');
    if (!devLoginServes(req, deps)) return refuseRemoteDevLogin(res);
    const flow = await loadFlow(req, res, deps);
    if (!flow) return;
    const form = (req.body ?? {}) as Record<string, unknown>;
    if (!deps.transactions.checkCsrf(flow.tx, form.csrf)) {
      return sendErrorPage(res, 403, 'Request refused', 'The form did not carry this sign-in’s security token. Go back to the application and connect again.');
    }
    const parsed = email.safeParse(form.email);
    if (!parsed.success) return renderLogin(res, flow, deps, 'Enter a valid e-mail address.');
    const user = await deps.users.upsert(LOCAL_ISSUER, parsed.data, parsed.data);
    await loggedIn(req, res, flow, user.id, 'dev', deps);
  };
}

/**
 * A failed upstream login: answered at the client's redirect URI when it belongs to this transaction (see
 * `clientAnswerFor`), else a page — and the transaction forgets the upstream attempt so a new one can start.
 */
async function upstreamFailed(req: Request, res: Response, flow: Flow, err: UpstreamLoginError, deps: InteractiveDeps): Promise<void> {
  (req.log ?? deps.logger).warn({ reason: err.reason, detail: err.detail }, 'upstream login failed');
  const answer = clientAnswerFor(err);
  if (answer) {
    deps.transactions.clear(res);
    return redirectWithError(res, flow.tx.request, answer, deps.config.publicUrl);
  }
  const { upstream: _upstream, ...rest } = flow.tx;
  await deps.transactions.save(res, rest);
  sendErrorPage(res, 400, 'Sign-in failed', err.message);
}

function startOidc(deps: InteractiveDeps): RequestHandler {
  return async (req, res) => {
    if (!deps.upstream) return sendErrorPage(res, 404, 'Not found', 'Login through an identity provider is not configured on this gateway.');
    const flow = await loadFlow(req, res, deps);
    if (!flow) return;
    let started: Awaited<ReturnType<UpstreamOidc['begin']>>;
    try {
      started = await deps.upstream.begin();
    } catch (err) {
      if (!(err instanceof UpstreamLoginError)) throw err;
      return upstreamFailed(req, res, flow, err, deps);
    }
    await deps.transactions.save(res, { ...flow.tx, upstream: started.state });
    res.set('Cache-Control', 'no-store').redirect(303, started.redirectUrl);
  };
}

/**
 * Stores the upstream identity as a gateway user. Only a verified address is kept — and an unverified or missing
 * one clears the stored address: e-mail decides admin rights (ADMIN_EMAILS) and is shown to tool servers.
 * The IdP's code is spent by now, so reloading cannot finish this login: a database outage is answered to the
 * client as `temporarily_unavailable` (the client starts again) instead of a page the person cannot get past.
 */
async function signIn(req: Request, res: Response, flow: Flow, id: UpstreamIdentity, deps: InteractiveDeps): Promise<void> {
  try {
    const user = await deps.users.upsert(id.issuer, id.subject, id.emailVerified ? id.email?.toLowerCase() : undefined, id.name);
    await loggedIn(req, res, flow, user.id, 'oidc', deps);
  } catch (err) {
    if (!isDatabaseUnavailable(err)) throw err;
    (req.log ?? deps.logger).warn({ err }, 'upstream login: database unavailable');
    deps.transactions.clear(res);
    redirectWithError(res, flow.tx.request, new TemporarilyUnavailable(), deps.config.publicUrl);
  }
}

function finishOidc(deps: InteractiveDeps): RequestHandler {
  return async (req, res) => {
    if (!deps.upstream) return sendErrorPage(res, 404, 'Not found', 'Login through an identity provider is not configured on this gateway.');
    const flow = await loadFlow(req, res, deps);
    if (!flow) return;
    if (!flow.tx.upstream) return sendErrorPage(res, 400, 'Sign-in expired', 'This sign-in was not started here. Go back to the application and connect again.');
    let id: UpstreamIdentity;
    try {
      id = await deps.upstream.complete(new URL(req.originalUrl, deps.config.publicUrl), flow.tx.upstream);
    } catch (err) {
      if (!(err instanceof UpstreamLoginError)) throw err;
      return upstreamFailed(req, res, flow, err, deps);
    }
    await signIn(req, res, flow, id, deps);
  };
}

export function loginRouter(deps: InteractiveDeps, form: RequestHandler): Router {
  const router = Router();
  router.get('/login', showLogin(deps));
  router.post('/login', form, devLogin(deps));
  router.get('/login/oidc', startOidc(deps));
  router.get('/login/oidc/callback', finishOidc(deps));
  return router;
}
