/**
 * Attacks on the authorization server, each refused with the right error and nothing issued: code reuse (which
 * also revokes what the code gave), PKCE mismatch, redirect mismatches and prefix tricks, unknown or foreign
 * resources, a team A token at team B, open redirects, a metadata document on a private address, CSRF on the
 * login and consent forms, and invite-only teams.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { rawPost, INIT } from '../helpers/mcp-client.js';
import { authorizeInBrowser, authorizeUrl, FetchBrowser, hiddenField, newPkce, registerClient, tokenRequest } from '../helpers/oauth-client.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { isPublicAddress } from '../../src/authserver/safe-fetch.js';

let tdb: TestDatabase;
let gw: TestGateway;
let clientId: string;
let demo: string;
const REDIRECT = 'https://app.example.com/cb';
const SECOND_REDIRECT = 'https://app.example.com/other';

beforeAll(async () => {
  tdb = await createTestDatabase();
  gw = await startTestGateway(tdb.db);
  demo = `${gw.url}/t/demo/mcp`;
  await createTeam(tdb.db.prisma, { slug: 'acme', name: 'Acme', packs: ['demo'] });
  await createTeam(tdb.db.prisma, { slug: 'vault', name: 'Vault', joinPolicy: 'invite', packs: ['demo'] });
  const reg = await registerClient(gw.url, { client_name: 'Attack Target', redirect_uris: [REDIRECT, SECOND_REDIRECT, 'http://127.0.0.1:5000/cb'], token_endpoint_auth_method: 'none' });
  clientId = reg.body.client_id as string;
});
afterAll(async () => {
  await gw?.close();
  await tdb?.drop();
});

async function getCode(opts: { resource?: string; redirect?: string; email?: string } = {}) {
  const pkce = newPkce();
  const redirect = opts.redirect ?? REDIRECT;
  const url = authorizeUrl(gw.url, { client_id: clientId, redirect_uri: redirect, state: 'st', code_challenge: pkce.challenge, resource: opts.resource ?? demo });
  const response = await authorizeInBrowser(url, redirect, { email: opts.email ?? 'victim@example.com' });
  const code = response.searchParams.get('code');
  if (!code) throw new Error(`no code: ${response.href}`);
  return { code, pkce, redirect };
}

const exchange = (code: string, verifier: string, extra: Record<string, string> = {}) =>
  tokenRequest(gw.url, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: clientId, ...extra });

const tokensOf = (id: string) => tdb.db.prisma.refreshToken.count({ where: { clientId: id } });

/** An authorization request answered with an HTML error page and no redirect anywhere. */
async function expectErrorPage(url: URL, status = 400): Promise<string> {
  const res = await fetch(url, { redirect: 'manual' });
  expect(res.status).toBe(status);
  expect(res.headers.get('location')).toBeNull();
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
  return res.text();
}

/** An authorization request answered with an error redirect to the client carrying `iss` and `state`. */
async function expectErrorRedirect(url: URL, error: string): Promise<URLSearchParams> {
  const res = await fetch(url, { redirect: 'manual' });
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get('location')!);
  expect(location.searchParams.get('error')).toBe(error);
  expect(location.searchParams.get('iss')).toBe(gw.url);
  expect(location.searchParams.get('state')).toBe('st');
  return location.searchParams;
}

describe('authorization codes', () => {
  it('a code used twice is refused and the tokens it gave are revoked', async () => {
    const { code, pkce } = await getCode();
    const first = await exchange(code, pkce.verifier);
    expect(first.status).toBe(200);
    const second = await exchange(code, pkce.verifier);
    expect(second).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const refresh = await tokenRequest(gw.url, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token as string, client_id: clientId });
    expect(refresh).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const rows = await tdb.db.prisma.refreshToken.findMany({ where: { clientId } });
    expect(rows.every((r) => r.revokedAt !== null)).toBe(true);
  });

  it('a wrong PKCE verifier gets invalid_grant and nothing is issued', async () => {
    const before = await tokensOf(clientId);
    const { code } = await getCode();
    const res = await exchange(code, newPkce().verifier);
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(res.body.access_token).toBeUndefined();
    const missing = await tokenRequest(gw.url, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: clientId });
    expect(missing).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await tokensOf(clientId)).toBe(before);
  });

  it('the redirect_uri at the token endpoint must be the one authorized', async () => {
    const { code, pkce } = await getCode();
    const res = await exchange(code, pkce.verifier, { redirect_uri: SECOND_REDIRECT });
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('another client cannot redeem the code', async () => {
    const other = await registerClient(gw.url, { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
    const { code, pkce } = await getCode();
    const res = await exchange(code, pkce.verifier, { client_id: other.body.client_id as string });
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('an unknown client at the token endpoint is 401 invalid_client with a Basic challenge', async () => {
    const res = await tokenRequest(gw.url, { grant_type: 'authorization_code', code: 'x', code_verifier: 'y', client_id: 'nobody' });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
  });
});

describe('redirect URIs', () => {
  const attempts = [
    'https://app.example.com/cb/../evil',
    'https://app.example.com/cb?next=https://evil.example',
    'https://app.example.com/cbx',
    'https://app.example.com/c',
    'https://app.example.com.evil.example/cb',
    'https://app.example.com@evil.example/cb',
    'https://APP.example.com/cb',
    'https://evil.example/cb',
    'http://app.example.com/cb',
    'http://127.0.0.1:6000/cb2',
    'http://localhost:5000/cb',
  ];
  it.each(attempts)('%s → error page, never a redirect', async (redirect) => {
    const body = await expectErrorPage(authorizeUrl(gw.url, { client_id: clientId, redirect_uri: redirect, code_challenge: newPkce().challenge, resource: demo, state: 'st' }));
    expect(body).toContain('not registered');
  });

  it('a registered loopback redirect matches on any port (RFC 8252 §7.3)', async () => {
    const { code, pkce } = await getCode({ redirect: 'http://127.0.0.1:6123/cb' });
    const res = await exchange(code, pkce.verifier, { redirect_uri: 'http://127.0.0.1:6123/cb' });
    expect(res.status).toBe(200);
  });

  it('an unknown client_id is an error page, even with a plausible redirect (no open redirect)', async () => {
    const body = await expectErrorPage(authorizeUrl(gw.url, { client_id: 'sb-does-not-exist', redirect_uri: 'https://evil.example/steal', code_challenge: newPkce().challenge, resource: demo }));
    expect(body).toContain('not registered');
  });

  it('registration refuses non-https, credentials, fragments and browser-dangerous schemes', async () => {
    for (const uri of ['http://app.example.com/cb', 'https://u:p@app.example.com/cb', 'https://app.example.com/cb#x', 'javascript:alert(1)', 'data:text/html,x', 'file:///etc/passwd', 'vbscript:x', 'not a url']) {
      const res = await registerClient(gw.url, { redirect_uris: [uri] });
      expect(res, uri).toMatchObject({ status: 400, body: { error: 'invalid_redirect_uri' } });
    }
    const none = await registerClient(gw.url, { client_name: 'no redirects' });
    expect(none).toMatchObject({ status: 400, body: { error: 'invalid_redirect_uri' } });
  });
});

describe('resource indicators', () => {
  it.each([
    ['missing', undefined],
    ['unknown team', 'TEAM/t/nope/mcp'],
    ['foreign host', 'https://evil.example/t/demo/mcp'],
    ['trailing slash', 'TEAM/t/demo/mcp/'],
    // PUBLIC_URL/admin itself is a resource (the admin API; admin-resource.test.ts), but nothing below it.
    ['admin API sub-path', 'TEAM/admin/v1'],
    ['team path without /mcp', 'TEAM/t/demo'],
  ])('%s → invalid_target redirect with iss, nothing issued', async (_name, resource) => {
    const url = authorizeUrl(gw.url, { client_id: clientId, redirect_uri: REDIRECT, state: 'st', code_challenge: newPkce().challenge, resource: resource?.replace('TEAM', gw.url) });
    await expectErrorRedirect(url, 'invalid_target');
  });

  it('a token for team A does not open team B; the token endpoint will not switch resources', async () => {
    const { code, pkce } = await getCode();
    const switched = await exchange(code, pkce.verifier, { resource: `${gw.url}/t/acme/mcp` });
    expect(switched).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
    const tokens = await exchange(code, pkce.verifier, { resource: demo });
    expect(tokens.status).toBe(200);
    const atAcme = await rawPost(`${gw.url}/t/acme/mcp`, INIT, { authorization: `Bearer ${tokens.body.access_token as string}` });
    expect(atAcme.status).toBe(401);
    expect(atAcme.headers.get('www-authenticate')).toContain('invalid_token');
    // The /mcp alias is the demo team itself under a second name: the demo team's token opens it (and only that).
    const alias = await rawPost(`${gw.url}/mcp`, INIT, { authorization: `Bearer ${tokens.body.access_token as string}` });
    expect(alias.status).toBe(200);
    await alias.text();
    const refresh = await tokenRequest(gw.url, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string, client_id: clientId, resource: `${gw.url}/t/acme/mcp` });
    expect(refresh).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
  });
});

describe('authorization request checks that redirect', () => {
  const base = () => ({ client_id: clientId, redirect_uri: REDIRECT, state: 'st', resource: demo });
  it('PKCE is required, S256 only', async () => {
    await expectErrorRedirect(authorizeUrl(gw.url, { ...base() }), 'invalid_request');
    await expectErrorRedirect(authorizeUrl(gw.url, { ...base(), code_challenge: newPkce().challenge, code_challenge_method: 'plain' }), 'invalid_request');
  });
  it('response_type must be code', async () => {
    await expectErrorRedirect(authorizeUrl(gw.url, { ...base(), code_challenge: newPkce().challenge, response_type: 'token' }), 'unsupported_response_type');
  });
  it('prompt=none cannot be honoured: login_required', async () => {
    await expectErrorRedirect(authorizeUrl(gw.url, { ...base(), code_challenge: newPkce().challenge, prompt: 'none' }), 'login_required');
  });
  it('an invite-only team refuses a non-member with access_denied before any code exists', async () => {
    const before = await tdb.db.prisma.authorizationCode.count();
    const url = authorizeUrl(gw.url, { ...base(), code_challenge: newPkce().challenge, resource: `${gw.url}/t/vault/mcp` });
    const response = await authorizeInBrowser(url, REDIRECT, { email: 'outsider@example.com' });
    expect(response.searchParams.get('error')).toBe('access_denied');
    expect(response.searchParams.get('error_description')).toContain('invite-only');
    expect(response.searchParams.get('iss')).toBe(gw.url);
    expect(response.searchParams.get('state')).toBe('st');
    expect(await tdb.db.prisma.authorizationCode.count()).toBe(before);
  });
});

describe('CSRF on the login and consent forms', () => {
  it('a consent POST without or with a wrong token is 403 and issues no code', async () => {
    const before = await tdb.db.prisma.authorizationCode.count();
    const browser = new FetchBrowser((u) => u.origin === 'https://app.example.com');
    const login = await browser.navigate(authorizeUrl(gw.url, { client_id: clientId, redirect_uri: REDIRECT, state: 'st', code_challenge: newPkce().challenge, resource: demo }));
    if ('redirect' in login) throw new Error('expected the login page');
    const csrf = hiddenField(login.body, 'csrf')!;

    const forgedLogin = await browser.request(new URL('/login', gw.url), { email: 'csrf-victim@example.com' });
    expect(forgedLogin.status).toBe(403);

    const consent = await browser.navigate(new URL('/login', gw.url), { csrf, email: 'csrf-victim@example.com' });
    if ('redirect' in consent) throw new Error('expected the consent page');
    expect(consent.body).toContain('Attack Target');
    expect(consent.body).toContain('app.example.com');
    const forms: Record<string, string>[] = [{ decision: 'allow' }, { decision: 'allow', csrf: 'forged' }, { decision: 'allow', csrf: '' }];
    for (const form of forms) {
      const res = await browser.request(new URL('/consent', gw.url), form);
      expect(res.status).toBe(403);
      expect(res.headers.get('location')).toBeNull();
    }
    // A browser without the login cookie (a cross-site forgery) gets nowhere either.
    const stranger = new FetchBrowser(() => false);
    const res = await stranger.request(new URL('/consent', gw.url), { decision: 'allow', csrf });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await tdb.db.prisma.authorizationCode.count()).toBe(before);
    // The genuine form still works afterwards.
    const allowed = await browser.navigate(new URL('/consent', gw.url), { csrf, decision: 'allow' });
    expect('redirect' in allowed && allowed.redirect.searchParams.get('code')).toBeTruthy();
  });
});

describe('client metadata documents on private addresses', () => {
  let hits = 0;
  let server: http.Server;
  let port: number;
  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it.each(['https://127.0.0.1:PORT/client.json', 'https://localhost:PORT/client.json', 'https://[::1]:PORT/client.json', 'https://169.254.169.254/latest/meta-data'])(
    '%s is refused before any connection',
    async (template) => {
      const cid = template.replace('PORT', String(port));
      const body = await expectErrorPage(authorizeUrl(gw.url, { client_id: cid, redirect_uri: 'https://app.example.com/cb', code_challenge: newPkce().challenge, resource: demo }));
      expect(body).toContain('non-public address');
      expect(hits).toBe(0);
    },
  );

  it('plain http metadata URLs are not treated as documents at all', async () => {
    const body = await expectErrorPage(authorizeUrl(gw.url, { client_id: `http://127.0.0.1:${port}/client.json`, redirect_uri: REDIRECT, code_challenge: newPkce().challenge, resource: demo }));
    expect(body).toContain('not registered');
    expect(hits).toBe(0);
  });

  it('classifies addresses', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1']) {
      expect(isPublicAddress(a), a).toBe(false);
    }
    for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) expect(isPublicAddress(a), a).toBe(true);
  });
});
