/**
 * docs/architecture.md §Reliability and security: with the database down, /ready is 503 and MCP requests get 503 with Retry-After (not a
 * 500, not a hang); when it comes back the same process recovers without a restart. The outage is real: the
 * gateway reaches PostgreSQL through a TCP proxy that the test stops and starts. Tool calls that sessions held in
 * memory serve during the outage are audited once the database is back, in order, with the time of the call.
 */
import { describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL } from '../helpers/database.js';
import { useGatewayBehindDatabaseProxy } from '../helpers/database-proxy.js';
import { startTestGateway, tokenFor } from '../helpers/gateway.js';
import { rawPost, INIT, connectClient } from '../helpers/mcp-client.js';


describe.skipIf(!TEST_DATABASE_URL)('database outage (needs TEST_DATABASE_URL: a real PostgreSQL)', () => {
  const t = useGatewayBehindDatabaseProxy();

  it('503s while PostgreSQL is unreachable and recovers without a restart', async () => {
    const { token } = await tokenFor(t.gw, { email: 'outage@example.com' });
    const ok = await rawPost(`${t.gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    await ok.text();

    await t.proxy.stop();
    const ready = await fetch(`${t.gw.url}/ready`);
    expect(ready.status).toBe(503);
    const res = await rawPost(`${t.gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    // The MCP endpoint says it in JSON-RPC, with the catalogue's code as the reason.
    expect((await res.json()).error).toMatchObject({ code: -32000, data: { reason: 'unavailable' } });

    await t.proxy.start();
    const back = await fetch(`${t.gw.url}/ready`);
    expect(back.status).toBe(200);
    const again = await rawPost(`${t.gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${token}` });
    expect(again.status).toBe(200);
    await again.text();
  });

  it('keeps the audit records of tool calls served during the outage and writes them when it ends', async () => {
    const { token } = await tokenFor(t.gw, { email: 'audited@example.com' });
    const { client } = await connectClient(`${t.gw.url}/t/demo/mcp`, token);
    await client.callTool({ name: 'demo__echo', arguments: { text: 'before' } });
    await t.gw.app.audit.flush();

    await t.proxy!.stop();
    const calls: { from: number; to: number }[] = [];
    for (let i = 0; i < 12; i++) {
      const from = Date.now();
      const r = await client.callTool({ name: 'demo__echo', arguments: { text: `during ${i}` } });
      expect(r.isError).toBeFalsy();
      calls.push({ from, to: Date.now() });
    }
    expect(await t.gw.app.audit.flush(Date.now() + 300)).toBe(false); // still held: the database is away
    const backAt = Date.now();
    await t.proxy!.start();
    expect(await t.gw.app.audit.flush()).toBe(true);

    const rows = await t.tdb.db.sql.query<{ created_at: Date }>(
      `SELECT a.created_at FROM audit_records a JOIN users u ON u.id = a.user_id
        WHERE u.email = 'audited@example.com' AND a.action = 'tool_call' ORDER BY a.id`,
    );
    expect(rows).toHaveLength(1 + calls.length);
    calls.forEach((call, i) => {
      const at = rows[i + 1]!.created_at.getTime();
      expect(at).toBeGreaterThanOrEqual(call.from);
      expect(at).toBeLessThanOrEqual(call.to);
      expect(at).toBeLessThan(backAt);
    });
    expect(t.gw.logs.text()).toContain('holding them in memory');
    expect(t.gw.logs.text()).not.toContain('could not write audit record');
    await client.close();
  });

  it('a session held in memory keeps serving a connector that never sends its id, and one past its touch interval', async () => {
    let offset = 0;
    const clocked = await startTestGateway(t.db, { clock: () => Date.now() + offset });
    try {
      const { token } = await tokenFor(clocked, { email: 'claude-outage@example.com', clientId: 'claude' });
      const headers = { authorization: `Bearer ${token}`, 'mcp-protocol-version': '2025-11-25' };
      const init = await rawPost(`${clocked.url}/t/demo/mcp`, INIT, headers);
      expect(init.status).toBe(200);
      await init.text();

      await t.proxy.stop();
      try {
        // The first request without the id would record the session's use; with the database away it is served
        // anyway (recorded later), and so is a request after the 15 s touch interval.
        const call = () => rawPost(`${clocked.url}/t/demo/mcp`, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'demo__echo', arguments: { text: 'still' } } }, headers);
        const first = await call();
        expect(first.status).toBe(200);
        expect(await first.text()).toContain('still');
        offset += 20_000;
        const later = await call();
        expect(later.status).toBe(200);
        expect(await later.text()).toContain('still');
      } finally {
        await t.proxy.start();
      }
    } finally {
      await clocked.close();
    }
  });
});
