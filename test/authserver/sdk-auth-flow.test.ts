/**
 * The built-in authorization server driven end to end by the MCP SDK's own client: 401 → protected-resource
 * metadata → authorization-server metadata → registration (DCR, a metadata document, or a confidential
 * `client_secret_post` client like Claude's) → authorize → dev login → consent Allow → token → MCP session whose
 * `demo__whoami` is the person who logged in; then refresh rotation and reuse detection.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, auth, discoverAuthorizationServerMetadata, refreshAuthorization } from '@modelcontextprotocol/sdk/client/auth.js';
import { decodeJwt } from 'jose';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { authorizeInBrowser, startOAuthGateway, TestOAuthProvider } from '../helpers/oauth-client.js';
import type { TestGateway } from '../helpers/gateway.js';
import { LOCAL_ISSUER } from '../../src/teams/users.js';

let tdb: TestDatabase;
let gw: TestGateway;
let endpoint: string;
let cimd: http.Server;
let cimdUrl: string;

const REDIRECT = 'http://localhost:6274/oauth/callback';

beforeAll(async () => {
  tdb = await createTestDatabase();
  gw = await startOAuthGateway(tdb.db, { authServer: { allowPrivateCimdHosts: true } });
  endpoint = `${gw.url}/t/demo/mcp`;
  // A client publishing its own metadata document (served over plain http: the test-only allowance).
  cimd = http.createServer((req, res) => {
    if (req.url !== '/oauth/client.json') return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' });
    res.end(JSON.stringify({ client_id: cimdUrl, client_name: 'Metadata Document Client', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] }));
  });
  await new Promise<void>((r) => cimd.listen(0, '127.0.0.1', () => r()));
  cimdUrl = `http://127.0.0.1:${(cimd.address() as AddressInfo).port}/oauth/client.json`;
});
afterAll(async () => {
  await gw?.close();
  await new Promise((r) => cimd?.close(r));
  await tdb?.drop();
});

function whoami(result: unknown): Record<string, unknown> {
  const r = result as { structuredContent?: Record<string, unknown>; content: { type: string; text: string }[] };
  return r.structuredContent ?? JSON.parse(r.content[0]!.text);
}

/** The SDK flow a real MCP client runs: connect → 401 → auth() → browser → finishAuth → connect again. */
async function connectWithOAuth(provider: TestOAuthProvider): Promise<Client> {
  const first = new Client({ name: 'oauth-e2e', version: '1.0.0' });
  await expect(first.connect(new StreamableHTTPClientTransport(new URL(endpoint), { authProvider: provider }))).rejects.toBeInstanceOf(UnauthorizedError);
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), { authProvider: provider });
  await transport.finishAuth(provider.code);
  const client = new Client({ name: 'oauth-e2e', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

async function localUserId(email: string): Promise<string> {
  const u = await tdb.db.prisma.user.findUniqueOrThrow({ where: { issuer_subject: { issuer: LOCAL_ISSUER, subject: email } } });
  return u.id;
}

describe('SDK auth() with dynamic client registration (public client)', () => {
  const provider = new TestOAuthProvider({ redirectUrl: REDIRECT, user: { email: 'ada@example.com' } });

  it('401 → PRM → AS metadata → DCR → authorize → dev login → Allow → token → whoami is the logged-in user', async () => {
    const client = await connectWithOAuth(provider);
    const who = whoami(await client.callTool({ name: 'demo__whoami', arguments: {} }));
    expect(who).toMatchObject({ email: 'ada@example.com', team: 'demo', userId: await localUserId('ada@example.com') });
    await client.close();

    // What the SDK saw and sent.
    const authz = provider.lastAuthorizationUrl!;
    expect(authz.origin + authz.pathname).toBe(`${gw.url}/authorize`);
    expect(authz.searchParams.get('resource')).toBe(endpoint);
    expect(authz.searchParams.get('code_challenge_method')).toBe('S256');
    expect(provider.lastResponse!.searchParams.get('iss')).toBe(gw.url);
    expect(provider.client!.client_id).toMatch(/^sb-/);
    const row = await tdb.db.prisma.oAuthClient.findUniqueOrThrow({ where: { id: provider.client!.client_id } });
    expect(row).toMatchObject({ tokenEndpointAuthMethod: 'none', secretHash: null, name: 'SDK test client', redirectUris: [REDIRECT] });

    const claims = decodeJwt(provider.savedTokens!.access_token);
    expect(claims).toMatchObject({ iss: gw.url, aud: endpoint, client_id: provider.client!.client_id, email: 'ada@example.com', sub: await localUserId('ada@example.com') });
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(3600);
    expect(String(claims.scope).split(' ')).toContain('mcp');
    expect(provider.savedTokens!.refresh_token).toBeTruthy();
    // Hashed at rest: the plain refresh token is nowhere in the table.
    const stored = await tdb.db.prisma.refreshToken.findMany({ where: { clientId: provider.client!.client_id } });
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain(provider.savedTokens!.refresh_token);
  });

  it('refresh rotates; the rotated token reused revokes the family, so the newest one fails too', async () => {
    const metadata = await discoverAuthorizationServerMetadata(gw.url);
    const firstRefresh = provider.savedTokens!.refresh_token!;
    // auth() with stored tokens refreshes.
    expect(await auth(provider, { serverUrl: endpoint })).toBe('AUTHORIZED');
    const secondRefresh = provider.savedTokens!.refresh_token!;
    expect(secondRefresh).not.toBe(firstRefresh);
    const client = new Client({ name: 'after-refresh', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(endpoint), { authProvider: provider }));
    expect(whoami(await client.callTool({ name: 'demo__whoami', arguments: {} }))).toMatchObject({ email: 'ada@example.com' });
    await client.close();

    const refresh = (token: string) => refreshAuthorization(gw.url, { ...(metadata ? { metadata } : {}), clientInformation: provider.client!, refreshToken: token, resource: new URL(endpoint) });
    await expect(refresh(firstRefresh)).rejects.toMatchObject({ errorCode: 'invalid_grant' });
    await expect(refresh(secondRefresh)).rejects.toMatchObject({ errorCode: 'invalid_grant' });
    const family = await tdb.db.prisma.refreshToken.findMany({ where: { clientId: provider.client!.client_id } });
    expect(family.length).toBe(2);
    expect(family.every((t) => t.revokedAt !== null)).toBe(true);
  });

  it('a second authorization of the same client and team skips the consent page (remembered)', async () => {
    const again = new TestOAuthProvider({ redirectUrl: REDIRECT, user: { email: 'ada@example.com', decision: 'deny' }, client: provider.client! });
    // The PRM advertises offline_access, so the SDK sends prompt=consent: consent is asked again and Deny works.
    expect(await auth(again, { serverUrl: endpoint })).toBe('REDIRECT');
    expect(again.lastResponse!.searchParams.get('error')).toBe('access_denied');
    expect(again.lastResponse!.searchParams.get('iss')).toBe(gw.url);
    // Without prompt=consent the remembered consent applies even though this "person" would press Deny.
    const url = new URL(again.lastAuthorizationUrl!);
    url.searchParams.delete('prompt');
    url.searchParams.set('scope', 'mcp');
    const response = await authorizeInBrowser(url, REDIRECT, { email: 'ada@example.com', decision: 'deny' });
    expect(response.searchParams.get('code')).toBeTruthy();
    expect(response.searchParams.get('state')).toBe(again.stateValue);
  });
});

describe('SDK auth() with a Client ID Metadata Document', () => {
  it('the client_id URL is fetched, checked and used; tokens carry it as client_id; refresh works', async () => {
    const provider = new TestOAuthProvider({ redirectUrl: REDIRECT, user: { email: 'grace@example.com' }, client: { client_id: cimdUrl } });
    const client = await connectWithOAuth(provider);
    expect(whoami(await client.callTool({ name: 'demo__whoami', arguments: {} }))).toMatchObject({ email: 'grace@example.com', team: 'demo' });
    await client.close();
    expect(decodeJwt(provider.savedTokens!.access_token).client_id).toBe(cimdUrl);
    const row = await tdb.db.prisma.oAuthClient.findUniqueOrThrow({ where: { id: cimdUrl } });
    expect(row).toMatchObject({ isMetadataDocument: true, name: 'Metadata Document Client', tokenEndpointAuthMethod: 'none' });

    const before = provider.savedTokens!.refresh_token;
    expect(await auth(provider, { serverUrl: endpoint })).toBe('AUTHORIZED');
    expect(provider.savedTokens!.refresh_token).not.toBe(before);
  });
});

describe('SDK auth() with a confidential client_secret_post client (as Claude registers)', () => {
  it('registers with a non-expiring secret, authenticates with it in the body, refreshes', async () => {
    const provider = new TestOAuthProvider({
      redirectUrl: 'https://claude.ai/api/mcp/auth_callback',
      user: { email: 'claude-user@example.com' },
      metadata: { client_name: 'Claude', token_endpoint_auth_method: 'client_secret_post' },
    });
    const client = await connectWithOAuth(provider);
    expect(whoami(await client.callTool({ name: 'demo__whoami', arguments: {} }))).toMatchObject({ email: 'claude-user@example.com' });
    await client.close();

    const info = provider.client as { client_id: string; client_secret?: string; client_secret_expires_at?: number };
    expect(info.client_secret).toBeTruthy();
    expect(info.client_secret_expires_at).toBe(0);
    const row = await tdb.db.prisma.oAuthClient.findUniqueOrThrow({ where: { id: info.client_id } });
    expect(row.tokenEndpointAuthMethod).toBe('client_secret_post');
    expect(row.secretHash).not.toBe(info.client_secret);
    expect(row.secretHash).toMatch(/^[0-9a-f]{64}$/);

    expect(await auth(provider, { serverUrl: endpoint })).toBe('AUTHORIZED');

    // The same refresh with a wrong secret: 401 invalid_client with a Basic challenge, nothing issued.
    const res = await fetch(`${gw.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: provider.savedTokens!.refresh_token!, client_id: info.client_id, client_secret: 'wrong' }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
  });
});
