/**
 * Login through an upstream OpenID provider (a real `oidc-provider` on loopback) inside the authorization flow:
 * `/login` goes straight to the IdP when the dev login is off, the callback at `/login/oidc/callback` logs the
 * user in by issuer + subject (keeping only a verified e-mail), and the flow continues to consent and the code.
 * A login that fails at the IdP (Cancel, an error, the IdP down) is answered to the client's redirect URI.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import type { TestGateway } from '../helpers/gateway.js';
import { authorizeUrl, FetchBrowser, freePort, hiddenField, newPkce, registerClient, startOAuthGateway, tokenRequest } from '../helpers/oauth-client.js';
import { loginViaFetch, startOidcProvider, type OidcProviderFixture, type OidcTestAccount } from '../fixtures/oidc-provider.js';
import { decodeJwt } from 'jose';

let tdb: TestDatabase;
let gw: TestGateway;
let idp: OidcProviderFixture;
const REDIRECT = 'https://claude.ai/api/mcp/auth_callback';
/** The IdP's accounts; tests change them between logins, as a directory admin would. */
const accounts: Record<string, OidcTestAccount> = {
  alice: { email: 'Alice@Corp.example', email_verified: true, name: 'Alice' },
  bob: { email: 'bob@corp.example', email_verified: false, name: 'Bob' },
  carol: { email: 'carol@corp.example', email_verified: true, name: 'Carol' },
};

beforeAll(async () => {
  tdb = await createTestDatabase();
  const port = await freePort();
  idp = await startOidcProvider({
    clients: [{ client_id: 'gateway', client_secret: 'gateway-secret-0123456789', redirect_uris: [`http://127.0.0.1:${port}/login/oidc/callback`] }],
    accounts,
  });
  gw = await startOAuthGateway(tdb.db, {
    port,
    env: {
      DEV_LOGIN: 'false',
      LOGIN_OIDC_ISSUER: idp.issuer,
      LOGIN_OIDC_CLIENT_ID: 'gateway',
      LOGIN_OIDC_CLIENT_SECRET: 'gateway-secret-0123456789',
      ADMIN_EMAILS: 'carol@corp.example',
    },
  });
});
afterAll(async () => {
  await gw?.close();
  await idp?.close();
  await tdb?.drop();
});

interface StartedLogin {
  browser: FetchBrowser;
  /** The IdP's authorization URL the gateway sent the browser to. */
  toIdp: URL;
  clientId: string;
  pkce: { verifier: string };
}

/** A registered client's authorization (of the default team's endpoint unless `resource`), up to the redirect to the IdP. */
async function startLogin(resource = `${gw.url}/mcp`): Promise<StartedLogin> {
  const reg = await registerClient(gw.url, { client_name: 'Claude', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
  const clientId = reg.body.client_id as string;
  const pkce = newPkce();
  const browser = new FetchBrowser((u) => u.origin === idp.issuer || u.origin === 'https://claude.ai');
  const toIdp = await browser.navigate(authorizeUrl(gw.url, { client_id: clientId, redirect_uri: REDIRECT, state: 'st', code_challenge: pkce.challenge, resource }));
  if (!('redirect' in toIdp)) throw new Error(`expected a redirect to the IdP, got ${toIdp.status}`);
  expect(toIdp.redirect.origin).toBe(idp.issuer);
  expect(browser.visited).toEqual(['GET /authorize', 'GET /login', 'GET /login/oidc']);
  return { browser, toIdp: toIdp.redirect, clientId, pkce };
}

async function loginAs(login: string, resource?: string): Promise<{ response: URL; pkce: { verifier: string }; clientId: string }> {
  const { browser, toIdp, clientId, pkce } = await startLogin(resource);
  const callback = await loginViaFetch(toIdp, login);
  expect(callback.href.startsWith(`${gw.url}/login/oidc/callback?`)).toBe(true);
  const consent = await browser.navigate(callback);
  if ('redirect' in consent) throw new Error('expected the consent page');
  expect(consent.body).toContain('claude.ai');
  const done = await browser.navigate(new URL('/consent', gw.url), { csrf: hiddenField(consent.body, 'csrf')!, decision: 'allow' });
  if (!('redirect' in done)) throw new Error(`expected the redirect to the client, got ${done.status}`);
  return { response: done.redirect, pkce, clientId };
}

/** The authorization response the client receives (the browser stops at its redirect URI). */
function expectClientAnswer(page: Awaited<ReturnType<FetchBrowser['navigate']>>, error: string, issuer = gw.url): URL {
  if (!('redirect' in page)) throw new Error(`expected a redirect to the client, got ${page.status}: ${page.body.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 300)}`);
  expect(`${page.redirect.origin}${page.redirect.pathname}`).toBe(REDIRECT);
  expect(page.redirect.searchParams.get('error')).toBe(error);
  expect(page.redirect.searchParams.get('state')).toBe('st');
  expect(page.redirect.searchParams.get('iss')).toBe(issuer);
  expect(page.redirect.searchParams.get('code')).toBeNull();
  return page.redirect;
}

/** A callback carrying the IdP's answer for the login `toIdp` started (its real state). */
function callbackWith(toIdp: URL, params: Record<string, string>): URL {
  const url = new URL('/login/oidc/callback', gw.url);
  url.search = new URLSearchParams({ ...params, state: toIdp.searchParams.get('state')!, iss: idp.issuer }).toString();
  return url;
}

describe('upstream OpenID Connect login', () => {
  it('logs in by issuer + subject with the verified e-mail; the token names that user', async () => {
    const { response, pkce, clientId } = await loginAs('alice');
    expect(response.searchParams.get('iss')).toBe(gw.url);
    const tokens = await tokenRequest(gw.url, { grant_type: 'authorization_code', code: response.searchParams.get('code')!, code_verifier: pkce.verifier, redirect_uri: REDIRECT, client_id: clientId });
    expect(tokens.status).toBe(200);
    const user = await tdb.db.prisma.user.findUniqueOrThrow({ where: { issuer_subject: { issuer: idp.issuer, subject: 'alice' } } });
    expect(user).toMatchObject({ email: 'alice@corp.example', name: 'Alice' });
    expect(decodeJwt(tokens.body.access_token as string)).toMatchObject({ sub: user.id, email: 'alice@corp.example', aud: `${gw.url}/mcp` });
  });

  it('an unverified e-mail is not kept', async () => {
    await loginAs('bob');
    const user = await tdb.db.prisma.user.findUniqueOrThrow({ where: { issuer_subject: { issuer: idp.issuer, subject: 'bob' } } });
    expect(user.email).toBeNull();
  });

  it('the stored e-mail and the admin rights it grants follow the latest login: unverified clears it, a new address replaces it', async () => {
    const userOf = () => tdb.db.prisma.user.findUniqueOrThrow({ where: { issuer_subject: { issuer: idp.issuer, subject: 'carol' } } });
    const { response, pkce, clientId } = await loginAs('carol', `${gw.url}/admin`);
    const tokens = await tokenRequest(gw.url, { grant_type: 'authorization_code', code: response.searchParams.get('code')!, code_verifier: pkce.verifier, redirect_uri: REDIRECT, client_id: clientId });
    const adminApi = () => fetch(`${gw.url}/admin/v1/teams`, { headers: { authorization: `Bearer ${tokens.body.access_token as string}` } });
    expect((await userOf()).email).toBe('carol@corp.example');
    expect((await adminApi()).status).toBe(200); // ADMIN_EMAILS

    accounts.carol = { ...accounts.carol!, email_verified: false };
    await loginAs('carol');
    expect((await userOf()).email).toBeNull();
    expect((await adminApi()).status).toBe(403); // the same token: its user no longer has a verified admin address

    accounts.carol = { email: 'carol.new@corp.example', email_verified: true, name: 'Carol' };
    await loginAs('carol');
    expect((await userOf()).email).toBe('carol.new@corp.example');
    expect((await adminApi()).status).toBe(403);
  });

  it('Cancel at the identity provider sends access_denied with state and iss back to the client, and ends the sign-in', async () => {
    const { browser, toIdp } = await startLogin();
    const callback = await loginViaFetch(toIdp, 'alice', { deny: true });
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expectClientAnswer(await browser.navigate(callback), 'access_denied');
    const after = await browser.navigate(new URL('/consent', gw.url));
    expect('status' in after && after.status).toBe(400); // the login transaction is gone
  });

  it.each([
    ['temporarily_unavailable', { error: 'temporarily_unavailable' }],
    ['server_error', { error: 'invalid_scope' }],
    ['server_error', { code: 'a-code-the-idp-never-issued' }],
  ])('any other failure of this login is answered to the client too: %s for %j', async (expected, params) => {
    const { browser, toIdp } = await startLogin();
    expectClientAnswer(await browser.navigate(callbackWith(toIdp, params)), expected);
  });

  it('the database failing after the IdP answered: temporarily_unavailable to the client (the IdP code is spent, a reload could not finish)', async () => {
    const { browser, toIdp } = await startLogin();
    const callback = await loginViaFetch(toIdp, 'alice');
    // PostgreSQL refuses the user write with 57P03 (cannot_connect_now, as while it restarts); reads still work.
    await tdb.db.prisma.$executeRawUnsafe(`CREATE FUNCTION refuse_now() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the database is starting up' USING ERRCODE = '57P03'; END $$`);
    await tdb.db.prisma.$executeRawUnsafe('CREATE TRIGGER users_unavailable BEFORE INSERT OR UPDATE ON users FOR EACH STATEMENT EXECUTE FUNCTION refuse_now()');
    try {
      expectClientAnswer(await browser.navigate(callback), 'temporarily_unavailable');
    } finally {
      await tdb.db.prisma.$executeRawUnsafe('DROP TRIGGER users_unavailable ON users');
      await tdb.db.prisma.$executeRawUnsafe('DROP FUNCTION refuse_now()');
    }
  });

  it('a callback whose state is not this login’s is no answer to it: a page, and the client is not redirected', async () => {
    const { browser, toIdp } = await startLogin();
    const forged = callbackWith(toIdp, { error: 'access_denied' });
    forged.searchParams.set('state', 'another-login');
    const page = await browser.navigate(forged);
    if ('redirect' in page) throw new Error(`expected a page, got a redirect to ${page.redirect.href}`);
    expect(page.status).toBe(400);
    expect(page.body).toContain('Sign-in failed');
  });

  it('an identity provider that cannot be reached when the login starts: temporarily_unavailable to the client', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const down = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    const other = await startOAuthGateway(tdb.db, { env: { DEV_LOGIN: 'false', LOGIN_OIDC_ISSUER: down, LOGIN_OIDC_CLIENT_ID: 'gateway', LOGIN_OIDC_CLIENT_SECRET: 'x' } });
    try {
      const reg = await registerClient(other.url, { client_name: 'Claude', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
      const browser = new FetchBrowser((u) => u.origin === 'https://claude.ai');
      const url = authorizeUrl(other.url, { client_id: reg.body.client_id as string, redirect_uri: REDIRECT, state: 'st', code_challenge: newPkce().challenge, resource: `${other.url}/mcp` });
      expectClientAnswer(await browser.navigate(url), 'temporarily_unavailable', other.url);
      expect(browser.visited).toEqual(['GET /authorize', 'GET /login', 'GET /login/oidc']);
    } finally {
      await other.close();
    }
  });

  it('a callback without a login transaction, or a forged one, shows an error page', async () => {
    const res = await fetch(`${gw.url}/login/oidc/callback?code=x&state=y`, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    const dev = await fetch(`${gw.url}/login`, { method: 'POST', body: new URLSearchParams({ email: 'x@example.com' }), redirect: 'manual' });
    expect(dev.status).toBe(404);
  });
});
