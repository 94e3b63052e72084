/**
 * AUTH_MODE=external: the gateway is only a resource server. It discovers the issuer's JWKS from its RFC 8414
 * metadata, caches it, refetches it when a token names an unknown `kid` (key rotation), and maps the issuer's
 * subjects to gateway users.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { connectClient, rawPost, INIT } from '../helpers/mcp-client.js';

let tdb: TestDatabase;
let gw: TestGateway;
let idp: http.Server;
let issuer: string;
const keys: { kid: string; privateKey: CryptoKey; publicJwk: JWK }[] = [];
let jwksFetches = 0;

async function addKey(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  keys.push({ kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } });
}

beforeAll(async () => {
  await addKey('k1');
  idp = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/oauth-authorization-server') {
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys`, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token` }));
    } else if (req.url === '/keys') {
      jwksFetches++;
      res.end(JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((r) => idp.listen(0, '127.0.0.1', () => r()));
  issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  tdb = await createTestDatabase();
  gw = await startTestGateway(tdb.db, { env: { AUTH_MODE: 'external', AUTH_ISSUER: issuer }, jwksCooldownMs: 200 });
});
afterAll(async () => {
  await gw?.close();
  await tdb?.drop();
  idp?.close();
});

async function externalToken(kid: string, audience = `${gw.url}/t/demo/mcp`, claims: Record<string, unknown> = {}, subject = 'ext-user-1') {
  const key = keys.find((k) => k.kid === kid)!;
  return new SignJWT({ email: 'Ext@Example.com', email_verified: true, azp: 'chatgpt-app', scope: 'mcp', ...claims })
    .setProtectedHeader({ alg: 'RS256', kid })
    .setIssuer(issuer)
    .setSubject(subject)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key.privateKey);
}

describe('external issuer', () => {
  it('the protected-resource metadata names the external issuer', async () => {
    const doc = await (await fetch(`${gw.url}/.well-known/oauth-protected-resource/t/demo/mcp`)).json();
    expect(doc.authorization_servers).toEqual([issuer]);
  });

  it('accepts its tokens (JWKS discovered), maps the subject to a user, and takes the client from azp', async () => {
    const { client } = await connectClient(`${gw.url}/t/demo/mcp`, await externalToken('k1'));
    const who = (await client.callTool({ name: 'demo__whoami', arguments: {} })).structuredContent as Record<string, unknown>;
    expect(who).toMatchObject({ email: 'ext@example.com', team: 'demo', clientId: 'chatgpt-app' });
    const user = await tdb.db.prisma.user.findUniqueOrThrow({ where: { issuer_subject: { issuer, subject: 'ext-user-1' } } });
    expect(who.userId).toBe(user.id);
    expect(jwksFetches).toBe(1);
    await client.close();
  });

  it('the stored e-mail follows the latest token: a changed verified address replaces it, an unverified or missing one clears it', async () => {
    const storedAfter = async (claims: Record<string, unknown>) => {
      const res = await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${await externalToken('k1', undefined, claims, 'ext-user-2')}` });
      expect(res.status).toBe(200);
      await res.text();
      return (await tdb.db.prisma.user.findUniqueOrThrow({ where: { issuer_subject: { issuer, subject: 'ext-user-2' } } })).email;
    };
    expect(await storedAfter({ email: 'first@example.com' })).toBe('first@example.com');
    expect(await storedAfter({ email: 'second@example.com' })).toBe('second@example.com');
    expect(await storedAfter({ email: 'second@example.com', email_verified: false })).toBeNull();
    expect(await storedAfter({ email: 'third@example.com', email_verified: undefined })).toBeNull();
    expect(await storedAfter({ email: 'third@example.com' })).toBe('third@example.com');
    expect(await storedAfter({ email: undefined, email_verified: undefined })).toBeNull();

    const { client } = await connectClient(`${gw.url}/t/demo/mcp`, await externalToken('k1', undefined, { email: 'spoofed@example.com', email_verified: false }, 'ext-user-2'));
    const who = (await client.callTool({ name: 'demo__whoami', arguments: {} })).structuredContent as Record<string, unknown>;
    expect(who.email ?? null).toBeNull();
    await client.close();
  });

  it('a rotated key (unknown kid) triggers one JWKS refetch, then works', async () => {
    await addKey('k2');
    await new Promise((r) => setTimeout(r, 250)); // past the (test-sized) refetch cooldown
    const before = jwksFetches;
    const res = await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${await externalToken('k2')}` });
    expect(res.status).toBe(200);
    await res.text();
    expect(jwksFetches).toBe(before + 1);
  });

  it('refuses the built-in issuer, HS256 and other audiences in external mode', async () => {
    const ownToken = await gw.app.keys.sign({ iss: gw.url, sub: 'x', aud: `${gw.url}/t/demo/mcp` }, { expiresInSeconds: 60 });
    expect((await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${ownToken}` })).status).toBe(401);
    const hs = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setIssuer(issuer).setSubject('s').setAudience(`${gw.url}/t/demo/mcp`).setExpirationTime('5m').sign(new TextEncoder().encode('x'.repeat(32)));
    expect((await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${hs}` })).status).toBe(401);
    const wrongAud = await externalToken('k1', 'https://elsewhere.example/mcp');
    expect((await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${wrongAud}` })).status).toBe(401);
  });
});
