/**
 * How a client uses its session (`echoed`: it sends the id back; `implicit`: the gateway placed requests there) is
 * written in batches, not once per handshake. What reads it — a newer chat-less `initialize` deciding what it
 * supersedes — must still see a use that is not written yet on this replica, and the row must say it soon after.
 */
import { describe, expect, it, vi } from 'vitest';
import { tokenFor, useTestGateway } from '../helpers/gateway.js';
import { rawPost, INIT } from '../helpers/mcp-client.js';
import { USE_FLUSH_MS } from '../../src/mcp/session-runtime.js';
import { SUPERSEDE_GRACE_MS } from '../../src/sessions/session-store.js';

let offset = 0;
const t = useTestGateway({ clock: () => Date.now() + offset });

async function post(token: string, body: unknown, sid?: string) {
  const res = await rawPost(`${t.gw.url}/t/demo/mcp`, body, {
    authorization: `Bearer ${token}`,
    ...(sid ? { 'mcp-session-id': sid, 'mcp-protocol-version': INIT.params.protocolVersion } : {}),
  });
  await res.text();
  return res;
}

const initialized = { jsonrpc: '2.0', method: 'notifications/initialized' };
const row = (id: string) => t.tdb.db.prisma.session.findUniqueOrThrow({ where: { id }, select: { clientUse: true, closedAt: true, closeReason: true } });

describe('client use of a session, written in batches', () => {
  it('an echoed session past the grace period is not superseded by the next chat-less initialize, though its use was not written yet', async () => {
    const { token } = await tokenFor(t.gw, { email: 'two-windows@example.com', clientId: 'desktop' });
    const s1 = (await post(token, INIT)).headers.get('mcp-session-id')!;
    expect((await post(token, initialized, s1)).status).toBe(202);
    // The use waits for its batch; the second window's initialize comes after the grace period, at once.
    offset += SUPERSEDE_GRACE_MS + 1_000;
    const s2 = (await post(token, INIT)).headers.get('mcp-session-id')!;
    expect(s2).not.toBe(s1);
    expect(await row(s1)).toMatchObject({ clientUse: 'echoed', closedAt: null });
  });

  it('a session never used past the grace period is superseded (what the test above guards against)', async () => {
    const { token } = await tokenFor(t.gw, { email: 'abandoned@example.com', clientId: 'desktop' });
    const s1 = (await post(token, INIT)).headers.get('mcp-session-id')!;
    offset += SUPERSEDE_GRACE_MS + 1_000;
    const s2 = (await post(token, INIT)).headers.get('mcp-session-id')!;
    expect(s2).not.toBe(s1);
    expect(await row(s1)).toMatchObject({ clientUse: null, closeReason: 'superseded' });
    expect(await row(s2)).toMatchObject({ closedAt: null });
  });

  it('the row records the use within a batch interval, for many sessions at once', async () => {
    const users = await Promise.all(Array.from({ length: 12 }, (_, i) => tokenFor(t.gw, { email: `batch-${i}@example.com` })));
    const sids = await Promise.all(
      users.map(async ({ token }) => {
        const sid = (await post(token, INIT)).headers.get('mcp-session-id')!;
        expect((await post(token, initialized, sid)).status).toBe(202);
        return sid;
      }),
    );
    await vi.waitFor(
      async () => {
        const rows = await t.tdb.db.prisma.session.findMany({ where: { id: { in: sids } }, select: { clientUse: true } });
        expect(rows.map((r) => r.clientUse)).toEqual(Array(sids.length).fill('echoed'));
      },
      { timeout: 10 * USE_FLUSH_MS, interval: 50 },
    );
  });

  it('uses still waiting are written when the gateway shuts down', async () => {
    const { token } = await tokenFor(t.gw, { email: 'shutdown@example.com' });
    const sid = (await post(token, INIT)).headers.get('mcp-session-id')!;
    expect((await post(token, initialized, sid)).status).toBe(202);
    await t.gw.app.sessions.shutdown();
    expect(await row(sid)).toMatchObject({ clientUse: 'echoed' });
  });
});
