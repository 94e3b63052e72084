/**
 * Tokens stay bound to the client, team and resource they were issued for: a refresh token of client X presented by
 * client Y (public or confidential) is `invalid_grant` and leaves X's grant intact; Y cannot revoke it either; a
 * refresh token for team A cannot be turned into a token for team B or the admin API; and an access token of a team
 * endpoint is never an admin API token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { authorizeInBrowser, authorizeUrl, basicAuth, newPkce, registerClient, tokenRequest } from '../helpers/oauth-client.js';
import { createTeam } from '../../src/teams/team-admin.js';

let tdb: TestDatabase;
let gw: TestGateway;
const REDIRECT = 'https://app.example.com/cb';
let publicX: string;
let publicY: string;
let confidentialZ: { id: string; secret: string };

beforeAll(async () => {
  tdb = await createTestDatabase();
  gw = await startTestGateway(tdb.db, { env: { ADMIN_EMAILS: 'boss@example.com' } });
  await createTeam(tdb.db.prisma, { slug: 'alpha', name: 'Alpha', packs: ['demo'] });
  await createTeam(tdb.db.prisma, { slug: 'beta', name: 'Beta', packs: ['demo'] });
  const reg = (name: string, method: string) => registerClient(gw.url, { client_name: name, redirect_uris: [REDIRECT], token_endpoint_auth_method: method });
  publicX = (await reg('X', 'none')).body.client_id as string;
  publicY = (await reg('Y', 'none')).body.client_id as string;
  const z = await reg('Z', 'client_secret_post');
  confidentialZ = { id: z.body.client_id as string, secret: z.body.client_secret as string };
});
afterAll(async () => {
  await gw?.close();
  await tdb?.drop();
});

async function tokensFor(clientId: string, resource: string, email: string, auth: Record<string, string> = { client_id: clientId }) {
  const pkce = newPkce();
  const response = await authorizeInBrowser(authorizeUrl(gw.url, { client_id: clientId, redirect_uri: REDIRECT, code_challenge: pkce.challenge, resource }), REDIRECT, { email });
  const res = await tokenRequest(gw.url, { grant_type: 'authorization_code', code: response.searchParams.get('code')!, code_verifier: pkce.verifier, redirect_uri: REDIRECT, ...auth });
  expect(res.status).toBe(200);
  return res.body as { access_token: string; refresh_token: string };
}

const refresh = (token: string, params: Record<string, string>) => tokenRequest(gw.url, { grant_type: 'refresh_token', refresh_token: token, ...params });
const alpha = () => `${gw.url}/t/alpha/mcp`;

describe('refresh tokens are bound to their client', () => {
  it("client Y presenting client X's refresh token gets invalid_grant; X's grant still works afterwards", async () => {
    const x = await tokensFor(publicX, alpha(), 'ann@example.com');
    const stolen = await refresh(x.refresh_token, { client_id: publicY });
    expect(stolen).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(stolen.body.access_token).toBeUndefined();
    const z = await refresh(x.refresh_token, { client_id: confidentialZ.id, client_secret: confidentialZ.secret });
    expect(z).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    // Nothing of X's family was used or revoked by the attempts.
    const own = await refresh(x.refresh_token, { client_id: publicX });
    expect(own.status).toBe(200);
    expect(own.body.refresh_token).toEqual(expect.any(String));
  });

  it("a confidential client's refresh token is useless with another client's credentials or without its secret", async () => {
    const z = await tokensFor(confidentialZ.id, alpha(), 'bo@example.com', { client_id: confidentialZ.id, client_secret: confidentialZ.secret });
    expect((await refresh(z.refresh_token, { client_id: publicX })).body.error).toBe('invalid_grant');
    const noSecret = await refresh(z.refresh_token, { client_id: confidentialZ.id });
    expect(noSecret.status).toBe(401);
    expect(noSecret.body.error).toBe('invalid_client');
    const wrong = await tokenRequest(gw.url, { grant_type: 'refresh_token', refresh_token: z.refresh_token }, basicAuth(confidentialZ.id, 'not-the-secret'));
    expect(wrong.status).toBe(401);
    expect((await refresh(z.refresh_token, { client_id: confidentialZ.id, client_secret: confidentialZ.secret })).status).toBe(200);
  });

  it("client Y cannot revoke client X's refresh token", async () => {
    const x = await tokensFor(publicX, alpha(), 'cy@example.com');
    const res = await fetch(`${gw.url}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: x.refresh_token, client_id: publicY }),
    });
    expect(res.status).toBe(200); // RFC 7009: the answer reveals nothing…
    expect((await refresh(x.refresh_token, { client_id: publicX })).status).toBe(200); // …and nothing was revoked
  });
});

describe('grants are bound to their team and resource', () => {
  it('a refresh token for team alpha cannot be refreshed into a token for team beta or the admin API', async () => {
    const x = await tokensFor(publicX, alpha(), 'di@example.com');
    for (const resource of [`${gw.url}/t/beta/mcp`, `${gw.url}/admin`, `${gw.url}/mcp`, `${alpha()}/`, alpha().toUpperCase()]) {
      const res = await refresh(x.refresh_token, { client_id: publicX, resource });
      expect(res).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
    }
    const ok = await refresh(x.refresh_token, { client_id: publicX, resource: alpha() });
    expect(ok.status).toBe(200);
    const beta = await fetch(`${gw.url}/t/beta/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ok.body.access_token as string}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(beta.status).toBe(401);
  });

  it("a platform admin's team-endpoint token is not an admin API token", async () => {
    const x = await tokensFor(publicX, alpha(), 'boss@example.com');
    const res = await fetch(`${gw.url}/admin/v1/teams`, { headers: { authorization: `Bearer ${x.access_token}` } });
    expect(res.status).toBe(401);
    const admin = await tokensFor(publicX, `${gw.url}/admin`, 'boss@example.com');
    expect((await fetch(`${gw.url}/admin/v1/teams`, { headers: { authorization: `Bearer ${admin.access_token}` } })).status).toBe(200);
    // …and the admin token opens no MCP endpoint.
    const mcp = await fetch(alpha(), {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(mcp.status).toBe(401);
  });
});
