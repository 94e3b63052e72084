/**
 * The pages a person sees while connecting a client: login (dev form and/or the upstream identity provider),
 * consent, and errors. Stable for browser tests: the login form has an `input[type=email]` and a submit button;
 * the consent page names the client and its redirect host and has buttons named exactly "Allow" and "Deny".
 */
import type { Response } from 'express';
import { html, sendPage, type Html } from './html.js';
import { RETRY_AFTER_SECONDS } from '../errors.js';

export interface LoginPageModel {
  csrf: string;
  clientName: string;
  /** The team's name; undefined when the client asks for the admin API. */
  teamName: string | undefined;
  devLogin: boolean;
  /** The upstream identity provider's host, when OIDC login is configured. */
  oidcHost: string | undefined;
  error?: string;
  formTargets: string[];
}

export function sendLoginPage(res: Response, m: LoginPageModel, status = 200): void {
  const devForm = html`
<form method="post" action="/login">
  <input type="hidden" name="csrf" value="${m.csrf}">
  <label for="email">E-mail address</label>
  <input type="email" id="email" name="email" autocomplete="email" required autofocus>
  <div class="actions"><button type="submit">Continue</button></div>
</form>
<p class="note">Development login: any e-mail address is accepted without a password. Never enable it on a public gateway.</p>`;
  const oidc = m.oidcHost === undefined ? undefined : html`<p><a class="button" href="/login/oidc">Sign in with ${m.oidcHost}</a></p>`;
  sendPage(res, {
    status,
    title: 'Sign in',
    formTargets: m.formTargets,
    body: html`<h1>Sign in to connect ${m.clientName}</h1>
${
  m.teamName === undefined
    ? html`<p>${m.clientName} wants to use the gateway’s <strong>admin API</strong> as you. Sign in first.</p>`
    : html`<p>${m.clientName} wants to use the MCP tools of the team <strong>${m.teamName}</strong>. Sign in first.</p>`
}
${m.error ? html`<p class="error" role="alert">${m.error}</p>` : undefined}
${oidc}
${m.devLogin ? devForm : undefined}`,
  });
}

export interface ConsentPageModel {
  csrf: string;
  clientName: string;
  clientId: string;
  redirectHost: string;
  /** The team's name; undefined when the client asks for the admin API. */
  teamName: string | undefined;
  userEmail: string | undefined;
  scopes: string[];
  formTargets: string[];
}

const SCOPE_TEXT: Record<string, string> = {
  mcp: 'Use the team’s MCP tools, prompts and resources as you',
  offline_access: 'Stay connected when you are not using it (refresh tokens)',
};
/** For the admin API, `mcp` is just the default scope; what the token allows is the user's admin rights. */
const ADMIN_SCOPE_TEXT: Record<string, string> = {
  ...SCOPE_TEXT,
  mcp: 'Use the admin API as you: manage whatever your account administers (teams, members, tool servers, sessions)',
};

export function sendConsentPage(res: Response, m: ConsentPageModel): void {
  const admin = m.teamName === undefined;
  const texts = admin ? ADMIN_SCOPE_TEXT : SCOPE_TEXT;
  const scopes: Html[] = m.scopes.map((s) => html`<li>${texts[s] ?? s}</li>`);
  sendPage(res, {
    title: 'Allow access?',
    formTargets: m.formTargets,
    body: html`<h1>Allow ${m.clientName} to access ${admin ? 'the admin API' : m.teamName}?</h1>
<dl>
  <dt>Application</dt><dd>${m.clientName} <span class="note">(client <code>${m.clientId}</code>)</span></dd>
  <dt>Sends you back to</dt><dd><code>${m.redirectHost}</code></dd>
  ${admin ? html`<dt>Access to</dt><dd>The gateway’s admin API</dd>` : html`<dt>Team</dt><dd>${m.teamName}</dd>`}
  ${m.userEmail ? html`<dt>Signed in as</dt><dd>${m.userEmail}</dd>` : undefined}
</dl>
<p>It will be able to:</p>
<ul>${scopes}</ul>
<p class="note">Only allow this if you started the connection yourself and you trust <code>${m.redirectHost}</code>.</p>
<form method="post" action="/consent">
  <input type="hidden" name="csrf" value="${m.csrf}">
  <div class="actions">
    <button type="submit" name="decision" value="allow">Allow</button>
    <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
  </div>
</form>`,
  });
}

/** An error that must not be redirected (unknown client, bad redirect URI, expired login) or a refused form. */
export function sendErrorPage(res: Response, status: number, title: string, message: string): void {
  sendPage(res, {
    status,
    title,
    body: html`<h1>${title}</h1>
<p class="error" role="alert">${message}</p>
<p>Go back to the application you were connecting and start again. If this keeps happening, tell the gateway’s administrator.</p>`,
  });
}

/**
 * A passing fault (the database is unreachable): 503 with `Retry-After`, and a page that says to try again — the
 * login transaction is still in its cookie, so reloading continues where the person was.
 */
export function sendUnavailablePage(res: Response, requestId: string): void {
  res.set('Retry-After', String(RETRY_AFTER_SECONDS));
  sendPage(res, {
    status: 503,
    title: 'Temporarily unavailable',
    body: html`<h1>Temporarily unavailable</h1>
<p class="error" role="alert">The gateway cannot complete this step right now. Nothing is lost: wait a few seconds and reload this page.</p>
<p class="note">If this keeps happening, tell the gateway’s administrator (request id <code>${requestId}</code>).</p>`,
  });
}
