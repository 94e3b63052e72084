/**
 * The login and consent pages in real headless Chromium (playwright-core over Debian's package): a public client
 * registered by DCR with a loopback redirect URI served by a callback server in the test; /authorize → dev login
 * form → consent page (client name, redirect host, buttons "Allow" and "Deny") → the client's redirect URI with
 * `code`/`error`, `state` and `iss`. The same with JavaScript switched off, with the Content-Security-Policy
 * watched for violations, and with the login at an upstream OpenID provider (a real oidc-provider).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { decodeJwt } from 'jose';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import type { TestGateway } from '../helpers/gateway.js';
import { connectClient } from '../helpers/mcp-client.js';
import { browserAvailable, launchBrowser, loopbackOnlyContext } from '../helpers/browser.js';
import { authorizeUrl, freePort, newPkce, registerClient, startOAuthGateway, tokenRequest } from '../helpers/oauth-client.js';
import { startOidcProvider, type OidcProviderFixture } from '../fixtures/oidc-provider.js';

const NEEDS = '(needs Chromium: apt-get install chromium)';
const SCREENSHOT = '/tmp/switchboard-consent.png';
const IDP_SECRET = 'gateway-secret-0123456789';

let tdb: TestDatabase;
let gw: TestGateway;
let oidcGw: TestGateway;
let idp: OidcProviderFixture;
let browser: Browser | undefined;
let callbackServer: http.Server;
let redirectUri: string;
/** Every request the client's redirect URI received. */
const callbacks: URL[] = [];
/** The Referer header of each of them (the pages must not leak their URLs to the client). */
const callbackReferers: (string | undefined)[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  gw = await startOAuthGateway(tdb.db);
  const oidcPort = await freePort();
  idp = await startOidcProvider({
    clients: [{ client_id: 'gateway', client_secret: IDP_SECRET, redirect_uris: [`http://127.0.0.1:${oidcPort}/login/oidc/callback`] }],
    accounts: { alice: { email: 'Alice.Browser@Corp.example', email_verified: true, name: 'Alice Browser' } },
  });
  oidcGw = await startOAuthGateway(tdb.db, {
    port: oidcPort,
    env: { DEV_LOGIN: 'false', LOGIN_OIDC_ISSUER: idp.issuer, LOGIN_OIDC_CLIENT_ID: 'gateway', LOGIN_OIDC_CLIENT_SECRET: IDP_SECRET },
  });
  callbackServer = http.createServer((req, res) => {
    callbacks.push(new URL(req.url ?? '/', redirectUri));
    callbackReferers.push(req.headers.referer);
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('callback received');
  });
  await new Promise<void>((r) => callbackServer.listen(0, '127.0.0.1', () => r()));
  redirectUri = `http://127.0.0.1:${(callbackServer.address() as AddressInfo).port}/oauth/callback`;
  if (browserAvailable()) browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await gw?.close();
  await oidcGw?.close();
  await idp?.close();
  callbackServer?.closeAllConnections();
  await new Promise((r) => callbackServer?.close(r));
  await tdb?.drop();
});

interface Started {
  clientId: string;
  verifier: string;
  state: string;
  url: URL;
}

/** A public client registered by DCR (raw fetch) and its authorization URL for the team endpoint. */
async function startAuthorization(gateway: TestGateway, clientName: string): Promise<Started> {
  const reg = await registerClient(gateway.url, { client_name: clientName, redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' });
  expect(reg.status).toBe(201);
  const clientId = reg.body.client_id as string;
  const pkce = newPkce();
  const state = `st-${Math.random().toString(36).slice(2)}`;
  const url = authorizeUrl(gateway.url, { client_id: clientId, redirect_uri: redirectUri, state, code_challenge: pkce.challenge, resource: `${gateway.url}/t/demo/mcp` });
  return { clientId, verifier: pkce.verifier, state, url };
}

/**
 * A context whose requests may only reach loopback hosts (like `loopbackOnlyContext`), here also for contexts
 * with options such as `javaScriptEnabled: false`.
 */
async function contextWith(b: Browser, options: { javaScriptEnabled: boolean }): Promise<BrowserContext> {
  let context: BrowserContext;
  if (options.javaScriptEnabled) context = await loopbackOnlyContext(b);
  else {
    context = await b.newContext(options);
    await context.route(
      (url) => !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname),
      (route) => route.abort('blockedbyclient'),
    );
  }
  // Fail a step with Playwright's own message (which element, which URL) well before the test's timeout.
  context.setDefaultTimeout(10_000);
  return context;
}

interface PageWatch {
  /** CSP violations reported to the page (`securitypolicyviolation`, needs JavaScript) and console errors. */
  problems: string[];
  /** Every form POST to the gateway. */
  posts: Request[];
  /** The Content-Security-Policy of every gateway page the browser loaded, by path. */
  policies: Map<string, string>;
}

/**
 * Watches a page for CSP problems. Console errors catch them with or without JavaScript (Chromium logs every
 * refused load there); the init script also records `securitypolicyviolation` events, which only fire with it on.
 */
async function watch(page: Page, gatewayUrl: string): Promise<PageWatch> {
  const w: PageWatch = { problems: [], posts: [], policies: new Map() };
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().startsWith(gatewayUrl)) w.posts.push(r);
  });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') w.problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => w.problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    if (r.url().startsWith(gatewayUrl)) w.problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`);
  });
  page.on('response', (r) => {
    if (r.request().resourceType() === 'document' && r.url().startsWith(gatewayUrl) && r.status() === 200) {
      w.policies.set(new URL(r.url()).pathname, r.headers()['content-security-policy'] ?? '');
    }
  });
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __cspViolations: string[] }).__cspViolations = seen;
    document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return w;
}

async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __cspViolations?: string[] }).__cspViolations ?? []);
}

/** The script policy in effect: `script-src` if present, else `default-src`. */
function scriptPolicy(csp: string): string {
  const directives = csp.split(';').map((d) => d.trim());
  return directives.find((d) => d.startsWith('script-src ')) ?? directives.find((d) => d.startsWith('default-src ')) ?? '';
}

function expectStrictCsp(csp: string | undefined): void {
  expect(csp).toBeTruthy();
  expect(csp).not.toContain("'unsafe-inline'");
  expect(csp).not.toContain("'unsafe-eval'");
  expect(scriptPolicy(csp!)).toBe("default-src 'none'");
}

/** The callback request for this authorization (by its state), once the browser got there. */
async function callbackFor(page: Page, state: string): Promise<URL> {
  await page.waitForURL((u) => u.href.startsWith(redirectUri));
  expect(await page.textContent('body')).toBe('callback received');
  const hit = callbacks.filter((c) => c.searchParams.get('state') === state);
  expect(hit).toHaveLength(1);
  return hit[0]!;
}

/** Fills the dev login form and lands on the consent page, checking what it shows. */
async function devLoginToConsent(page: Page, started: Started, email: string, clientName: string): Promise<void> {
  const response = await page.goto(started.url.href);
  expect(response?.status()).toBe(200);
  expect(new URL(page.url()).pathname).toBe('/login');
  await page.locator('input[type=email]').fill(email);
  await page.locator('button[type=submit]').click();
  await page.waitForURL((u) => u.pathname === '/consent');
  await expectConsentPage(page, clientName);
}

async function expectConsentPage(page: Page, clientName: string): Promise<void> {
  const heading = await page.getByRole('heading', { level: 1 }).textContent();
  expect(heading).toContain(clientName);
  // The "Application" and "Sends you back to" entries, visible (not only somewhere in the markup).
  const application = page.locator('dt:text-is("Application") + dd');
  expect(await application.isVisible()).toBe(true);
  expect(await application.innerText()).toContain(clientName);
  const host = page.getByText(new URL(redirectUri).host, { exact: true }).first();
  expect(await host.isVisible()).toBe(true);
  expect(await page.getByRole('button', { name: 'Allow', exact: true }).count()).toBe(1);
  expect(await page.getByRole('button', { name: 'Deny', exact: true }).count()).toBe(1);
  expect(await page.getByRole('button', { name: 'Allow', exact: true }).isVisible()).toBe(true);
  expect(await page.getByRole('button', { name: 'Deny', exact: true }).isVisible()).toBe(true);
}

async function exchange(gateway: TestGateway, started: Started, code: string): Promise<string> {
  const tokens = await tokenRequest(gateway.url, { grant_type: 'authorization_code', code, code_verifier: started.verifier, redirect_uri: redirectUri, client_id: started.clientId });
  expect(tokens.status).toBe(200);
  return tokens.body.access_token as string;
}

async function whoami(gateway: TestGateway, token: string): Promise<Record<string, unknown>> {
  const { client } = await connectClient(`${gateway.url}/t/demo/mcp`, token);
  try {
    const r = (await client.callTool({ name: 'demo__whoami', arguments: {} })) as { structuredContent?: Record<string, unknown>; content: { type: string; text: string }[] };
    return r.structuredContent ?? (JSON.parse(r.content[0]!.text) as Record<string, unknown>);
  } finally {
    await client.close();
  }
}

describe('login and consent in headless Chromium', () => {
  it.skipIf(!browserAvailable())(`dev login → consent shows the client and redirect host → Allow → code, state, iss → whoami ${NEEDS}`, async () => {
    const started = await startAuthorization(gw, 'Browser Test Client');
    const context = await contextWith(browser!, { javaScriptEnabled: true });
    try {
      const page = await context.newPage();
      const w = await watch(page, gw.url);
      await devLoginToConsent(page, started, 'Grace.Hopper@Example.com', 'Browser Test Client');
      // The stylesheet applied (style-src 'self' lets it through): the primary button is blue, not a default grey.
      const allow = page.getByRole('button', { name: 'Allow', exact: true });
      expect(await allow.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(26, 86, 219)');
      await page.setViewportSize({ width: 800, height: 720 });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(await cspViolations(page)).toEqual([]);
      await allow.click();
      const callback = await callbackFor(page, started.state);
      expect(callback.searchParams.get('iss')).toBe(gw.url);
      expect(callback.searchParams.get('error')).toBeNull();
      const code = callback.searchParams.get('code');
      expect(code).toBeTruthy();
      expect(w.problems).toEqual([]);
      expect([...w.policies.keys()]).toEqual(['/login', '/consent']);
      for (const csp of w.policies.values()) expectStrictCsp(csp);
      // The forms post with the page's real origin (the gateway's Origin check refuses `Origin: null`), and the
      // client's redirect URI gets no Referer.
      const posts = await Promise.all(w.posts.map(async (r) => `${new URL(r.url()).pathname} ${(await r.allHeaders()).origin ?? '(none)'}`));
      expect(posts).toEqual([`/login ${gw.url}`, `/consent ${gw.url}`]);
      expect(callbackReferers.at(-1)).toBeUndefined();

      const token = await exchange(gw, started, code!);
      expect(decodeJwt(token)).toMatchObject({ iss: gw.url, aud: `${gw.url}/t/demo/mcp`, client_id: started.clientId, email: 'grace.hopper@example.com' });
      expect(await whoami(gw, token)).toMatchObject({ email: 'grace.hopper@example.com', team: 'demo' });
    } finally {
      await context.close();
    }
  });

  it.skipIf(!browserAvailable())(`Deny → access_denied with state and iss, no code, nothing issued ${NEEDS}`, async () => {
    const started = await startAuthorization(gw, 'Denied Client');
    const context = await contextWith(browser!, { javaScriptEnabled: true });
    try {
      const page = await context.newPage();
      const w = await watch(page, gw.url);
      await devLoginToConsent(page, started, 'denier@example.com', 'Denied Client');
      await page.getByRole('button', { name: 'Deny', exact: true }).click();
      const callback = await callbackFor(page, started.state);
      expect(callback.searchParams.get('error')).toBe('access_denied');
      expect(callback.searchParams.get('iss')).toBe(gw.url);
      expect(callback.searchParams.has('code')).toBe(false);
      expect(w.problems).toEqual([]);
    } finally {
      await context.close();
    }
    expect(await tdb.db.prisma.authorizationCode.count({ where: { clientId: started.clientId } })).toBe(0);
    expect(await tdb.db.prisma.consent.count({ where: { clientId: started.clientId } })).toBe(0);
    expect(await tdb.db.prisma.refreshToken.count({ where: { clientId: started.clientId } })).toBe(0);
  });

  it.skipIf(!browserAvailable())(`works with JavaScript switched off, without CSP problems ${NEEDS}`, async () => {
    const started = await startAuthorization(gw, 'No-Script Client');
    const context = await contextWith(browser!, { javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      const w = await watch(page, gw.url);
      await devLoginToConsent(page, started, 'noscript@example.com', 'No-Script Client');
      await page.getByRole('button', { name: 'Allow', exact: true }).click();
      const callback = await callbackFor(page, started.state);
      expect(callback.searchParams.get('iss')).toBe(gw.url);
      const token = await exchange(gw, started, callback.searchParams.get('code')!);
      expect(await whoami(gw, token)).toMatchObject({ email: 'noscript@example.com' });
      expect(w.problems).toEqual([]);
      expect([...w.policies.keys()]).toEqual(['/login', '/consent']);
      for (const csp of w.policies.values()) expectStrictCsp(csp);
    } finally {
      await context.close();
    }
  });

  it.skipIf(!browserAvailable())(`upstream OIDC login: IdP login form and consent → gateway consent → Allow → whoami is the IdP account ${NEEDS}`, async () => {
    const started = await startAuthorization(oidcGw, 'IdP Browser Client');
    const context = await contextWith(browser!, { javaScriptEnabled: true });
    try {
      const page = await context.newPage();
      const w = await watch(page, oidcGw.url);
      await page.goto(started.url.href);
      // DEV_LOGIN is off: /authorize → /login → /login/oidc → the IdP's own login form.
      expect(new URL(page.url()).origin).toBe(idp.issuer);
      await page.locator('input[name="login"]').fill('alice');
      await page.locator('input[name="password"]').fill('any password');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      await page.getByRole('button', { name: 'Continue' }).click(); // the IdP's consent
      await page.waitForURL((u) => u.origin === oidcGw.url && u.pathname === '/consent');
      await expectConsentPage(page, 'IdP Browser Client');
      expect(await page.getByText('alice.browser@corp.example', { exact: true }).isVisible()).toBe(true);
      await page.getByRole('button', { name: 'Allow', exact: true }).click();
      const callback = await callbackFor(page, started.state);
      expect(callback.searchParams.get('iss')).toBe(oidcGw.url);
      const code = callback.searchParams.get('code');
      expect(code).toBeTruthy();
      // Only the gateway's own pages are held to its CSP; the IdP's pages are not ours.
      expect(w.problems.filter((p) => !p.includes(idp.issuer) && !/fonts\.googleapis|ERR_BLOCKED_BY_CLIENT/.test(p))).toEqual([]);
      expect(w.policies.has('/consent')).toBe(true);
      expectStrictCsp(w.policies.get('/consent'));

      const token = await exchange(oidcGw, started, code!);
      const user = await tdb.db.prisma.user.findUniqueOrThrow({ where: { issuer_subject: { issuer: idp.issuer, subject: 'alice' } } });
      expect(decodeJwt(token)).toMatchObject({ sub: user.id, email: 'alice.browser@corp.example', aud: `${oidcGw.url}/t/demo/mcp` });
      expect(await whoami(oidcGw, token)).toMatchObject({ email: 'alice.browser@corp.example', userId: user.id });
    } finally {
      await context.close();
    }
  });
});
