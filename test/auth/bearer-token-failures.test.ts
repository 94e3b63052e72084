/**
 * RFC 6750 §3 + RFC 9728 §5.1: every kind of bad token is refused with 401 and a WWW-Authenticate challenge
 * that names the protected-resource metadata; each failure is counted by reason in /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, generateKeyPair, exportSPKI, base64url, type CryptoKey } from 'jose';
import { createHmac } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, tokenFor, type TestGateway } from '../helpers/gateway.js';
import { rawPost, INIT } from '../helpers/mcp-client.js';
import { LOCAL_ISSUER } from '../../src/teams/users.js';

let tdb: TestDatabase;
let gw: TestGateway;
let endpoint: string;
let prm: string;
let userId: string;

beforeAll(async () => {
  tdb = await createTestDatabase();
  gw = await startTestGateway(tdb.db);
  endpoint = `${gw.url}/t/demo/mcp`;
  prm = `${gw.url}/.well-known/oauth-protected-resource/t/demo/mcp`;
  userId = (await gw.app.users.upsert(LOCAL_ISSUER, 'tok@example.com', 'tok@example.com')).id;
  await tdb.db.prisma.team.create({ data: { slug: 'acme', name: 'Acme' } });
});
afterAll(async () => {
  await gw?.close();
  await tdb?.drop();
});

/** Signs with the gateway's real key but lets a test choose every claim. */
function signed(claims: Record<string, unknown>): Promise<string> {
  return gw.app.keys.sign({ iss: gw.url, sub: userId, aud: endpoint, client_id: 'c1', scope: 'mcp', ...claims }, { expiresInSeconds: 300, typ: 'at+jwt' });
}

async function expectRejected(token: string | undefined, reason: string, opts: { errorCode?: string | null } = {}) {
  const before = await failures(reason);
  const res = await rawPost(endpoint, INIT, token === undefined ? {} : { authorization: `Bearer ${token}` });
  expect(res.status).toBe(401);
  const challenge = res.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(/^Bearer /);
  expect(challenge).toContain(`resource_metadata="${prm}"`);
  const errorCode = opts.errorCode === undefined ? 'invalid_token' : opts.errorCode;
  if (errorCode) expect(challenge).toContain(`error="${errorCode}"`);
  else expect(challenge).not.toContain('error=');
  expect(await failures(reason)).toBe(before + 1);
  expect(await tdb.db.prisma.session.count()).toBe(0);
}

async function failures(reason: string): Promise<number> {
  const text = await gw.app.metrics.registry.getSingleMetricAsString('switchboard_token_failures_total');
  const m = new RegExp(`reason="${reason}"} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

describe('tokens the resource server refuses', () => {
  it('missing: a bare challenge without an error code (RFC 6750 §3.1)', async () => {
    await expectRejected(undefined, 'missing', { errorCode: null });
  });

  it('garbage', async () => {
    await expectRejected('not-a-jwt', 'malformed');
    await expectRejected('a.b.c', 'malformed');
  });

  it('expired (beyond the clock skew)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const key = (await privateKeyOf())[0]!;
    const t = await new SignJWT({ sub: userId, client_id: 'c1' })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' })
      .setIssuer(gw.url)
      .setAudience(endpoint)
      .setIssuedAt(now - 3600)
      .setExpirationTime(now - 120)
      .sign(key.privateKey);
    await expectRejected(t, 'expired');
  });

  it('not yet valid (nbf in the future beyond the skew)', async () => {
    await expectRejected(await signed({ nbf: Math.floor(Date.now() / 1000) + 600 }), 'not_yet_valid');
  });

  it("another team's audience", async () => {
    await expectRejected(await signed({ aud: `${gw.url}/t/acme/mcp` }), 'audience');
  });

  it('wrong issuer', async () => {
    await expectRejected(await signed({ iss: 'https://evil.example' }), 'issuer');
  });

  it('alg: none', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
    const now = Math.floor(Date.now() / 1000);
    const payload = base64url.encode(JSON.stringify({ iss: gw.url, sub: userId, aud: endpoint, exp: now + 300, client_id: 'c1' }));
    await expectRejected(`${header}.${payload}.`, 'algorithm');
  });

  it('an unknown kid (a key the gateway never had)', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const now = Math.floor(Date.now() / 1000);
    const t = await new SignJWT({ sub: userId, client_id: 'c1' })
      .setProtectedHeader({ alg: 'ES256', kid: 'not-a-gateway-key' })
      .setIssuer(gw.url)
      .setAudience(endpoint)
      .setExpirationTime(now + 300)
      .sign(privateKey);
    await expectRejected(t, 'unknown_kid');
  });

  it('a valid kid but a signature by another key', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const key = (await privateKeyOf())[0]!;
    const now = Math.floor(Date.now() / 1000);
    const t = await new SignJWT({ sub: userId, client_id: 'c1' })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid })
      .setIssuer(gw.url)
      .setAudience(endpoint)
      .setExpirationTime(now + 300)
      .sign(privateKey);
    await expectRejected(t, 'signature');
  });

  it('HS256 signed with the public key (algorithm confusion)', async () => {
    const jwks = await gw.app.keys.jwks();
    const pub = jwks.keys[0]!;
    const { importJWK } = await import('jose');
    const pem = await exportSPKI((await importJWK(pub, 'ES256')) as CryptoKey);
    const now = Math.floor(Date.now() / 1000);
    const header = base64url.encode(JSON.stringify({ alg: 'HS256', kid: pub.kid, typ: 'JWT' }));
    const payload = base64url.encode(JSON.stringify({ iss: gw.url, sub: userId, aud: endpoint, exp: now + 300, client_id: 'c1' }));
    const sig = createHmac('sha256', pem).update(`${header}.${payload}`).digest('base64url');
    await expectRejected(`${header}.${payload}.${sig}`, 'algorithm');
  });

  it('a gateway-signed JWT that is not an access token (typ JWT, as minted for tool servers)', async () => {
    const t = await gw.app.keys.sign({ iss: gw.url, sub: userId, aud: endpoint, client_id: 'c1' }, { expiresInSeconds: 300 });
    await expectRejected(t, 'claims');
  });

  it('a token for a user that does not exist', async () => {
    const res = await rawPost(endpoint, INIT, { authorization: `Bearer ${await signed({ sub: '00000000-0000-4000-8000-000000000000' })}` });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('and a good token passes (the checks above are not refusing everything)', async () => {
    const { token } = await tokenFor(gw, { email: 'tok@example.com' });
    const res = await rawPost(endpoint, INIT, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    await res.text();
  });
});

describe('protected-resource metadata (RFC 9728)', () => {
  it('per team and for the /mcp alias, with the exact resource identifier', async () => {
    const team = await (await fetch(prm)).json();
    expect(team).toEqual({
      resource: endpoint,
      authorization_servers: [gw.url],
      scopes_supported: expect.arrayContaining(['mcp']),
      bearer_methods_supported: ['header'],
      resource_name: expect.stringContaining('Demo'),
    });
    // It used to name PUBLIC_URL + "/", which is a 404: no link at all rather than a dead one.
    expect((await fetch(`${gw.url}/`)).status).toBe(404);
    const alias = await (await fetch(`${gw.url}/.well-known/oauth-protected-resource/mcp`)).json();
    expect(alias.resource).toBe(`${gw.url}/mcp`);
    const unknown = await fetch(`${gw.url}/.well-known/oauth-protected-resource/t/nope/mcp`);
    expect(unknown.status).toBe(404);
  });

  it('the /mcp alias takes the default team\'s own token (what `switchboard token --team demo` mints) and no other team\'s', async () => {
    for (const aud of [`${gw.url}/t/demo/mcp`, `${gw.url}/mcp`]) {
      const res = await rawPost(`${gw.url}/mcp`, INIT, { authorization: `Bearer ${await signed({ aud })}` });
      expect(res.status, aud).toBe(200);
      await res.text();
    }
    for (const aud of [`${gw.url}/t/acme/mcp`, [`${gw.url}/t/acme/mcp`, 'https://elsewhere.example/t/demo/mcp']]) {
      const res = await rawPost(`${gw.url}/mcp`, INIT, { authorization: `Bearer ${await signed({ aud })}` });
      expect(res.status, JSON.stringify(aud)).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain(`resource_metadata="${gw.url}/.well-known/oauth-protected-resource/mcp"`);
    }
    // Strict the other way too: the alias's own resource does not open the team URL.
    expect((await rawPost(endpoint, INIT, { authorization: `Bearer ${await signed({ aud: `${gw.url}/mcp` })}` })).status).toBe(401);
  });

  it('the /mcp alias challenges with its own metadata URL', async () => {
    const res = await rawPost(`${gw.url}/mcp`, INIT);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${gw.url}/.well-known/oauth-protected-resource/mcp"`);
  });
});

/** The gateway's current private key, read back through the key store's own storage (test-only access). */
async function privateKeyOf(): Promise<{ kid: string; privateKey: CryptoKey }[]> {
  const { createSecretBox } = await import('../../src/security/secret-box.js');
  const { importJWK } = await import('jose');
  const { TEST_ENCRYPTION_KEY } = await import('../helpers/gateway.js');
  const box = createSecretBox(TEST_ENCRYPTION_KEY);
  const rows = await tdb.db.prisma.signingKey.findMany({ where: { retiredAt: null } });
  return Promise.all(rows.map(async (r) => ({ kid: r.kid, privateKey: (await importJWK(JSON.parse(box.open(r.privateJwkEncrypted)), 'ES256')) as CryptoKey })));
}
