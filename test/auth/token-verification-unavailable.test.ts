/**
 * A token that cannot be checked right now is not a bad token: when the external issuer's JWKS answers 500, or the
 * database is down while the built-in keys reload (a token signed with a key this replica has not seen), the MCP
 * endpoint answers 503 with `Retry-After` and logs a line with the request id — not the SDK's silent 500, and not a
 * 401 that sends the client to sign in again. A genuinely bad token is still 401 meanwhile, and everything works
 * again when the keys can be had.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { openDatabase, type Database } from '../../src/db/database.js';
import { createKeyStore } from '../../src/authserver/signing-keys.js';
import { createSecretBox } from '../../src/security/secret-box.js';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, TEST_ENCRYPTION_KEY, tokenFor, type TestGateway } from '../helpers/gateway.js';
import { INIT, rawPost } from '../helpers/mcp-client.js';
import { startDatabaseProxy, type DatabaseProxy } from '../helpers/database-proxy.js';

async function expectUnavailable(gw: TestGateway, res: Response): Promise<void> {
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe('5');
  expect(res.headers.get('www-authenticate')).toBeNull();
  const body = (await res.json()) as { error: string; error_description: string };
  expect(body.error).toBe('temporarily_unavailable');
  const requestId = res.headers.get('x-request-id')!;
  expect(body.error_description).toContain(requestId);
  const line = gw.logs.lines.find((l) => l.includes(requestId) && l.includes('access token could not be verified'));
  expect(line, 'a log line with the request id').toBeDefined();
}

async function expectOk(res: Response): Promise<void> {
  expect(res.status).toBe(200);
  await res.text();
}

describe('external issuer whose JWKS fails', () => {
  let tdb: TestDatabase;
  let gw: TestGateway;
  let idp: http.Server;
  let issuer: string;
  let jwksDown = false;
  let key: { privateKey: CryptoKey; publicJwk: JWK };

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    key = { privateKey: pair.privateKey, publicJwk: { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' } };
    idp = http.createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/oauth-authorization-server') {
        res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys` }));
      } else if (req.url === '/keys' && !jwksDown) {
        res.end(JSON.stringify({ keys: [key.publicJwk] }));
      } else {
        res.statusCode = req.url === '/keys' ? 500 : 404;
        res.end('{}');
      }
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', () => r()));
    issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    tdb = await createTestDatabase();
    gw = await startTestGateway(tdb.db, { env: { AUTH_MODE: 'external', AUTH_ISSUER: issuer }, jwksCooldownMs: 1 });
  });
  afterAll(async () => {
    await gw?.close();
    await tdb?.drop();
    idp?.closeAllConnections();
    await new Promise((r) => idp?.close(r));
  });

  const token = (audience = `${gw.url}/t/demo/mcp`, kid = 'k1') =>
    new SignJWT({ email: 'jwks@example.com', email_verified: true, azp: 'app', scope: 'mcp' })
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer(issuer)
      .setSubject('jwks-user')
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key.privateKey);

  it('503 + Retry-After + a log line while the JWKS answers 500; a malformed token is still 401; then it works', async () => {
    jwksDown = true;
    await expectUnavailable(gw, await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${await token()}` }));
    const bad = await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: 'Bearer a.b.c' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"');

    jwksDown = false;
    await expectOk(await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${await token()}` }));
  });

  it('the admin API answers such a token 503 unavailable too, not an internal error', async () => {
    jwksDown = true;
    // A kid the verifier has not cached makes it fetch the JWKS, which fails.
    const res = await fetch(`${gw.url}/admin/v1/teams`, { headers: { authorization: `Bearer ${await token(`${gw.url}/admin`, 'k-new')}` } });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unavailable');
    jwksDown = false;
    const back = await fetch(`${gw.url}/admin/v1/teams`, { headers: { authorization: `Bearer ${await token(`${gw.url}/admin`)}` } });
    expect(back.status).toBe(403); // verified again: an ordinary user, not a platform admin
  });
});

describe.skipIf(!TEST_DATABASE_URL)('built-in keys reloading during a database outage (needs TEST_DATABASE_URL: a real PostgreSQL)', () => {
  let tdb: TestDatabase;
  let proxy: DatabaseProxy;
  let viaProxy: Database;
  let gw: TestGateway;
  /** Moves the gateway's clock past the key-reload cooldown without waiting. */
  let offsetMs = 0;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    proxy = await startDatabaseProxy(tdb.url!);
    viaProxy = await openDatabase({ url: proxy.url, poolSize: 3 });
    gw = await startTestGateway(viaProxy, { clock: () => Date.now() + offsetMs });
  });
  afterAll(async () => {
    await gw?.close();
    await viaProxy?.close();
    await proxy?.close();
    await tdb?.drop();
  });

  it('a token signed with a key rotated on another replica: 503 while the keys cannot be reloaded, 200 after', async () => {
    const { token: known, userId } = await tokenFor(gw, { email: 'reload@example.com' });
    await expectOk(await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${known}` })); // the team is cached now
    // Another replica (straight to the database) rotates the signing key and signs with the new one.
    const otherReplica = createKeyStore({ prisma: tdb.db.prisma, box: createSecretBox(TEST_ENCRYPTION_KEY) });
    await otherReplica.rotate();
    const rotated = await otherReplica.sign({ iss: gw.url, sub: userId, aud: `${gw.url}/t/demo/mcp`, client_id: 'c1', scope: 'mcp' }, { expiresInSeconds: 300, typ: 'at+jwt' });
    offsetMs = 60_000;

    await proxy.stop();
    await expectUnavailable(gw, await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${rotated}` }));
    // A token whose signature is wrong under a key this replica knows is refused without the database.
    const [header, payload] = known.split('.');
    const forged = await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${header}.${payload}.${'A'.repeat(86)}` });
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toContain('error="invalid_token"');

    await proxy.start();
    await expectOk(await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${rotated}` }));
  });
});
