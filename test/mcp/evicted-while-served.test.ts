/**
 * Tool-server changes arriving while requests of a session are on their way in: an idle session switches to the new
 * tool servers when its next request finds it (it is no longer evicted, which raced with that request and answered
 * 404), and a copy evicted in the instant between being found and being used is looked up again. Found by a CI run
 * where the LISTEN reconnect's catch-up (every team's tool servers "changed") hit a client's `initialized`.
 */
import { describe, expect, it } from 'vitest';
import { tokenFor, useTestGateway } from '../helpers/gateway.js';
import { connectClient, rawPost } from '../helpers/mcp-client.js';

const t = useTestGateway();

describe('eviction racing requests', () => {
  it('every request succeeds while the team’s tool servers keep changing (each change evicts idle sessions)', async () => {
    const team = await t.tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'demo' } });
    const { token } = await tokenFor(t.gw, { email: 'racing@example.com' });
    const sids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { transport } = await connectClient(`${t.gw.url}/t/demo/mcp`, token, { headers: { 'x-chat-id': `race-${i}` } });
      sids.push(transport.sessionId!);
    }
    let stop = false;
    const churn = (async () => {
      while (!stop) {
        await t.gw.app.sessions.toolsChanged(team.id);
        await new Promise((r) => setImmediate(r));
      }
    })();
    const statuses: number[] = [];
    await Promise.all(
      sids.map(async (sid, i) => {
        for (let n = 0; n < 25; n++) {
          const res = await rawPost(`${t.gw.url}/t/demo/mcp`, { jsonrpc: '2.0', id: n, method: 'tools/call', params: { name: 'demo__echo', arguments: { text: `${i}:${n}` } } }, {
            authorization: `Bearer ${token}`,
            'mcp-session-id': sid,
            'mcp-protocol-version': '2025-11-25',
          });
          statuses.push(res.status);
          await res.text();
        }
      }),
    );
    stop = true;
    await churn;
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(statuses).toHaveLength(100);
  });
});
