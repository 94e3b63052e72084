/**
 * The consent step: `GET /consent` checks the team's join policy, then either skips the page (consent remembered
 * for this user, client and team) or shows it; `POST /consent` (CSRF-checked) records Allow or Deny. Every exit is
 * an authorization response to the client's redirect URI — a code, or `access_denied` — with `state` and `iss`.
 * For the admin API (`PUBLIC_URL/admin`) there is no team: no join policy, and consent is per (user, client, admin).
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { AccessDenied } from './oauth-errors.js';
import { redirectWithCode, redirectWithError } from './authorization-response.js';
import { ADMIN_CONSENT_TEAM_ID, type ConsentKey } from './consent-store.js';
import { loadFlow, type Flow, type InteractiveDeps } from './interactive-flow.js';
import { redirectHost } from './redirect-uris.js';
import { splitScope } from './scopes.js';
import { sendConsentPage, sendErrorPage } from './pages.js';
import { DomainError } from '../errors.js';

type ConsentOutcome = 'granted' | 'remembered' | 'denied' | 'not_a_member';

/** One `info` line per consent decision: who, which client, which team, and the outcome (never the scope's grant). */
function logConsent(req: Request, flow: Flow, userId: string, outcome: ConsentOutcome, deps: InteractiveDeps): void {
  const team = flow.target.kind === 'team' ? flow.target.team.slug : 'admin API';
  (req.log ?? deps.logger).info({ userId, clientId: flow.client.id, team, scope: flow.tx.request.scope, outcome }, 'consent');
}

/**
 * The join policy decides before any code exists: an invite-only team's non-member gets `access_denied`. The admin
 * API has no join policy: anyone may hold an admin-audience token, and the admin API decides on every call what its
 * user may do (platform admin by ADMIN_EMAILS, team admin by membership role) — for others it grants nothing.
 */
async function admitted(req: Request, res: Response, flow: Flow, userId: string, deps: InteractiveDeps): Promise<boolean> {
  const { target } = flow;
  if (target.kind === 'admin') return true;
  try {
    await deps.teams.admit(target.team, userId);
    return true;
  } catch (err) {
    if (!(err instanceof DomainError) || err.code !== 'forbidden') throw err;
    logConsent(req, flow, userId, 'not_a_member', deps);
    deps.transactions.clear(res);
    const denied = new AccessDenied(`Team ${target.team.slug} is invite-only and you are not a member; ask a team admin to add you`);
    redirectWithError(res, flow.tx.request, denied, deps.config.publicUrl);
    return false;
  }
}

async function issueCode(res: Response, flow: Flow, userId: string, deps: InteractiveDeps): Promise<void> {
  const r = flow.tx.request;
  const code = await deps.codes.issue({
    clientId: r.clientId,
    userId,
    redirectUri: r.redirectUri,
    resource: r.resource,
    scope: r.scope,
    codeChallenge: r.codeChallenge,
  });
  deps.transactions.clear(res);
  redirectWithCode(res, r, code, deps.config.publicUrl);
}

/** Remembered consent is per (user, client, team), and per (user, client, admin API) under a sentinel team id. */
function consentKey(flow: Flow & { userId: string }): ConsentKey {
  return { userId: flow.userId, clientId: flow.client.id, teamId: flow.target.kind === 'team' ? flow.target.team.id : ADMIN_CONSENT_TEAM_ID };
}

/** The flow of a logged-in user, or undefined after answering (no transaction, or not logged in yet). */
async function loggedInFlow(req: Request, res: Response, deps: InteractiveDeps): Promise<(Flow & { userId: string }) | undefined> {
  const flow = await loadFlow(req, res, deps);
  if (!flow) return undefined;
  if (!flow.tx.userId) {
    res.redirect(303, '/login');
    return undefined;
  }
  return { ...flow, userId: flow.tx.userId };
}

function showConsent(deps: InteractiveDeps): RequestHandler {
  return async (req, res) => {
    const flow = await loggedInFlow(req, res, deps);
    if (!flow || !(await admitted(req, res, flow, flow.userId, deps))) return;
    if (!flow.tx.request.forceConsent && (await deps.consents.covers(consentKey(flow), flow.tx.request.scope))) {
      logConsent(req, flow, flow.userId, 'remembered', deps);
      return issueCode(res, flow, flow.userId, deps);
    }
    const user = await deps.prisma.user.findUnique({ where: { id: flow.userId }, select: { email: true } });
    sendConsentPage(res, {
      csrf: flow.tx.csrf,
      clientName: flow.clientName,
      clientId: flow.client.id,
      redirectHost: redirectHost(flow.tx.request.redirectUri),
      teamName: flow.teamName,
      userEmail: user?.email ?? undefined,
      scopes: splitScope(flow.tx.request.scope),
      formTargets: flow.formTargets,
    });
  };
}

function decideConsent(deps: InteractiveDeps): RequestHandler {
  return async (req, res) => {
    const flow = await loggedInFlow(req, res, deps);
    if (!flow) return;
    const form = (req.body ?? {}) as Record<string, unknown>;
    if (!deps.transactions.checkCsrf(flow.tx, form.csrf)) {
      return sendErrorPage(res, 403, 'Request refused', 'The form did not carry this sign-in’s security token, so nothing was allowed. Go back to the application and connect again.');
    }
    if (form.decision === 'deny') {
      logConsent(req, flow, flow.userId, 'denied', deps);
      deps.transactions.clear(res);
      return redirectWithError(res, flow.tx.request, new AccessDenied('The user denied access'), deps.config.publicUrl);
    }
    if (form.decision !== 'allow') return sendErrorPage(res, 400, 'Invalid request', 'Choose Allow or Deny.');
    if (!(await admitted(req, res, flow, flow.userId, deps))) return;
    await deps.consents.remember(consentKey(flow), flow.tx.request.scope);
    logConsent(req, flow, flow.userId, 'granted', deps);
    await issueCode(res, flow, flow.userId, deps);
  };
}

export function consentRouter(deps: InteractiveDeps, form: RequestHandler): Router {
  const router = Router();
  router.get('/consent', showConsent(deps));
  router.post('/consent', form, decideConsent(deps));
  return router;
}
