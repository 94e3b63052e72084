/**
 * Client ID Metadata Documents: what makes a document acceptable (its `client_id` equals its URL, JSON, size,
 * public client, redirect URIs), how long it is cached (Cache-Control within bounds), and redirect checks against
 * it. The documents are served by a local test server, reachable only through the test-only allowance.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import type { TestGateway } from '../helpers/gateway.js';
import { authorizeInBrowser, authorizeUrl, newPkce, startOAuthGateway, tokenRequest } from '../helpers/oauth-client.js';
import { CIMD_MAX_CACHE_MS, CIMD_MIN_CACHE_MS, cacheLifetimeMs } from '../../src/authserver/client-metadata-document.js';

let tdb: TestDatabase;
let gw: TestGateway;
let server: http.Server;
let base: string;
let now = Date.now();
const served = new Map<string, { status?: number; type?: string; headers?: Record<string, string>; body: (url: string) => string }>();
const hits = new Map<string, number>();
const REDIRECT = 'https://client.example/cb';

beforeAll(async () => {
  tdb = await createTestDatabase();
  gw = await startOAuthGateway(tdb.db, { authServer: { allowPrivateCimdHosts: true }, clock: () => now });
  server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const doc = served.get(path);
    if (!doc) return res.writeHead(404).end();
    res.writeHead(doc.status ?? 200, { 'content-type': doc.type ?? 'application/json', ...doc.headers }).end(doc.body(`${base}${path}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await gw?.close();
  await new Promise((r) => server?.close(r));
  await tdb?.drop();
});

function serve(path: string, doc: Record<string, unknown> | ((url: string) => Record<string, unknown>), opts: { status?: number; type?: string; headers?: Record<string, string> } = {}) {
  served.set(path, { ...opts, body: (url) => JSON.stringify(typeof doc === 'function' ? doc(url) : doc) });
  return `${base}${path}`;
}

const goodDoc = (url: string) => ({ client_id: url, client_name: 'CIMD App', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });

async function authorizePage(clientId: string, redirect = REDIRECT): Promise<{ status: number; body: string; location: string | null }> {
  const res = await fetch(authorizeUrl(gw.url, { client_id: clientId, redirect_uri: redirect, code_challenge: newPkce().challenge, resource: `${gw.url}/t/demo/mcp` }), { redirect: 'manual' });
  return { status: res.status, body: await res.text(), location: res.headers.get('location') };
}

describe('accepting a document', () => {
  it('a good document authorizes, exchanges and shows its name', async () => {
    const id = serve('/good.json', goodDoc);
    const pkce = newPkce();
    const response = await authorizeInBrowser(authorizeUrl(gw.url, { client_id: id, redirect_uri: REDIRECT, code_challenge: pkce.challenge, resource: `${gw.url}/t/demo/mcp` }), REDIRECT, { email: 'cimd@example.com' });
    const tokens = await tokenRequest(gw.url, { grant_type: 'authorization_code', code: response.searchParams.get('code')!, code_verifier: pkce.verifier, redirect_uri: REDIRECT, client_id: id });
    expect(tokens.status).toBe(200);
  });

  it.each([
    ['client_id differs from the URL', (u: string) => ({ ...goodDoc(u), client_id: `${u}x` }), {}, 'does not equal its URL'],
    ['a shared-secret auth method', (u: string) => ({ ...goodDoc(u), token_endpoint_auth_method: 'client_secret_post' }), {}, 'must use token_endpoint_auth_method'],
    ['a client_secret inside', (u: string) => ({ ...goodDoc(u), client_secret: 'x' }), {}, 'must not contain client_secret'],
    ['no redirect URIs', (u: string) => ({ client_id: u }), {}, 'redirect_uris'],
    ['HTTP 500', goodDoc, { status: 500 }, 'HTTP 500'],
    ['not JSON', goodDoc, { type: 'text/html' }, 'application/json'],
    ['too large', (u: string) => ({ ...goodDoc(u), padding: 'x'.repeat(70_000) }), {}, 'larger than'],
  ])('refuses a document with %s (error page, no redirect)', async (_name, doc, opts, message) => {
    const id = serve(`/bad-${Math.random().toString(36).slice(2)}.json`, doc, opts);
    const page = await authorizePage(id);
    expect(page.status).toBe(400);
    expect(page.location).toBeNull();
    expect(page.body).toContain(message);
  });

  it('the redirect URI must be one the document lists', async () => {
    const id = serve('/redirects.json', goodDoc);
    const page = await authorizePage(id, 'https://client.example/other');
    expect(page).toMatchObject({ status: 400, location: null });
  });
});

describe('caching', () => {
  it('honours max-age within bounds and refetches when it is over', async () => {
    const id = serve('/cached.json', goodDoc, { headers: { 'cache-control': 'max-age=600' } });
    expect((await authorizePage(id)).status).toBe(302);
    expect((await authorizePage(id)).status).toBe(302);
    expect(hits.get('/cached.json')).toBe(1);
    // The document changes; the cached copy is used until max-age passes.
    serve('/cached.json', (u) => ({ ...goodDoc(u), redirect_uris: ['https://client.example/moved'] }));
    now += 599_000;
    expect((await authorizePage(id)).status).toBe(302);
    now += 2_000;
    expect((await authorizePage(id)).status).toBe(400);
    expect(hits.get('/cached.json')).toBe(2);
  });

  it('clamps lifetimes', () => {
    expect(cacheLifetimeMs('max-age=1')).toBe(CIMD_MIN_CACHE_MS);
    expect(cacheLifetimeMs('no-store')).toBe(CIMD_MIN_CACHE_MS);
    expect(cacheLifetimeMs('public, max-age=99999999')).toBe(CIMD_MAX_CACHE_MS);
    expect(cacheLifetimeMs('max-age=3600')).toBe(3_600_000);
  });
});
