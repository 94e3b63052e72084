/**
 * Limits that fit real clients (per client and per user, not only per address — ChatGPT's users share egress
 * addresses), code lifetime, and the pages: strict CSP without inline script, accessible markup, the login
 * cookie's attributes (HttpOnly, SameSite=Lax, `__Host-` + Secure on https).
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import type { TestGateway } from '../helpers/gateway.js';
import { authorizeInBrowser, authorizeUrl, FetchBrowser, newPkce, registerClient, startOAuthGateway, tokenRequest } from '../helpers/oauth-client.js';

let tdb: TestDatabase;
let perClient: TestGateway;
let perUser: TestGateway;
let now = Date.now();
const REDIRECT = 'https://app.example.com/cb';

beforeAll(async () => {
  tdb = await createTestDatabase();
  perClient = await startOAuthGateway(tdb.db, {
    authServer: { rateLimits: { tokenPerClient: { windowMs: 60_000, limit: 3 }, registrationPerSoftware: { windowMs: 60_000, limit: 2 } } },
    clock: () => now,
  });
  perUser = await startOAuthGateway(tdb.db, { authServer: { rateLimits: { tokenPerUser: { windowMs: 60_000, limit: 2 } } } });
});
afterAll(async () => {
  await perClient?.close();
  await perUser?.close();
  await tdb?.drop();
});

async function publicClient(gw: TestGateway, name = 'Limited'): Promise<string> {
  const reg = await registerClient(gw.url, { client_name: name, redirect_uris: [REDIRECT, `${REDIRECT}/${name}`], token_endpoint_auth_method: 'none' });
  expect(reg.status).toBe(201);
  return reg.body.client_id as string;
}

async function codeFor(gw: TestGateway, clientId: string, email: string) {
  const pkce = newPkce();
  const response = await authorizeInBrowser(authorizeUrl(gw.url, { client_id: clientId, redirect_uri: REDIRECT, code_challenge: pkce.challenge, resource: `${gw.url}/t/demo/mcp` }), REDIRECT, { email });
  return { code: response.searchParams.get('code')!, verifier: pkce.verifier };
}

describe('rate limits keyed by client, user and software', () => {
  it('one client hitting its ceiling does not stop another client from the same address', async () => {
    const a = await publicClient(perClient, 'a');
    const b = await publicClient(perClient, 'b');
    const grant = await codeFor(perClient, a, 'limited@example.com');
    let tokens = await tokenRequest(perClient.url, { grant_type: 'authorization_code', code: grant.code, code_verifier: grant.verifier, redirect_uri: REDIRECT, client_id: a });
    for (let i = 0; i < 2; i++) {
      expect(tokens.status).toBe(200);
      tokens = await tokenRequest(perClient.url, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string, client_id: a });
    }
    expect(tokens.status).toBe(200);
    const limited = await tokenRequest(perClient.url, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string, client_id: a });
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('too_many_requests');
    expect(limited.headers.get('ratelimit-policy')).toBeTruthy();
    expect((await tokenRequest(perClient.url, { grant_type: 'refresh_token', refresh_token: 'z', client_id: b })).status).toBe(400);
  });

  it('requests with bad grants do not spend a client’s budget: knowing a public client id cannot lock its users out', async () => {
    const victim = await publicClient(perClient, 'victim');
    for (let i = 0; i < 5; i++) expect((await tokenRequest(perClient.url, { grant_type: 'authorization_code', code: `garbage${i}`, client_id: victim })).status).toBe(400);
    const grant = await codeFor(perClient, victim, 'victim@example.com');
    const real = await tokenRequest(perClient.url, { grant_type: 'authorization_code', code: grant.code, code_verifier: grant.verifier, redirect_uri: REDIRECT, client_id: victim });
    expect(real.status).toBe(200);
  });

  it('one user refreshing too often is limited; another user of the same client is not', async () => {
    const client = await publicClient(perUser, 'shared');
    const first = await codeFor(perUser, client, 'busy@example.com');
    const other = await codeFor(perUser, client, 'calm@example.com');
    let tokens = await tokenRequest(perUser.url, { grant_type: 'authorization_code', code: first.code, code_verifier: first.verifier, redirect_uri: REDIRECT, client_id: client });
    expect(tokens.status).toBe(200);
    tokens = await tokenRequest(perUser.url, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string, client_id: client });
    expect(tokens.status).toBe(200);
    const limited = await tokenRequest(perUser.url, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string, client_id: client });
    expect(limited).toMatchObject({ status: 429, body: { error: 'too_many_requests' } });
    const calm = await tokenRequest(perUser.url, { grant_type: 'authorization_code', code: other.code, code_verifier: other.verifier, redirect_uri: REDIRECT, client_id: client });
    expect(calm.status).toBe(200);
  });

  it('the same client software registering over and over is limited; other software is not', async () => {
    const meta = { client_name: 'Spammy', redirect_uris: ['https://spam.example/cb'], token_endpoint_auth_method: 'none' };
    expect((await registerClient(perClient.url, meta)).status).toBe(201);
    expect((await registerClient(perClient.url, meta)).status).toBe(201);
    expect(await registerClient(perClient.url, meta)).toMatchObject({ status: 429, body: { error: 'too_many_requests' } });
    expect((await registerClient(perClient.url, { ...meta, client_name: 'Other' })).status).toBe(201);
  });
});

describe('authorization code lifetime', () => {
  it('a code older than 60 seconds is refused', async () => {
    const client = await publicClient(perClient, 'slow');
    const { code, verifier } = await codeFor(perClient, client, 'slow@example.com');
    now += 61_000;
    const res = await tokenRequest(perClient.url, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: client });
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(String(res.body.error_description)).toContain('expired');
  });
});

describe('pages', () => {
  it('login and consent pages: strict CSP, accessible markup, HttpOnly SameSite=Lax cookie', async () => {
    const client = await publicClient(perUser, 'Pages <App>');
    const browser = new FetchBrowser(() => false);
    const login = await browser.navigate(authorizeUrl(perUser.url, { client_id: client, redirect_uri: REDIRECT, code_challenge: newPkce().challenge, resource: `${perUser.url}/t/demo/mcp` }));
    if ('redirect' in login) throw new Error('expected a page');
    expect(login.status).toBe(200);
    const csp = login.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("form-action 'self' https://app.example.com");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(login.headers.get('cache-control')).toBe('no-store');
    expect(login.body).toMatch(/<html lang="en">/);
    expect(login.body).toMatch(/<label for="email">[^<]+<\/label>\s*<input type="email" id="email"/);
    expect(login.body).toMatch(/<button type="submit">/);
    expect(login.body).not.toMatch(/<script|style=/);
    expect(login.body).toContain('Pages &lt;App&gt;');

    const cookie = (await browser.request(authorizeUrl(perUser.url, { client_id: client, redirect_uri: REDIRECT, code_challenge: newPkce().challenge, resource: `${perUser.url}/t/demo/mcp` }))).headers.getSetCookie()[0]!;
    expect(cookie).toMatch(/^sb_login=/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).not.toMatch(/Secure/i);

    const css = await fetch(`${perUser.url}/oauth/assets/pages.css`);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
  });

  it('the consent page has buttons named exactly Allow and Deny, and names the client, redirect host and team', async () => {
    const client = await publicClient(perUser, 'Consent App');
    const browser = new FetchBrowser(() => false);
    const login = await browser.navigate(authorizeUrl(perUser.url, { client_id: client, redirect_uri: REDIRECT, code_challenge: newPkce().challenge, resource: `${perUser.url}/t/demo/mcp` }));
    if ('redirect' in login) throw new Error('expected a page');
    const csrf = /name="csrf" value="([^"]+)"/.exec(login.body)![1]!;
    const consent = await browser.navigate(new URL('/login', perUser.url), { csrf, email: 'pages@example.com' });
    if ('redirect' in consent) throw new Error('expected the consent page');
    expect(consent.body).toMatch(/<button type="submit" name="decision" value="allow">Allow<\/button>/);
    expect(consent.body).toMatch(/<button type="submit" name="decision" value="deny"[^>]*>Deny<\/button>/);
    expect(consent.body).toContain('Consent App');
    expect(consent.body).toContain('<code>app.example.com</code>');
    expect(consent.body).toContain('Demo');
    expect(consent.body).toContain('pages@example.com');
  });

  it('without the login cookie the steps show an error page', async () => {
    for (const path of ['/login', '/consent']) {
      const res = await fetch(`${perUser.url}${path}`, { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('expired');
    }
  });

  it('on an https PUBLIC_URL the cookie is __Host- prefixed and Secure', async () => {
    const gw = await startOAuthGateway(tdb.db, { env: { PUBLIC_URL: 'https://gw.example.com', DEV_LOGIN: 'true' } });
    try {
      const client = await registerClientVia(gw, 'https://gw.example.com');
      const url = authorizeUrl('https://gw.example.com', { client_id: client, redirect_uri: REDIRECT, code_challenge: newPkce().challenge, resource: 'https://gw.example.com/t/demo/mcp' });
      const res = await rawRequest(gw, 'GET', url.pathname + url.search, 'gw.example.com');
      expect(res.status).toBe(302);
      const cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? [])[0]!;
      expect(cookie).toMatch(/^__Host-sb_login=/);
      expect(cookie).toMatch(/; Secure/);
      expect(cookie).toMatch(/; Path=\//);
    } finally {
      await gw.close();
    }
  });
});

/** A request to a gateway whose PUBLIC_URL is not its socket address (Host header set by hand). */
function rawRequest(gw: TestGateway, method: string, path: string, host: string, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${gw.url}${path}`, { method, headers: { host, ...(body ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function registerClientVia(gw: TestGateway, publicUrl: string): Promise<string> {
  const res = await rawRequest(gw, 'POST', '/register', new URL(publicUrl).host, JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }));
  expect(res.status).toBe(201);
  return (JSON.parse(res.body) as { client_id: string }).client_id;
}
