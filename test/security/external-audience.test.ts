/**
 * AUTH_MODE=external with AUTH_AUDIENCE: every team endpoint then accepts the one shared audience, but the admin API
 * must still demand its own (`PUBLIC_URL/admin`). Otherwise any MCP access token — which a `passthrough` tool server
 * receives — would double as an admin API token carrying its user's (possibly platform) admin rights.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

let tdb: TestDatabase;
let gw: TestGateway;
let idp: http.Server;
let issuer: string;
let privateKey: CryptoKey;
let publicJwk: JWK;
const SHARED_AUDIENCE = 'api://switchboard';

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  privateKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  idp = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/oauth-authorization-server') res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys` }));
    else if (req.url === '/keys') res.end(JSON.stringify({ keys: [publicJwk] }));
    else res.writeHead(404).end('{}');
  });
  await new Promise<void>((r) => idp.listen(0, '127.0.0.1', () => r()));
  issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  tdb = await createTestDatabase();
  gw = await startTestGateway(tdb.db, { env: { AUTH_MODE: 'external', AUTH_ISSUER: issuer, AUTH_AUDIENCE: SHARED_AUDIENCE, ADMIN_EMAILS: 'root@example.com' } });
});
afterAll(async () => {
  await gw?.close();
  await tdb?.drop();
  idp?.close();
});

const token = (audience: string) =>
  new SignJWT({ email: 'root@example.com', email_verified: true, azp: 'some-app', scope: 'mcp' })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer(issuer)
    .setSubject('root-1')
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey);

describe('the admin API ignores AUTH_AUDIENCE', () => {
  it('an MCP token with the shared audience opens the MCP endpoint but not the admin API', async () => {
    const mcpToken = await token(SHARED_AUDIENCE);
    const mcp = await fetch(`${gw.url}/t/demo/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${mcpToken}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
    });
    expect(mcp.status).toBe(200);
    await mcp.body?.cancel();
    const admin = await fetch(`${gw.url}/admin/v1/teams`, { headers: { authorization: `Bearer ${mcpToken}` } });
    expect(admin.status).toBe(401);
  });

  it("a token for the admin API's own audience still works there", async () => {
    const res = await fetch(`${gw.url}/admin/v1/teams`, { headers: { authorization: `Bearer ${await token(`${gw.url}/admin`)}` } });
    expect(res.status).toBe(200);
  });
});
