/**
 * An upstream whose access tokens live less than twice the refresh margin (30 s here, against 60 s) is not asked for
 * a new token on every request: such a token is refreshed once half its lifetime is gone, not while it is fresh.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { tokenFor } from '../../helpers/gateway.js';
import { connectViaFetch, useOAuthUpstreamGateway } from '../../fixtures/oauth-upstream.js';

const t = useOAuthUpstreamGateway('short', { accessTokenTtlSeconds: 30 });

describe('short-lived upstream access tokens', () => {
  it('are used until half their lifetime is gone, not refreshed on every request', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'sam@example.com', team: 'short' });
    const client = new Client({ name: 'short-test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${t.gw.url}/t/short/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    const call = async () => ((await client.callTool({ name: 'gh__whoami', arguments: {} })) as CallToolResult).content[0] as { text: string };
    const link = /(http:\/\/\S+\/oauth\/upstream\/connect\?link=\S+)/.exec((await call()).text)![1]!;
    await connectViaFetch(link, 'sam-upstream');
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
