/** ChatGPT sends a new user's first requests in parallel: none of them may fail on a unique-key race. */
import { describe, expect, it } from 'vitest';
import { useTestGateway, tokenFor } from '../helpers/gateway.js';
import { rawPost, INIT } from '../helpers/mcp-client.js';

const t = useTestGateway();

describe('first use under concurrency', () => {
  it('ten parallel initializes of a brand-new member in one chat all succeed, with one membership and one chat', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'parallel@example.com' });
    const results = await Promise.all(
      Array.from({ length: 10 }, () => rawPost(`${t.gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${token}`, 'x-chat-id': 'same-chat' })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    await Promise.all(results.map((r) => r.text()));
    expect(await t.tdb.db.prisma.membership.count({ where: { userId } })).toBe(1);
    expect(await t.tdb.db.prisma.chat.count({ where: { userId, externalId: 'same-chat' } })).toBe(1);
    expect(await t.tdb.db.prisma.session.count({ where: { userId } })).toBe(10);
  });
});
