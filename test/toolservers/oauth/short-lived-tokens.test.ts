/**
 * An upstream whose access tokens live less than twice the refresh margin (30 s here, against 60 s) is not asked for
 * a new token on every request: such a token is refreshed once half its lifetime is gone, not while it is fresh.
 */
import { describe, expect, it } from 'vitest';
import { connectLinkIn, connectViaFetch, memberClient, useOAuthUpstreamGateway } from '../../fixtures/oauth-upstream.js';

const t = useOAuthUpstreamGateway('short', { accessTokenTtlSeconds: 30 });

describe('short-lived upstream access tokens', () => {
  it('are used until half their lifetime is gone, not refreshed on every request', async () => {
    const { userId, client, whoami: call } = await memberClient(t.gw, 'short', 'sam@example.com');
    await connectViaFetch(connectLinkIn((await call()).text), 'sam-upstream');
    const stored = await t.tdb.db.prisma.upstreamConnection.findFirstOrThrow({ where: { userId } });
    const issued = t.gw.app.box.open(stored.accessTokenEncrypted);

    const before = t.up.calls.length;
    for (let i = 0; i < 3; i++) expect((await call()).text).toBe('sub=sam-upstream');
    const used = new Set(t.up.calls.slice(before).map((c) => c.token));
    expect(used).toEqual(new Set([issued]));
    const after = await t.tdb.db.prisma.upstreamConnection.findFirstOrThrow({ where: { userId } });
    expect(t.gw.app.box.open(after.accessTokenEncrypted)).toBe(issued);
    await client.close();
  });
});
