/**
 * The authorization server during a real database outage (a TCP proxy in front of PostgreSQL, stopped and started):
 * every answer says "try again" — 503 `temporarily_unavailable` with `Retry-After` from the JSON endpoints, a
 * redirect with that error or a 503 page in the browser flow — and never an error that makes a client discard its
 * registration (`invalid_client`) or its tokens (`invalid_grant`), or tells the person the application is gone.
 * After the outage the same codes, refresh tokens and login transactions work.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../helpers/database.js';
import { authorizeInBrowser, authorizeUrl, basicAuth, FetchBrowser, hiddenField, newPkce, registerClient, tokenRequest } from '../helpers/oauth-client.js';
import { useGatewayBehindDatabaseProxy } from '../helpers/database-proxy.js';

const REDIRECT = 'https://claude.ai/api/mcp/auth_callback';


describe.skipIf(!TEST_DATABASE_URL)('authorization server during a database outage (needs TEST_DATABASE_URL: a real PostgreSQL)', () => {
  const t = useGatewayBehindDatabaseProxy();
  // Each test ends with the database reachable, even when an assertion failed half-way through an outage.
  beforeEach(() => t.proxy.start());

  async function publicClient(): Promise<string> {
    const reg = await registerClient(t.gw.url, { client_name: 'Claude', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
    return reg.body.client_id as string;
  }

  /** A fresh authorization code for `clientId` (dev login as `email`, Allow). */
  async function codeFor(clientId: string, email: string): Promise<{ code: string; verifier: string }> {
    const pkce = newPkce();
    const url = authorizeUrl(t.gw.url, { client_id: clientId, redirect_uri: REDIRECT, state: 's1', code_challenge: pkce.challenge, resource: `${t.gw.url}/mcp` });
    const response = await authorizeInBrowser(url, REDIRECT, { email });
    return { code: response.searchParams.get('code')!, verifier: pkce.verifier };
  }

  function expectTemporarilyUnavailable(res: { status: number; headers: Headers; body: Record<string, unknown> }) {
    expect(res.status).toBe(503);
    expect(res.body.error).toBe('temporarily_unavailable');
    expect(res.headers.get('retry-after')).toBe('5');
    expect(res.headers.get('www-authenticate')).toBeNull();
  }

  it('/token and /revoke answer 503 temporarily_unavailable with Retry-After, and the same code and refresh token work afterwards', async () => {
    const clientId = await publicClient();
    const first = await codeFor(clientId, 'outage-token@example.com');
    const issued = await tokenRequest(t.gw.url, { grant_type: 'authorization_code', code: first.code, code_verifier: first.verifier, redirect_uri: REDIRECT, client_id: clientId });
    expect(issued.status).toBe(200);
    const second = await codeFor(clientId, 'outage-token@example.com');
    const confidential = await registerClient(t.gw.url, { client_name: 'Server-side client', redirect_uris: [REDIRECT] });

    await t.proxy.stop();
    const refresh = { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token as string, client_id: clientId };
    expectTemporarilyUnavailable(await tokenRequest(t.gw.url, refresh));
    const code = { grant_type: 'authorization_code', code: second.code, code_verifier: second.verifier, redirect_uri: REDIRECT, client_id: clientId };
    expectTemporarilyUnavailable(await tokenRequest(t.gw.url, code));
    // A confidential client's Basic credentials cannot be checked either: still not invalid_client.
    const basic = basicAuth(confidential.body.client_id as string, confidential.body.client_secret as string);
    expectTemporarilyUnavailable(await tokenRequest(t.gw.url, { grant_type: 'refresh_token', refresh_token: 'x' }, basic));
    const revoke = await fetch(`${t.gw.url}/revoke`, { method: 'POST', body: new URLSearchParams({ token: 'x', client_id: clientId }) });
    expect(revoke.status).toBe(503);
    expect(revoke.headers.get('retry-after')).toBe('5');
    const register = await fetch(`${t.gw.url}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: [REDIRECT] }) });
    expect(register.status).toBe(503);
    expect(((await register.json()) as { error: string }).error).toBe('temporarily_unavailable');
    expect(t.gw.logs.text()).toContain('authorization server: database unavailable');

    await t.proxy.start();
    const refreshed = await tokenRequest(t.gw.url, refresh);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(issued.body.refresh_token);
    expect((await tokenRequest(t.gw.url, code)).status).toBe(200);
  });

  it('/authorize shows a 503 page to reload (not "Unknown application") while the client cannot be looked up', async () => {
    const clientId = await publicClient();
    const url = authorizeUrl(t.gw.url, { client_id: clientId, redirect_uri: REDIRECT, state: 's2', code_challenge: newPkce().challenge, resource: `${t.gw.url}/mcp` });
    await t.proxy.stop();
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const page = await res.text();
    expect(page).toContain('Temporarily unavailable');
    expect(page).toContain('reload this page');
    expect(page).not.toMatch(/Unknown application|not registered/);

    await t.proxy.start();
    const back = await fetch(url, { redirect: 'manual' });
    expect(back.status).toBe(302);
    expect(back.headers.get('location')).toBe('/login');
  });

  it('a login interrupted by the outage shows a 503 page (not "no longer exists") and continues when reloaded', async () => {
    const clientId = await publicClient();
    const browser = new FetchBrowser((u) => u.origin === 'https://claude.ai');
    const url = authorizeUrl(t.gw.url, { client_id: clientId, redirect_uri: REDIRECT, state: 's3', code_challenge: newPkce().challenge, resource: `${t.gw.url}/mcp` });
    const login = await browser.navigate(url);
    if ('redirect' in login) throw new Error('expected the login page');
    const form = { csrf: hiddenField(login.body, 'csrf')!, email: 'outage-login@example.com' };

    await t.proxy.stop();
    const down = await browser.navigate(new URL('/login', t.gw.url), form);
    if ('redirect' in down) throw new Error('expected an error page');
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('5');
    expect(down.body).toContain('Temporarily unavailable');
    expect(down.body).not.toContain('no longer exists');

    await t.proxy.start();
    const consent = await browser.navigate(new URL('/login', t.gw.url), form);
    if ('redirect' in consent) throw new Error('expected the consent page');
    expect(consent.status).toBe(200);
    const done = await browser.navigate(new URL('/consent', t.gw.url), { csrf: form.csrf, decision: 'allow' });
    if (!('redirect' in done)) throw new Error(`expected the redirect to the client, got ${done.status}`);
    expect(done.redirect.searchParams.get('code')).toBeTruthy();
    expect(done.redirect.searchParams.get('state')).toBe('s3');
  });
});
