/**
 * Auth mode `oauth` end to end: a user without a connection is prompted (URL-mode elicitation with the connect link,
 * and a tool error carrying it), follows the link in headless Chromium through the upstream AS's login and consent,
 * and the retried call reaches the upstream with *that user's* token; a second user's calls carry their own.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { tokenFor } from '../../helpers/gateway.js';
import { browserAvailable, launchBrowser, loopbackOnlyContext } from '../../helpers/browser.js';
import { connectViaFetch, useOAuthUpstreamGateway } from '../../fixtures/oauth-upstream.js';

const t = useOAuthUpstreamGateway('acme');
const endpoint = () => `${t.gw.url}/t/acme/mcp`;

async function clientFor(email: string, opts: { elicitation?: boolean } = {}) {
  const { token, userId } = await tokenFor(t.gw, { email, team: 'acme' });
  const client = new Client({ name: 'oauth-test', version: '1' }, { capabilities: opts.elicitation ? { elicitation: { url: {} } } : {} });
  const asked: { mode?: string; url?: string; message?: string }[] = [];
  if (opts.elicitation) {
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params as { mode?: string; url?: string });
      return { action: 'accept' };
    });
  }
  await client.connect(new StreamableHTTPClientTransport(new URL(endpoint()), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return { client, asked, token, userId };
}

const textOf = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;
const linkIn = (text: string) => /(http:\/\/\S+\/oauth\/upstream\/connect\?link=\S+)/.exec(text)?.[1];

describe('connecting a user’s own upstream account', () => {
  it.skipIf(!browserAvailable())('elicits the connect URL, connects through the upstream login in Chromium, then the retried call carries that user’s token (needs Chromium: apt-get install chromium)', async () => {
    const alice = await clientFor('alice@example.com', { elicitation: true });
    // Nobody has connected yet: the tool server's listing is empty (documented).
    expect((await alice.client.listTools()).tools.filter((x) => x.name.startsWith('gh__'))).toEqual([]);

    const first = await alice.client.callTool({ name: 'gh__whoami', arguments: {} });
    expect(first.isError).toBe(true);
    expect(alice.asked).toHaveLength(1);
    expect(alice.asked[0]).toMatchObject({ mode: 'url' });
    const link = alice.asked[0]!.url!;
    expect(link.startsWith(`${t.gw.url}/oauth/upstream/connect?link=`)).toBe(true);
    expect(linkIn(textOf(first))).toBe(link);
    expect(t.up.calls).toHaveLength(0);

    const browser = await launchBrowser();
    try {
      const page = await (await loopbackOnlyContext(browser)).newPage();
      await page.goto(link);
      await page.locator('input[name=login]').fill('alice-upstream');
      await page.locator('input[name=password]').fill('any');
      await page.locator('button[type=submit]').click();
      await page.locator('button[type=submit]').click(); // consent
      await page.getByRole('heading', { name: 'Connected' }).waitFor();
      expect(await page.textContent('main')).toContain('return to your chat');
      // The link is single use.
      await page.goto(link);
      expect(await page.textContent('main')).toContain('already used');
    } finally {
      await browser.close();
    }

    const retried = await alice.client.callTool({ name: 'gh__whoami', arguments: {} });
    expect(retried.isError).toBeFalsy();
    expect(textOf(retried)).toBe('sub=alice-upstream');
    expect(t.up.calls.at(-1)!.sub).toBe('alice-upstream');
    // A connected user's listing is what others are shown until they connect.
    expect((await alice.client.listTools()).tools.map((x) => x.name)).toContain('gh__whoami');
    await alice.client.close();
  });

  it('a second user is prompted (tool error with the link, no elicitation capability) and then gets their own token, never the first user’s', async () => {
    const bob = await clientFor('bob@example.com');
    expect((await bob.client.listTools()).tools.map((x) => x.name)).toContain('gh__whoami');
    const before = t.up.calls.length;
    const first = await bob.client.callTool({ name: 'gh__whoami', arguments: {} });
    expect(first.isError).toBe(true);
    expect(t.up.calls.length).toBe(before);
    const link = linkIn(textOf(first))!;
    expect(link).toBeDefined();

    const done = await connectViaFetch(link, 'bob-upstream');
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('Connected');

    const r = await bob.client.callTool({ name: 'gh__whoami', arguments: {} });
    expect(textOf(r)).toBe('sub=bob-upstream');
    const bobToken = t.up.calls.at(-1)!.token;

    const carol = await clientFor('carol@example.com');
    const carolLink = linkIn(textOf(await carol.client.callTool({ name: 'gh__whoami', arguments: {} })))!;
    await connectViaFetch(carolLink, 'carol-upstream');
    // Interleaved calls: each carries its own user's token.
    const [b, c] = await Promise.all([bob.client.callTool({ name: 'gh__whoami', arguments: {} }), carol.client.callTool({ name: 'gh__whoami', arguments: {} })]);
    expect(textOf(b)).toBe('sub=bob-upstream');
    expect(textOf(c)).toBe('sub=carol-upstream');
    const bySub = new Map<string, Set<string>>();
    for (const call of t.up.calls) bySub.set(call.sub, (bySub.get(call.sub) ?? new Set()).add(call.token));
    expect([...(bySub.get('carol-upstream') ?? [])]).not.toContain(bobToken);
    await bob.client.close();
    await carol.client.close();
  });

  it('prompts/get and resources/read without a connection answer -32042 with the connect link', async () => {
    const dave = await clientFor('dave@example.com');
    const prompt = await dave.client.getPrompt({ name: 'gh__greet' }).then(
      () => undefined,
      (e: unknown) => e as { code: number; data?: { elicitations?: { mode: string; url: string }[] } },
    );
    expect(prompt?.code).toBe(-32042);
    expect(prompt?.data?.elicitations?.[0]).toMatchObject({ mode: 'url' });
    expect(prompt?.data?.elicitations?.[0]?.url).toContain('/oauth/upstream/connect?link=');
    const read = await dave.client.readResource({ uri: `switchboard://gh/${encodeURIComponent('profile://me')}` }).then(
      () => undefined,
      (e: unknown) => e as { code: number },
    );
    expect(read?.code).toBe(-32042);
    await dave.client.close();
  });

  it('a tampered or missing link is refused with a page, and a callback without its browser cookie stores nothing', async () => {
    const bad = await fetch(`${t.gw.url}/oauth/upstream/connect?link=v1.AAAA.BBBB.CCCC`, { redirect: 'manual' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('invalid or has expired');
    const none = await fetch(`${t.gw.url}/oauth/upstream/callback?code=x&state=nope`, { redirect: 'manual' });
    expect(none.status).toBe(400);

    const erin = await clientFor('erin@example.com');
    const link = linkIn(textOf(await erin.client.callTool({ name: 'gh__whoami', arguments: {} })))!;
    const start = await fetch(link, { redirect: 'manual' });
    const { loginViaFetch } = await import('../../fixtures/oidc-provider.js');
    const back = await loginViaFetch(start.headers.get('location')!, 'erin-upstream');
    const withoutCookie = await fetch(back, { redirect: 'manual' });
    expect(withoutCookie.status).toBe(400);
    expect(await t.tdb.db.prisma.upstreamConnection.count({ where: { userId: erin.userId } })).toBe(0);
    await erin.client.close();
  });
});
