/**
 * Verified access tokens are remembered briefly, keyed by the exact token and audience: a repeated token skips the
 * signature check, but never outlives its `exp` or VERIFIED_TOKEN_TTL_MS, and a cached success for one audience is
 * no answer for another.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { createTokenVerifier, VERIFIED_TOKEN_TTL_MS, type TokenVerifier } from '../../src/auth/token-verifier.js';
import { TokenRejectedError } from '../../src/auth/token-errors.js';
import { CLOCK_SKEW_SECONDS } from '../../src/auth/verify-access-token.js';
import type { KeyStore } from '../../src/authserver/signing-keys.js';

let tdb: TestDatabase;
let gw: TestGateway;
let verifier: TokenVerifier;
let keyLookups = 0;
let audience: string;

beforeAll(async () => {
  tdb = await createTestDatabase();
  gw = await startTestGateway(tdb.db);
  audience = `${gw.url}/t/demo/mcp`;
  // Every signature check asks the key store for the JWKS: counting those counts verifications.
  const keys: KeyStore = { ...gw.app.keys, jwks: () => (keyLookups++, gw.app.keys.jwks()) };
  verifier = createTokenVerifier({ config: gw.app.config, keys });
});
afterAll(async () => {
  await gw?.close();
  await tdb?.drop();
});
afterEach(() => {
  vi.useRealTimers();
});

const sign = (claims: Record<string, unknown> = {}, expiresInSeconds = 300) =>
  gw.app.keys.sign({ iss: gw.url, sub: crypto.randomUUID(), aud: audience, client_id: 'c1', scope: 'mcp', ...claims }, { expiresInSeconds, typ: 'at+jwt' });

async function rejection(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(TokenRejectedError);
    return (err as TokenRejectedError).reason;
  }
}

describe('verified token cache', () => {
  it('verifies a token once, then answers from the cache with an equal, separate AuthInfo', async () => {
    const token = await sign();
    const before = keyLookups;
    const first = await verifier.verify(token, audience);
    const second = await verifier.verify(token, audience);
    expect(keyLookups).toBe(before + 1);
    expect(second).toEqual(first);
    expect(second).not.toBe(first);
    second.scopes.push('tampered');
    expect((await verifier.verify(token, audience)).scopes).toEqual(['mcp']);
  });

  it('a token verified for one audience is still refused for another', async () => {
    const token = await sign();
    await verifier.verify(token, audience);
    expect(await rejection(verifier.verify(token, `${gw.url}/t/other/mcp`))).toBe('audience');
  });

  it('failures are not cached', async () => {
    const token = await sign({ aud: 'https://elsewhere.example/mcp' });
    const before = keyLookups;
    expect(await rejection(verifier.verify(token, audience))).toBe('audience');
    expect(await rejection(verifier.verify(token, audience))).toBe('audience');
    expect(keyLookups).toBe(before + 2);
  });

  it('an entry ends at the token’s exp: after it the token is verified again, and refused once past the skew', async () => {
    const token = await sign({}, 60);
    await verifier.verify(token, audience);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 61_000); // past exp, within the clock skew jose allows
    const before = keyLookups;
    await verifier.verify(token, audience);
    expect(keyLookups).toBe(before + 1);
    vi.setSystemTime(Date.now() + (CLOCK_SKEW_SECONDS + 1) * 1000);
    expect(await rejection(verifier.verify(token, audience))).toBe('expired');
  });

  it('an entry lasts at most VERIFIED_TOKEN_TTL_MS', async () => {
    const token = await sign({}, 3600);
    await verifier.verify(token, audience);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + VERIFIED_TOKEN_TTL_MS - 1_000);
    const before = keyLookups;
    await verifier.verify(token, audience);
    expect(keyLookups).toBe(before);
    vi.setSystemTime(Date.now() + 2_000);
    await verifier.verify(token, audience);
    expect(keyLookups).toBe(before + 1);
  });
});
