/**
 * Signing in to the console: it is an OAuth client of the gateway's own authorization server. A public first-party
 * client, `switchboard-console`, whose only redirect URI is PUBLIC_URL/console/callback, runs the authorization
 * code grant with PKCE (S256) and `state` for the admin API's resource, PUBLIC_URL/admin.
 *
 * Why this way, and not a login of the console's own or a branch inside the login step:
 * - People sign in exactly as they do when they connect an MCP client — whatever `/login` offers (the dev form on
 *   this machine, or the upstream OpenID provider), with the same rules (only verified e-mails count, invitations
 *   are claimed). There is no second login path to keep secure, and never an API key in a browser.
 * - The login and consent steps stay as they are: their contract is "an authorization request in, a code at a
 *   registered redirect URI out". Reusing the login transaction directly would need a branch in them that sends
 *   some people somewhere other than consent.
 * - The consent page says what is happening ("Switchboard console" wants the admin API as you) and is remembered
 *   after the first Allow, so later sign-ins go straight back to the console.
 * - The code is redeemed in-process with the checks of `POST /token` (client, redirect URI, resource, PKCE, single
 *   use), and no access token is minted: the console's cookie holds only the user id (see `console-cookies.ts`).
 *   A bearer token in a cookie would be usable against /admin/v1 by anything that got hold of it.
 */
import { createHash } from 'node:crypto';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import { pkceMatches } from '../authserver/authorization-codes.js';
import { InvalidGrant } from '../authserver/oauth-errors.js';
import { adminResource } from '../authserver/resource-indicator.js';
import { randomToken } from '../security/secret-box.js';
import { html } from '../authserver/html.js';
import type { ConsoleCookies } from './console-cookies.js';
import type { Services } from '../services.js';
import { CONSOLE_CLIENT_ID, consoleRedirectUri } from './console-client.js';
import { sendConsoleError, sendConsolePage } from './layout.js';

export interface SignInDeps {
  config: Config;
  /** The console's client registration and the authorization codes it redeems. */
  keys: Pick<Services['keys'], 'ensureConsoleClient' | 'authorizationCodes'>;
  logger: Logger;
  cookies: ConsoleCookies;
}

/** A console page to return to after signing in; anything else (another site, another path) becomes the start page. */
export function consolePath(next: unknown): string {
  return typeof next === 'string' && next.length <= 1000 && /^\/console(?:[/?][^\\\s]*)?$/.test(next) && !next.includes('//') ? next : '/console';
}

/** Starts an authorization: `state` and the PKCE verifier go into the sign-in cookie, the browser to `/authorize`. */
function begin(deps: SignInDeps): RequestHandler {
  return async (req, res) => {
    await deps.keys.ensureConsoleClient();
    const state = randomToken(24);
    const verifier = randomToken(48);
    await deps.cookies.startSignIn(res, { state, verifier, next: consolePath(req.query.next) });
    const url = new URL('/authorize', deps.config.publicUrl);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: CONSOLE_CLIENT_ID,
      redirect_uri: consoleRedirectUri(deps.config.publicUrl),
      state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      resource: adminResource(deps.config.publicUrl),
      scope: 'mcp',
    }).toString();
    res.set('Cache-Control', 'no-store').redirect(302, `${url.pathname}${url.search}`);
  };
}

const RETRY = { href: '/console/login', label: 'Sign in again' };

function single(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The authorization response: checks it belongs to this browser's sign-in, redeems the code, starts the session. */
function finish(deps: SignInDeps): RequestHandler {
  const codes = deps.keys.authorizationCodes;
  const redirectUri = consoleRedirectUri(deps.config.publicUrl);
  return async (req: Request, res: Response) => {
    const signIn = await deps.cookies.readSignIn(req);
    const state = single(req.query.state);
    deps.cookies.clearSignIn(res);
    if (!signIn || state !== signIn.state) {
      return sendConsoleError(res, 400, 'Sign-in expired', 'This sign-in was not started in this browser, or it took longer than ten minutes.', { back: RETRY });
    }
    if (single(req.query.iss) !== deps.config.publicUrl) {
      return sendConsoleError(res, 400, 'Sign-in failed', 'The answer did not come from this gateway’s authorization server.', { back: RETRY });
    }
    const error = single(req.query.error);
    if (error !== undefined) {
      const denied = error === 'access_denied';
      return sendConsoleError(res, denied ? 403 : 400, denied ? 'Sign-in cancelled' : 'Sign-in failed', denied ? 'Access to the console was denied.' : `The authorization server answered: ${error}.`, { back: RETRY });
    }
    const code = single(req.query.code);
    if (!code) return sendConsoleError(res, 400, 'Sign-in failed', 'The answer carried no authorization code.', { back: RETRY });
    let userId: string;
    try {
      const row = await codes.lookup(code);
      if (row.clientId !== CONSOLE_CLIENT_ID || row.redirectUri !== redirectUri || row.resource !== adminResource(deps.config.publicUrl)) {
        throw new InvalidGrant('The authorization code was not issued to the console');
      }
      if (!pkceMatches(signIn.verifier, row.codeChallenge)) throw new InvalidGrant('The code does not belong to this sign-in (PKCE)');
      await codes.redeem(row, async () => undefined);
      userId = row.userId;
    } catch (err) {
      if (!(err instanceof InvalidGrant)) throw err;
      return sendConsoleError(res, 400, 'Sign-in failed', err.message, { back: RETRY });
    }
    await deps.cookies.startSession(res, userId);
    (req.log ?? deps.logger).info({ userId }, 'console sign-in');
    res.set('Cache-Control', 'no-store').redirect(303, signIn.next);
  };
}

/** Signing out forgets the console session (the form carries the CSRF token: a forged sign-out is refused too). */
function signOut(deps: SignInDeps, form: RequestHandler): RequestHandler[] {
  return [
    form,
    async (req, res) => {
      const session = await deps.cookies.readSession(req);
      if (session && !deps.cookies.checkCsrf(session, (req.body as Record<string, unknown> | undefined)?.csrf)) {
        return sendConsoleError(res, 403, 'Request refused', 'The form did not carry this console session’s security token. Reload the page and try again.');
      }
      deps.cookies.clearSession(res);
      sendConsolePage(res, { title: 'Signed out', body: html`<p>You are signed out of the console.</p><p><a class="button" href="/console/login">Sign in</a></p>` });
    },
  ];
}

export function signInRouter(deps: SignInDeps, form: RequestHandler): Router {
  const router = Router();
  router.get('/login', begin(deps));
  router.get('/callback', finish(deps));
  router.post('/logout', ...signOut(deps, form));
  return router;
}
