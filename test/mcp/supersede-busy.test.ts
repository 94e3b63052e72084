/**
 * A new `initialize` supersedes only its key's idle sessions: a session serving a call when the next batch's
 * `initialize` arrives keeps working and returns its real result; it is superseded by a later `initialize` once idle.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFor, useTestGateway } from '../helpers/gateway.js';
import { rawPost } from '../helpers/mcp-client.js';
import { startSlowUpstream, SLOW_RESULT, type SlowUpstream } from '../helpers/slow-upstream.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';

const t = useTestGateway();
let slow: SlowUpstream;
beforeAll(async () => {
  slow = await startSlowUpstream();
  const team = await createTeam(t.tdb.db.prisma, { slug: 'batches', name: 'Batches' });
  await addToolServer(t.tdb.db.prisma, t.gw.app.box, team.id, { name: 'up', kind: 'remote', url: slow.url, auth: { mode: 'none' } });
});
afterAll(async () => {
  slow?.release();
  await slow?.close();
});

describe('supersede and busy sessions', () => {
  it('a session with a call in flight is not superseded; once idle, the next initialize supersedes it', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'busy-batch@example.com', team: 'batches', clientId: 'chatgpt' });
    const endpoint = `${t.gw.url}/t/batches/mcp`;
    const headers = { authorization: `Bearer ${token}`, 'mcp-protocol-version': '2025-11-25' };
    const init = async () => {
      const res = await rawPost(endpoint, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' }, _meta: { 'openai/session': 'conv' } } }, headers);
      expect(res.status).toBe(200);
      await res.text();
      return res.headers.get('mcp-session-id')!;
    };
    const open = async () => (await t.tdb.db.prisma.session.findMany({ where: { userId, closedAt: null }, select: { id: true } })).map((r) => r.id).sort();

    const s1 = await init();
    const call = rawPost(endpoint, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'up__slow', arguments: {} } }, { ...headers, 'mcp-session-id': s1 });
    await slow.whenStarted;
    const s2 = await init();
    expect(await open()).toEqual([s1, s2].sort());

    slow.release();
    const res = await call;
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(SLOW_RESULT);

    const s3 = await init();
    expect(await open()).toEqual([s3]);
    const reasons = await t.tdb.db.prisma.session.findMany({ where: { id: { in: [s1, s2] } }, select: { closeReason: true } });
    expect(reasons.map((r) => r.closeReason)).toEqual(['superseded', 'superseded']);
  });
});
