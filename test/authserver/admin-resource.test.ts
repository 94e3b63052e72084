/**
 * The admin API as an RFC 8707 resource of the built-in issuer (docs/interface.md §3: admin callers may use "an access
 * token for the resource PUBLIC_URL + "/admin" held by a platform admin"): `/authorize` and `/token` accept
 * `resource=PUBLIC_URL/admin`, the token's `aud` is exactly that, the MCP endpoints refuse it, no team join policy
 * applies, consent is remembered per (user, client, admin API), and anything else is still `invalid_target`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import type { TestGateway } from '../helpers/gateway.js';
import { INIT, rawPost } from '../helpers/mcp-client.js';
import { authorizeInBrowser, authorizeUrl, FetchBrowser, hiddenField, newPkce, registerClient, startOAuthGateway, tokenRequest } from '../helpers/oauth-client.js';
import { LOCAL_ISSUER } from '../../src/teams/users.js';
import { ADMIN_CONSENT_TEAM_ID } from '../../src/authserver/consent-store.js';

let tdb: TestDatabase;
let gw: TestGateway;
let adminResource: string;
const REDIRECT = 'http://127.0.0.1:33418/oauth/callback';
const ROOT = 'root@example.com';

beforeAll(async () => {
  tdb = await createTestDatabase();
  gw = await startOAuthGateway(tdb.db, { env: { ADMIN_EMAILS: ROOT } });
  adminResource = `${gw.url}/admin`;
});
afterAll(async () => {
  await gw?.close();
  await tdb?.drop();
});

async function publicClient(name: string): Promise<string> {
  const reg = await registerClient(gw.url, { client_name: name, redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
  expect(reg.status).toBe(201);
  return reg.body.client_id as string;
}

function authorization(clientId: string, resource: string, extra: Record<string, string> = {}) {
  const pkce = newPkce();
  const url = authorizeUrl(gw.url, { client_id: clientId, redirect_uri: REDIRECT, state: 'st-admin', code_challenge: pkce.challenge, resource, ...extra });
  return { url, verifier: pkce.verifier };
}

async function exchange(clientId: string, code: string, verifier: string, extra: Record<string, string> = {}) {
  return tokenRequest(gw.url, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: clientId, ...extra });
}

async function userId(email: string): Promise<string> {
  return (await tdb.db.prisma.user.findUniqueOrThrow({ where: { issuer_subject: { issuer: LOCAL_ISSUER, subject: email } } })).id;
}

/** Dev login as `email` up to the consent page, whose HTML is returned with the browser that holds the cookie. */
async function consentPage(url: URL, email: string): Promise<{ browser: FetchBrowser; body: string }> {
  const browser = new FetchBrowser((u) => u.href.startsWith(REDIRECT));
  const login = await browser.navigate(url);
  if ('redirect' in login) throw new Error(`expected the login page, got a redirect to ${login.redirect.href}`);
  expect(login.body).toContain('admin API');
  const consent = await browser.navigate(new URL('/login', gw.url), { csrf: hiddenField(login.body, 'csrf')!, email });
  if ('redirect' in consent) throw new Error(`expected the consent page, got a redirect to ${consent.redirect.href}`);
  expect(consent.status).toBe(200);
  return { browser, body: consent.body };
}

describe('resource = PUBLIC_URL/admin', () => {
  let clientId: string;
  let adminToken: string;
  let refreshToken: string;

  it('authorize → login → consent (about the admin API) → code → token with aud PUBLIC_URL/admin and the right claims', async () => {
    clientId = await publicClient('Admin Console');
    const { url, verifier } = authorization(clientId, adminResource, { scope: 'mcp offline_access' });
    const { browser, body } = await consentPage(url, ROOT);
    expect(body).toContain('Allow Admin Console to access the admin API?');
    expect(body).toContain('The gateway’s admin API');
    expect(body).not.toContain('<dt>Team</dt>');
    expect(body).toMatch(/<button[^>]*value="allow"[^>]*>Allow<\/button>/);
    const done = await browser.navigate(new URL('/consent', gw.url), { csrf: hiddenField(body, 'csrf')!, decision: 'allow' });
    if (!('redirect' in done)) throw new Error(`expected the redirect to the client, got ${done.status}`);
    expect(done.redirect.searchParams.get('iss')).toBe(gw.url);
    expect(done.redirect.searchParams.get('state')).toBe('st-admin');

    const tokens = await exchange(clientId, done.redirect.searchParams.get('code')!, verifier, { resource: adminResource });
    expect(tokens.status).toBe(200);
    adminToken = tokens.body.access_token as string;
    refreshToken = tokens.body.refresh_token as string;
    expect(refreshToken).toBeTruthy();
    const claims = decodeJwt(adminToken);
    expect(claims).toMatchObject({ iss: gw.url, aud: adminResource, sub: await userId(ROOT), client_id: clientId, email: ROOT, scope: 'mcp offline_access' });
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(3600);

    // No join policy for the admin API: the flow joined the user to no team.
    expect(await tdb.db.prisma.membership.count({ where: { userId: await userId(ROOT) } })).toBe(0);
    const code = await tdb.db.prisma.authorizationCode.findFirstOrThrow({ where: { clientId } });
    expect(code.resource).toBe(adminResource);
  });

  it('the MCP endpoints refuse an admin-audience token with 401 and a resource-metadata challenge', async () => {
    for (const endpoint of [`${gw.url}/t/demo/mcp`, `${gw.url}/mcp`]) {
      const res = await rawPost(endpoint, INIT, { authorization: `Bearer ${adminToken}` });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer .*resource_metadata="[^"]+"/);
      await res.body?.cancel();
    }
  });

  it('the admin API takes it from a platform admin', async () => {
    const res = await fetch(`${gw.url}/admin/v1/teams`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: { slug: string }[] };
    expect(body.items.map((t) => t.slug)).toContain('demo');
  });

  it('refreshes for the same resource (no team check), and refuses a refresh for a team resource', async () => {
    const wrong = await tokenRequest(gw.url, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId, resource: `${gw.url}/t/demo/mcp` });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe('invalid_target');
    const refreshed = await tokenRequest(gw.url, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId, resource: adminResource });
    expect(refreshed.status).toBe(200);
    expect(decodeJwt(refreshed.body.access_token as string)).toMatchObject({ aud: adminResource, sub: await userId(ROOT) });
    expect(refreshed.body.refresh_token).not.toBe(refreshToken);
  });

  it('consent is remembered per (user, client, admin API), apart from the same client’s team consents', async () => {
    const rows = await tdb.db.prisma.consent.findMany({ where: { clientId } });
    expect(rows).toEqual([expect.objectContaining({ userId: await userId(ROOT), teamId: ADMIN_CONSENT_TEAM_ID })]);

    // Again for the admin API: no consent page, even though this "person" would press Deny.
    const again = authorization(clientId, adminResource);
    const response = await authorizeInBrowser(again.url, REDIRECT, { email: ROOT, decision: 'deny' });
    expect(response.searchParams.get('code')).toBeTruthy();
    expect((await exchange(clientId, response.searchParams.get('code')!, again.verifier)).status).toBe(200);

    // The same client for a team: the admin consent does not cover it, so the page is shown and Deny counts.
    const team = authorization(clientId, `${gw.url}/t/demo/mcp`);
    const denied = await authorizeInBrowser(team.url, REDIRECT, { email: ROOT, decision: 'deny' });
    expect(denied.searchParams.get('error')).toBe('access_denied');
    expect(denied.searchParams.get('iss')).toBe(gw.url);
  });

  it('a code for the admin API cannot be exchanged for another resource', async () => {
    const { url, verifier } = authorization(clientId, adminResource);
    const response = await authorizeInBrowser(url, REDIRECT, { email: ROOT });
    const res = await exchange(clientId, response.searchParams.get('code')!, verifier, { resource: `${gw.url}/t/demo/mcp` });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_target');
  });

  it('any user may hold one; the admin API gives a non-admin nothing', async () => {
    const client = await publicClient('Curious Console');
    const { url, verifier } = authorization(client, adminResource);
    const response = await authorizeInBrowser(url, REDIRECT, { email: 'nobody@example.com' });
    const tokens = await exchange(client, response.searchParams.get('code')!, verifier);
    expect(tokens.status).toBe(200);
    expect(decodeJwt(tokens.body.access_token as string).aud).toBe(adminResource);
    const res = await fetch(`${gw.url}/admin/v1/teams`, { headers: { authorization: `Bearer ${tokens.body.access_token as string}` } });
    expect(res.status).toBe(403);
    await res.body?.cancel();
  });
});

describe('resources that are not published stay invalid_target', () => {
  it.each([
    ['a sub-path of the admin API', (u: string) => `${u}/admin/v1`],
    ['the admin API with a trailing slash', (u: string) => `${u}/admin/`],
    ['another origin’s /admin', () => 'https://evil.example/admin'],
    ['an unknown team', (u: string) => `${u}/t/no-such-team/mcp`],
    ['the issuer itself', (u: string) => u],
  ])('%s → invalid_target on the redirect, with state and iss', async (_name, resource) => {
    const clientId = await publicClient('Target Probe');
    const { url } = authorization(clientId, resource(gw.url));
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(location.href.startsWith(REDIRECT)).toBe(true);
    expect(location.searchParams.get('error')).toBe('invalid_target');
    expect(location.searchParams.get('state')).toBe('st-admin');
    expect(location.searchParams.get('iss')).toBe(gw.url);
  });
});
