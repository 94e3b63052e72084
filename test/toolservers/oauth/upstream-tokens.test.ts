/**
 * The tokens of auth mode `oauth`: sealed at rest and never logged; refreshed when expiring (rotation honoured) under
 * the row's lock, so concurrent calls refresh once; an upstream 401 renews the token and retries once; a refresh the
 * upstream refuses removes the connection and prompts the user again, without a loop.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startTestGateway, tokenFor, TEST_ENCRYPTION_KEY, type TestGateway } from '../../helpers/gateway.js';
import { connectViaFetch, useOAuthUpstreamGateway } from '../../fixtures/oauth-upstream.js';

const t = useOAuthUpstreamGateway('tokens');

async function session(email: string, gw: TestGateway = t.gw) {
  const { token, userId } = await tokenFor(t.gw, { email, team: 'tokens' });
  const client = new Client({ name: 'tokens-test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/t/tokens/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  const whoami = async () => {
    const r = (await client.callTool({ name: 'gh__whoami', arguments: {} })) as CallToolResult;
    return { isError: r.isError === true, text: (r.content[0] as { text: string }).text };
  };
  return { client, userId, whoami };
}

/** A user with a connection (as `login` at the upstream), and their stored row. */
async function connected(email: string, login: string) {
  const s = await session(email);
  const prompt = await s.whoami();
  const link = /(http:\/\/\S+\/oauth\/upstream\/connect\?link=\S+)/.exec(prompt.text)![1]!;
  expect((await connectViaFetch(link, login)).status).toBe(200);
  return s;
}

const row = (userId: string) => t.tdb.db.prisma.upstreamConnection.findFirstOrThrow({ where: { userId } });
const expireStored = (userId: string) => t.tdb.db.prisma.upstreamConnection.updateMany({ where: { userId }, data: { expiresAt: new Date(Date.now() - 60_000) } });

describe('upstream tokens', () => {
  it('are sealed at rest (no plaintext token or client secret in the database) and never logged', async () => {
    const s = await connected('sealed@example.com', 'sealed-upstream');
    expect((await s.whoami()).text).toBe('sub=sealed-upstream');
    const access = t.up.calls.at(-1)!.token;
    const stored = await row(s.userId);
    const refresh = t.gw.app.box.open(stored.refreshTokenEncrypted!);
    expect(t.gw.app.box.open(stored.accessTokenEncrypted)).toBe(access);
    const dump = JSON.stringify(await t.tdb.db.prisma.$queryRawUnsafe('SELECT * FROM upstream_connections')) + JSON.stringify(await t.tdb.db.prisma.$queryRawUnsafe('SELECT * FROM upstream_oauth_clients'));
    const client = await t.tdb.db.prisma.upstreamOAuthClient.findFirstOrThrow({});
    expect(client.registration).toBe('dcr');
    const secret = t.gw.app.box.open(client.clientSecretEncrypted!);
    for (const plain of [access, refresh, secret]) {
      expect(dump).not.toContain(plain);
      expect(t.gw.logs.text()).not.toContain(plain);
    }
    await s.client.close();
  });

  it('an expiring token is refreshed before use, with the rotated refresh token stored', async () => {
    const s = await connected('refresh@example.com', 'refresh-upstream');
    const before = await row(s.userId);
    await expireStored(s.userId);
    const fresh = await session('refresh@example.com'); // a new session holds no cached token
    expect(await fresh.whoami()).toEqual({ isError: false, text: 'sub=refresh-upstream' });
    const after = await row(s.userId);
    const box = t.gw.app.box;
    expect(box.open(after.accessTokenEncrypted)).not.toBe(box.open(before.accessTokenEncrypted));
    expect(box.open(after.refreshTokenEncrypted!)).not.toBe(box.open(before.refreshTokenEncrypted!));
    expect(after.expiresAt!.getTime()).toBeGreaterThan(Date.now());
    expect(t.up.calls.at(-1)!.token).toBe(box.open(after.accessTokenEncrypted));
    await s.client.close();
    await fresh.client.close();
  });

  it('concurrent calls of two sessions refresh once under the row lock (a second use of the rotated token would be refused)', async () => {
    const s = await connected('race@example.com', 'race-upstream');
    await expireStored(s.userId);
    const [a, b] = await Promise.all([session('race@example.com'), session('race@example.com')]);
    const results = await Promise.all([a.whoami(), b.whoami(), a.whoami(), b.whoami()]);
    expect(results).toEqual(Array(4).fill({ isError: false, text: 'sub=race-upstream' }));
    expect(await t.tdb.db.prisma.upstreamConnection.count({ where: { userId: s.userId } })).toBe(1);
    for (const c of [s, a, b]) await c.client.close();
  });

  it('concurrent calls on two replicas (own pools, one database) refresh once: the row lock holds across processes', async () => {
    const s = await connected('replicas@example.com', 'replicas-upstream');
    const b = await startTestGateway(await t.tdb.open(), { encryptionKey: TEST_ENCRYPTION_KEY, env: { PUBLIC_URL: t.gw.url } });
    try {
      await expireStored(s.userId);
      const onA = await session('replicas@example.com');
      const onB = await session('replicas@example.com', b);
      const before = t.up.calls.length;
      const results = await Promise.all([onA.whoami(), onB.whoami(), onA.whoami(), onB.whoami()]);
      expect(results).toEqual(Array(4).fill({ isError: false, text: 'sub=replicas-upstream' }));
      // One refresh: every call after the expiry carried the same new token (a second refresh would have used the
      // rotated refresh token again, which the AS refuses, and removed the connection).
      const used = new Set(t.up.calls.slice(before).filter((c) => c.sub === 'replicas-upstream').map((c) => c.token));
      expect(used.size).toBe(1);
      expect(await t.tdb.db.prisma.upstreamConnection.count({ where: { userId: s.userId } })).toBe(1);
      for (const c of [s, onA, onB]) await c.client.close();
    } finally {
      await b.close();
    }
  });

  it('an upstream 401 renews the token and retries the call once', async () => {
    const s = await connected('renew@example.com', 'renew-upstream');
    expect((await s.whoami()).text).toBe('sub=renew-upstream');
    const old = t.up.calls.at(-1)!.token;
    t.up.rejectToken(old);
    const refused = t.up.unauthorized;
    expect(await s.whoami()).toEqual({ isError: false, text: 'sub=renew-upstream' });
    expect(t.up.unauthorized).toBe(refused + 1);
    expect(t.up.calls.at(-1)!.token).not.toBe(old);
    await s.client.close();
  });

  it('a refresh the upstream refuses removes the connection and prompts again, never looping', async () => {
    const s = await connected('revoked@example.com', 'revoked-upstream');
    const stored = await row(s.userId);
    await t.up.revokeRefreshToken(t.gw.app.box.open(stored.refreshTokenEncrypted!));
    await expireStored(s.userId);
    const later = await session('revoked@example.com');
    const calls = t.up.calls.length;
    const prompt = await later.whoami();
    expect(prompt.isError).toBe(true);
    expect(prompt.text).toContain('/oauth/upstream/connect?link=');
    expect(await t.tdb.db.prisma.upstreamConnection.count({ where: { userId: s.userId } })).toBe(0);
    // Prompted again on the next call, without any attempt upstream in between.
    expect((await later.whoami()).text).toContain('/oauth/upstream/connect?link=');
    expect(t.up.calls.length).toBe(calls);
    for (const c of [s, later]) await c.client.close();
  });
});
