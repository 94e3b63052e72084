/**
 * The console in real headless Chromium: a platform admin signs in through the gateway's dev login and consent
 * page, sees two users' live MCP sessions (real SDK clients), filters them, ends one (that client's next request
 * gets 404, the other keeps working), reads the activity chart and the team page and uses its forms; a team admin
 * of another team and a plain member are refused (403); a POST without the CSRF token is 403; no page breaks its
 * Content-Security-Policy, with or without JavaScript. Screenshots of every page go to test-artifacts/console/.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserAvailable, launchBrowser } from '../helpers/browser.js';
import { startTestGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/oauth-client.js';
import { startOidcProvider } from '../fixtures/oidc-provider.js';
import { mcpUser, PLATFORM_EMAIL, startConsoleFixture, type ConsoleFixture, type McpUser } from './console-fixture.js';

const NEEDS = '(needs Chromium: apt-get install chromium)';
const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-artifacts/console');

let f: ConsoleFixture;
let browser: Browser | undefined;
let dave: McpUser;
let erin: McpUser;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  f = await startConsoleFixture();
  dave = await mcpUser(f, 'acme', 'dave@example.com', 'chat-dave');
  erin = await mcpUser(f, 'globex', 'erin@example.com', 'chat-erin');
  // Activity for the chart and the table: calls that succeed, and one the tool reports as failed.
  await dave.client.callTool({ name: 'demo__echo', arguments: { text: 'hello' } });
  await erin.client.callTool({ name: 'demo__echo', arguments: { text: 'hi' } });
  await erin.client.callTool({ name: 'demo__whoami', arguments: {} });
  await erin.client.callTool({ name: 'demo__echo', arguments: { text: 42 } }).catch(() => undefined);
  await f.gw.app.audit.flush();
  if (browserAvailable()) browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await dave?.client.close().catch(() => undefined);
  await erin?.client.close();
  await f?.close();
});

interface Watched {
  page: Page;
  context: BrowserContext;
  /** CSP violations (events with JavaScript on, console messages either way) and script errors. */
  problems: string[];
  /** The Content-Security-Policy of every console document, by path. */
  policies: Map<string, string>;
}

/** A fresh browser profile (no cookies), loopback only, watched for CSP problems. */
async function open(opts: { javaScriptEnabled?: boolean; viewport?: { width: number; height: number } } = {}): Promise<Watched> {
  const context = await browser!.newContext({ javaScriptEnabled: opts.javaScriptEnabled ?? true, viewport: opts.viewport ?? { width: 1280, height: 800 } });
  await context.route(
    (url) => !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname),
    (route) => route.abort('blockedbyclient'),
  );
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const w: Watched = { page, context, problems: [], policies: new Map() };
  page.on('console', (m) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text())) w.problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => w.problems.push(`page error: ${e.message}`));
  page.on('response', (r) => {
    // Rendered pages (redirects carry no content to protect).
    if (r.request().resourceType() === 'document' && r.url().startsWith(`${f.gw.url}/console`) && (r.status() < 300 || r.status() >= 400)) {
      w.policies.set(new URL(r.url()).pathname, r.headers()['content-security-policy'] ?? '');
    }
  });
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __csp: string[] }).__csp = seen;
    document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return w;
}

async function cspEvents(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? []);
}

/** Every console page's policy is strict: nothing may run, styles and forms only from the gateway itself. */
function expectStrictPolicies(w: Watched): void {
  expect(w.policies.size).toBeGreaterThan(0);
  for (const [where, csp] of w.policies) {
    expect(csp, where).toContain("default-src 'none'");
    expect(csp, where).toContain("style-src 'self'");
    expect(csp, where).toContain("form-action 'self'");
    expect(csp, where).not.toMatch(/unsafe-inline|unsafe-eval|script-src/);
  }
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** /console → /authorize → dev login → consent (Allow, when shown) → back in the console. */
async function signIn(w: Watched, email: string): Promise<void> {
  const { page } = w;
  await page.goto(`${f.gw.url}/console`);
  expect(new URL(page.url()).pathname).toBe('/login');
  await page.locator('input[type=email]').fill(email);
  await page.locator('button[type=submit]').click();
  await page.waitForURL((u) => u.pathname === '/consent' || u.pathname.startsWith('/console'));
  if (new URL(page.url()).pathname === '/consent') {
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toContain('Switchboard console');
    await page.getByRole('button', { name: 'Allow', exact: true }).click();
  }
  await page.waitForURL((u) => u.pathname.startsWith('/console'));
}

/** The session ids in the sessions table, top to bottom. */
async function listedSessions(page: Page): Promise<string[]> {
  return page.locator('tr[data-session-id]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-session-id')!));
}

describe('the console in headless Chromium', () => {
  it.skipIf(!browserAvailable())(`a platform admin signs in, filters sessions, ends one (its client gets 404), reads activity and manages a team ${NEEDS}`, async () => {
    const w = await open();
    const { page } = w;
    try {
      await signIn(w, PLATFORM_EMAIL);
      expect(new URL(page.url()).pathname).toBe('/console/sessions');
      expect(await page.locator('.who').innerText()).toContain('root@example.com');
      expect(await listedSessions(page)).toEqual(expect.arrayContaining([dave.sessionId, erin.sessionId]));
      expect(await page.locator(`tr[data-session-id="${dave.sessionId}"]`).innerText()).toContain('dave@example.com');
      expect(await page.locator(`tr[data-session-id="${erin.sessionId}"]`).innerText()).toContain('chat-erin');
      // The stylesheet applied (style-src 'self'): the End button is red.
      const endDave = page.locator(`tr[data-session-id="${dave.sessionId}"] button`, { hasText: 'End session' });
      expect(await endDave.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(200, 30, 30)');
      await shot(page, 'sessions');

      // Filters: by e-mail, by team, by chat (a GET form: the URL says what is shown).
      await page.locator('#f-user').fill('ERIN@example.com');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL((u) => u.searchParams.get('user') === 'ERIN@example.com');
      expect(await listedSessions(page)).toEqual([erin.sessionId]);
      await page.locator('#f-user').fill('');
      await page.locator('#f-team').selectOption('acme');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL((u) => u.searchParams.get('team') === 'acme');
      expect(await listedSessions(page)).toEqual([dave.sessionId]);
      await page.locator('#f-team').selectOption('');
      await page.locator('#f-chat').fill('chat-dave');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL((u) => u.searchParams.get('chat') === 'chat-dave');
      expect(await listedSessions(page)).toEqual([dave.sessionId]);
      await shot(page, 'sessions-filtered');

      // End dave's session: the page says so, the filters stay, and the MCP client's next request gets 404.
      await page.locator(`tr[data-session-id="${dave.sessionId}"] button`, { hasText: 'End session' }).click();
      await page.waitForURL((u) => u.searchParams.get('ended') === dave.sessionId);
      expect(new URL(page.url()).searchParams.get('chat')).toBe('chat-dave');
      expect(await page.getByRole('status').innerText()).toContain(dave.sessionId);
      expect(await listedSessions(page)).toEqual([]);
      await shot(page, 'sessions-ended');
      await expect(dave.client.listTools()).rejects.toThrow(/404|not found/i);
      expect((await erin.client.listTools()).tools.length).toBeGreaterThan(0);

      // Activity: the chart of the last hour and the recent calls.
      await page.getByRole('link', { name: 'Activity' }).click();
      await page.waitForURL((u) => u.pathname === '/console/activity');
      expect(await page.locator('svg.chart rect.calls').count()).toBeGreaterThan(0);
      expect(await page.locator('svg.chart rect.errors').count()).toBe(1);
      expect(await page.locator('figcaption').innerText()).toMatch(/\b4 tool calls and 1 error\b/);
      const calls = await page.locator('tbody tr').allInnerTexts();
      expect(calls.some((row) => row.includes('dave@example.com') && row.includes('demo__echo') && row.includes('ok'))).toBe(true);
      expect(calls.some((row) => row.includes('erin@example.com') && row.includes('demo__whoami'))).toBe(true);
      expect(calls.filter((row) => !/\tok\t/.test(row))).toHaveLength(1);
      await page.locator('#f-user').fill('dave@example.com');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL((u) => u.searchParams.get('user') === 'dave@example.com');
      expect(await page.locator('tbody tr').count()).toBe(1);
      expect(await page.locator('figcaption').innerText()).toMatch(/\b1 tool call and 0 errors\b/);
      await page.goto(`${f.gw.url}/console/activity`);
      await shot(page, 'activity');

      // Teams → team page: add a member by e-mail, disable a tool server.
      await page.getByRole('link', { name: 'Teams' }).click();
      await page.waitForURL((u) => u.pathname === '/console/teams');
      await shot(page, 'teams');
      await page.getByRole('link', { name: 'acme', exact: true }).click();
      await page.waitForURL((u) => u.pathname === '/console/teams/acme');
      await page.locator('#m-email').fill('frank@example.com');
      await page.locator('#m-role').selectOption('admin');
      await page.getByRole('button', { name: 'Add member' }).click();
      await page.waitForURL((u) => u.searchParams.get('done') === 'member_invited');
      expect(await page.getByRole('status').innerText()).toContain('Invitation recorded');
      await page.locator('tr[data-tool-server="demo"] button', { hasText: 'Disable' }).click();
      await page.waitForURL((u) => u.searchParams.get('done') === 'tool_server_disabled');
      expect(await page.locator('tr[data-tool-server="demo"]').innerText()).toContain('disabled');
      await shot(page, 'team');
      await page.locator('tr[data-tool-server="demo"] button', { hasText: 'Enable' }).click();
      await page.waitForURL((u) => u.searchParams.get('done') === 'tool_server_enabled');

      // Readable on a phone: nothing wider than the screen except inside the tables' scroll boxes.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${f.gw.url}/console/sessions`);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await shot(page, 'sessions-phone');

      expect(await cspEvents(page)).toEqual([]);
      expect(w.problems).toEqual([]);
      expectStrictPolicies(w);
    } finally {
      await w.context.close();
    }
  });

  it.skipIf(!browserAvailable())(`a POST without the CSRF token is refused (403) and ends nothing ${NEEDS}`, async () => {
    const w = await open();
    try {
      await signIn(w, PLATFORM_EMAIL);
      // The browser's own cookies, but a form without the token (as a cross-site page could post it).
      const res = await w.context.request.post(`${f.gw.url}/console/sessions/${erin.sessionId}/end`, { form: { back: '/console/sessions' }, maxRedirects: 0 });
      expect(res.status()).toBe(403);
      expect(await res.text()).toContain('security token');
      const forged = await w.context.request.post(`${f.gw.url}/console/sessions/${erin.sessionId}/end`, { form: { csrf: 'guess' }, maxRedirects: 0 });
      expect(forged.status()).toBe(403);
      expect((await erin.client.listTools()).tools.length).toBeGreaterThan(0);
    } finally {
      await w.context.close();
    }
  });

  it.skipIf(!browserAvailable())(`a team admin of another team is refused acme's pages; a plain member is refused everything — without JavaScript ${NEEDS}`, async () => {
    const bob = await open({ javaScriptEnabled: false });
    try {
      await signIn(bob, 'bob@example.com');
      expect(new URL(bob.page.url()).pathname).toBe('/console/sessions');
      expect(await listedSessions(bob.page)).toEqual([erin.sessionId]);
      const refused = await bob.page.goto(`${f.gw.url}/console/teams/acme`);
      expect(refused?.status()).toBe(403);
      expect(await bob.page.locator('[role=alert]').innerText()).toContain('You are not an admin of team acme');
      await shot(bob.page, 'refused-other-team');
      expect((await bob.page.goto(`${f.gw.url}/console/sessions?team=acme`))?.status()).toBe(403);
      expect(bob.problems).toEqual([]);
      expectStrictPolicies(bob);
    } finally {
      await bob.context.close();
    }

    const carol = await open({ javaScriptEnabled: false });
    try {
      await signIn(carol, 'carol@example.com');
      const status = await carol.page.evaluate(() => document.title);
      expect(status).toContain('No admin rights');
      const again = await carol.page.goto(`${f.gw.url}/console/sessions`);
      expect(again?.status()).toBe(403);
      expect(await carol.page.locator('[role=alert]').innerText()).toContain('administers no team');
      expect(await carol.page.locator('tr[data-session-id]').count()).toBe(0);
      await shot(carol.page, 'refused-member');
      // Signing out works without JavaScript too.
      await carol.page.getByRole('button', { name: 'Sign out' }).click();
      await carol.page.waitForURL((u) => u.pathname === '/console/logout');
      expect(await carol.page.getByRole('heading', { level: 1 }).innerText()).toBe('Signed out');
      expect(carol.problems).toEqual([]);
      expectStrictPolicies(carol);
    } finally {
      await carol.context.close();
    }
  });

  it.skipIf(!browserAvailable())(`signs in through the upstream OpenID provider when that is the gateway's login ${NEEDS}`, async () => {
    const port = await freePort();
    const idp = await startOidcProvider({
      clients: [{ client_id: 'gateway', client_secret: 'idp-secret-0123456789', redirect_uris: [`http://127.0.0.1:${port}/login/oidc/callback`] }],
      accounts: { grace: { email: 'Grace@Corp.example', email_verified: true, name: 'Grace' } },
    });
    const oidcGw = await startTestGateway(f.tdb.db, {
      port,
      demo: false,
      env: { DEV_LOGIN: 'false', ADMIN_EMAILS: 'grace@corp.example', LOGIN_OIDC_ISSUER: idp.issuer, LOGIN_OIDC_CLIENT_ID: 'gateway', LOGIN_OIDC_CLIENT_SECRET: 'idp-secret-0123456789' },
    });
    const w = await open();
    try {
      const { page } = w;
      await page.goto(`${oidcGw.url}/console/activity`);
      // No dev login: /console → /authorize → /login → /login/oidc → the provider's own login form.
      expect(new URL(page.url()).origin).toBe(idp.issuer);
      await page.locator('input[name="login"]').fill('grace');
      await page.locator('input[name="password"]').fill('any password');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL((u) => u.origin === oidcGw.url && u.pathname === '/consent');
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toContain('Switchboard console');
      await page.getByRole('button', { name: 'Allow', exact: true }).click();
      await page.waitForURL((u) => u.origin === oidcGw.url && u.pathname === '/console/activity');
      expect(await page.locator('.who').innerText()).toContain('grace@corp.example');
      expect(await page.locator('.who').innerText()).toContain('platform admin');
      expect(await cspEvents(page)).toEqual([]);
    } finally {
      await w.context.close();
      await oidcGw.close();
      await idp.close();
    }
  });
});
