/**
 * Upstream OIDC login (`createUpstreamOidc`) against a real OpenID provider over real HTTP: the fetch-driven
 * login, every failure mapped to an `UpstreamLoginError`, and the same flow in headless Chromium.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUpstreamOidc, UpstreamLoginError, type UpstreamOidc } from '../../src/authserver/upstream-oidc.js';
import { loginViaFetch, startOidcProvider, type OidcProviderFixture } from '../fixtures/oidc-provider.js';
import { browserAvailable, launchBrowser, loopbackOnlyContext } from '../helpers/browser.js';

const SECRET = 'gateway-client-secret-0123456789';
const accounts = {
  alice: { email: 'alice@corp.example', email_verified: true, name: 'Alice Example' },
  bob: { email: 'bob@corp.example', email_verified: false, name: 'Bob Example' },
};

let idp: OidcProviderFixture; // thin ID tokens: profile claims from userinfo
let fatIdp: OidcProviderFixture; // profile claims in the ID token
let callbacks: Server;
let redirectUri: string;
const received: URL[] = [];

beforeAll(async () => {
  callbacks = createServer((req, res) => {
    received.push(new URL(req.url ?? '/', redirectUri));
    res.writeHead(200, { 'content-type': 'text/plain' }).end('callback received');
  });
  await new Promise<void>((resolve) => callbacks.listen(0, '127.0.0.1', resolve));
  redirectUri = `http://127.0.0.1:${(callbacks.address() as AddressInfo).port}/login/callback`;
  const clients = [
    { client_id: 'gateway', client_secret: SECRET, redirect_uris: [redirectUri] },
    { client_id: 'gateway-public', redirect_uris: [redirectUri] },
  ];
  [idp, fatIdp] = await Promise.all([startOidcProvider({ clients, accounts }), startOidcProvider({ clients, accounts, idTokenClaims: true })]);
});

afterAll(async () => {
  await Promise.all([idp?.close(), fatIdp?.close()]);
  callbacks?.closeAllConnections();
  await new Promise((resolve) => callbacks?.close(resolve));
});

/** A fetch that records every URL it is asked for. */
function recordingFetch(): { fetch: typeof fetch; urls: string[] } {
  const urls: string[] = [];
  return { urls, fetch: (input, init) => (urls.push(String(input)), fetch(input, init)) };
}

function upstream(over: Partial<Parameters<typeof createUpstreamOidc>[0]> = {}): UpstreamOidc {
  return createUpstreamOidc({ issuer: idp.issuer, clientId: 'gateway', clientSecret: SECRET, redirectUri, allowInsecureHttp: true, ...over });
}

async function rejection(promise: Promise<unknown>): Promise<UpstreamLoginError> {
  const err = await promise.then(
    () => expect.fail('expected an UpstreamLoginError'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UpstreamLoginError);
  return err as UpstreamLoginError;
}

describe('upstream OIDC login', () => {
  it('logs in with code + PKCE S256, state and nonce, and reads the profile from userinfo', async () => {
    const rec = recordingFetch();
    const oidc = upstream({ fetch: rec.fetch });
    const { redirectUrl, state } = await oidc.begin();

    const url = new URL(redirectUrl);
    expect(url.origin + url.pathname).toBe(`${idp.issuer}/auth`);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: 'gateway',
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid email profile',
      code_challenge_method: 'S256',
      state: state.state,
      nonce: state.nonce,
    });
    expect(url.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(redirectUrl).not.toContain(state.code_verifier!);

    const callback = await loginViaFetch(redirectUrl, 'alice');
    expect(callback.href.startsWith(`${redirectUri}?`)).toBe(true);
    expect(callback.searchParams.get('iss')).toBe(idp.issuer);

    await expect(oidc.complete(callback, state)).resolves.toEqual({
      issuer: idp.issuer,
      subject: 'alice',
      email: 'alice@corp.example',
      emailVerified: true,
      name: 'Alice Example',
    });
    expect(rec.urls.filter((u) => u.endsWith('/.well-known/openid-configuration'))).toHaveLength(1);
    expect(rec.urls.some((u) => u.endsWith('/me'))).toBe(true); // oidc-provider's userinfo endpoint

    // discovery is cached across logins
    const second = await oidc.begin();
    const bob = await oidc.complete(await loginViaFetch(second.redirectUrl, 'bob'), second.state);
    expect(bob).toMatchObject({ subject: 'bob', email: 'bob@corp.example', emailVerified: false });
    expect(rec.urls.filter((u) => u.endsWith('/.well-known/openid-configuration'))).toHaveLength(1);
  });

  it('takes the claims from the ID token when the IdP puts them there, without calling userinfo', async () => {
    const rec = recordingFetch();
    const oidc = upstream({ issuer: fatIdp.issuer, fetch: rec.fetch });
    const { redirectUrl, state } = await oidc.begin();
    const identity = await oidc.complete(await loginViaFetch(redirectUrl, 'alice'), state);
    expect(identity).toEqual({ issuer: fatIdp.issuer, subject: 'alice', email: 'alice@corp.example', emailVerified: true, name: 'Alice Example' });
    expect(rec.urls.some((u) => u.endsWith('/me'))).toBe(false);
  });

  it('logs in as a public client (no secret: auth method none, PKCE only)', async () => {
    const oidc = upstream({ clientId: 'gateway-public', clientSecret: undefined });
    const { redirectUrl, state } = await oidc.begin();
    await expect(oidc.complete(await loginViaFetch(redirectUrl, 'alice'), state)).resolves.toMatchObject({ subject: 'alice' });
  });

  it('rejects a callback whose state was tampered with', async () => {
    const oidc = upstream();
    const { redirectUrl, state } = await oidc.begin();
    const callback = await loginViaFetch(redirectUrl, 'alice');
    callback.searchParams.set('state', `${state.state}x`);
    const err = await rejection(oidc.complete(callback, state));
    expect(err.reason).toBe('response_mismatch');
    expect(err.message).toMatch(/does not match the login that was started/);
    expect(`${err.message} ${err.detail}`).not.toContain(callback.searchParams.get('code')!);
  });

  it('rejects an ID token whose nonce is not the one of this login', async () => {
    const oidc = upstream();
    const { redirectUrl, state } = await oidc.begin();
    const callback = await loginViaFetch(redirectUrl, 'alice');
    const err = await rejection(oidc.complete(callback, { ...state, nonce: 'another-login-nonce' }));
    expect(err.reason).toBe('id_token_invalid');
    expect(err.message).toMatch(/ID token failed validation/);
  });

  it('rejects a login state that is missing or malformed', async () => {
    const oidc = upstream();
    const { redirectUrl, state } = await oidc.begin();
    const callback = await loginViaFetch(redirectUrl, 'alice');
    const err = await rejection(oidc.complete(callback, { state: state.state! }));
    expect(err.reason).toBe('bad_login_state');
  });

  it('rejects a code that was already redeemed', async () => {
    const oidc = upstream();
    const { redirectUrl, state } = await oidc.begin();
    const callback = await loginViaFetch(redirectUrl, 'alice');
    await oidc.complete(callback, state);
    const err = await rejection(oidc.complete(callback, state));
    expect(err.reason).toBe('token_rejected');
    expect(err.detail).toMatch(/^invalid_grant/);
  });

  it('reports an error response of the IdP (the person cancelled: access_denied)', async () => {
    const oidc = upstream();
    const { redirectUrl, state } = await oidc.begin();
    const callback = await loginViaFetch(redirectUrl, 'alice', { deny: true });
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe(state.state);
    const err = await rejection(oidc.complete(callback, state));
    expect(err.reason).toBe('denied');
    expect(err.message).toBe('The login was cancelled or denied at the identity provider.');
  });

  it('tells an IdP that is temporarily unavailable from other error responses', async () => {
    const oidc = upstream();
    const { state } = await oidc.begin();
    const callback = (error: string) => new URL(`${redirectUri}?${new URLSearchParams({ error, state: state.state!, iss: idp.issuer })}`);
    expect((await rejection(oidc.complete(callback('temporarily_unavailable'), state))).reason).toBe('idp_unavailable');
    expect((await rejection(oidc.complete(callback('invalid_scope'), state))).reason).toBe('idp_error');
  });

  it('only echoes plain OAuth error codes from the callback', async () => {
    const oidc = upstream();
    const { state } = await oidc.begin();
    const callback = new URL(redirectUri);
    callback.search = new URLSearchParams({ error: '<script>alert(1)</script>', state: state.state!, iss: idp.issuer }).toString();
    const err = await rejection(oidc.complete(callback, state));
    expect(err.message).toBe('The identity provider refused the login (error).');
  });

  it('reports a wrong client secret without showing it', async () => {
    const oidc = upstream({ clientSecret: 'not-the-secret' });
    const { redirectUrl, state } = await oidc.begin();
    const err = await rejection(oidc.complete(await loginViaFetch(redirectUrl, 'alice'), state));
    expect(err.reason).toBe('misconfigured');
    expect(err.message).toMatch(/rejected this gateway’s client credentials/);
    expect(`${err.message} ${err.detail}`).not.toContain('not-the-secret');
  });

  it('fails fast on an unreachable issuer, and discovers again on the next login', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));

    const started = Date.now();
    const err = await rejection(upstream({ issuer: `http://127.0.0.1:${port}` }).begin());
    expect(err.reason).toBe('unreachable');
    expect(err.message).toBe('The identity provider could not be reached. Please try again later.');
    expect(Date.now() - started).toBeLessThan(5_000);

    let calls = 0;
    const flaky: typeof fetch = (input, init) => (++calls === 1 ? Promise.reject(new TypeError('fetch failed')) : fetch(input, init));
    const oidc = upstream({ fetch: flaky });
    expect((await rejection(oidc.begin())).reason).toBe('unreachable');
    await expect(oidc.begin()).resolves.toHaveProperty('redirectUrl');
  });

  it('refuses an http issuer unless allowed', () => {
    expect(() => upstream({ allowInsecureHttp: false })).toThrow(/issuer must be an https URL/);
  });

  it.skipIf(!browserAvailable())('logs in through the IdP pages in headless Chromium (needs Chromium: apt-get install chromium)', async () => {
    const oidc = upstream();
    const { redirectUrl, state } = await oidc.begin();
    const browser = await launchBrowser();
    try {
      const page = await (await loopbackOnlyContext(browser)).newPage();
      await page.goto(redirectUrl);
      await page.locator('input[name="login"]').fill('alice');
      await page.locator('input[name="password"]').fill('any password');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      await page.getByRole('button', { name: 'Continue' }).click(); // consent
      await page.waitForURL((url) => url.href.startsWith(redirectUri));
      expect(await page.textContent('body')).toBe('callback received');
    } finally {
      await browser.close();
    }
    const callback = received.at(-1)!;
    expect(callback.searchParams.get('state')).toBe(state.state);
    await expect(oidc.complete(callback, state)).resolves.toEqual({
      issuer: idp.issuer,
      subject: 'alice',
      email: 'alice@corp.example',
      emailVerified: true,
      name: 'Alice Example',
    });
  });
});
