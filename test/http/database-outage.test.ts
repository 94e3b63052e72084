/**
 * DESIGN §Reliability: with the database down, /ready is 503 and MCP requests get 503 with Retry-After (not a
 * 500, not a hang); when it comes back the same process recovers without a restart. The outage is real: the
 * gateway reaches PostgreSQL through a TCP proxy that the test stops and starts. Tool calls that sessions held in
 * memory serve during the outage are audited once the database is back, in order, with the time of the call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { startDatabaseProxy, type DatabaseProxy } from '../helpers/database-proxy.js';
import { startTestGateway, tokenFor, type TestGateway } from '../helpers/gateway.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { rawPost, INIT, connectClient } from '../helpers/mcp-client.js';

let tdb: TestDatabase;
let viaProxy: Database;
let gw: TestGateway;
let proxy: DatabaseProxy;

describe.skipIf(!TEST_DATABASE_URL)('database outage (needs TEST_DATABASE_URL: a real PostgreSQL)', () => {
  beforeAll(async () => {
    tdb = await createTestDatabase();
    proxy = await startDatabaseProxy(tdb.url!);
    viaProxy = await openDatabase({ url: proxy.url, poolSize: 3 });
    gw = await startTestGateway(viaProxy);
  });
  afterAll(async () => {
    await gw?.close();
    await viaProxy?.close();
    await proxy?.close();
    await tdb?.drop();
  });

  it('503s while PostgreSQL is unreachable and recovers without a restart', async () => {
    const { token } = await tokenFor(gw, { email: 'outage@example.com' });
    const ok = await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    await ok.text();

    await proxy.stop();
    const ready = await fetch(`${gw.url}/ready`);
    expect(ready.status).toBe(503);
    const res = await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect((await res.json()).error.code).toBe('unavailable');

    await proxy.start();
    const back = await fetch(`${gw.url}/ready`);
    expect(back.status).toBe(200);
    const again = await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${token}` });
    expect(again.status).toBe(200);
    await again.text();
  });

  it('keeps the audit records of tool calls served during the outage and writes them when it ends', async () => {
    const { token } = await tokenFor(gw, { email: 'audited@example.com' });
    const { client } = await connectClient(`${gw.url}/t/demo/mcp`, token);
    await client.callTool({ name: 'demo__echo', arguments: { text: 'before' } });
    await gw.app.audit.flush();

    await proxy!.stop();
    const calls: { from: number; to: number }[] = [];
    for (let i = 0; i < 12; i++) {
      const from = Date.now();
      const r = await client.callTool({ name: 'demo__echo', arguments: { text: `during ${i}` } });
      expect(r.isError).toBeFalsy();
      calls.push({ from, to: Date.now() });
    }
    expect(await gw.app.audit.flush(Date.now() + 300)).toBe(false); // still held: the database is away
    const backAt = Date.now();
    await proxy!.start();
    expect(await gw.app.audit.flush()).toBe(true);

    const rows = await tdb.db.sql.query<{ created_at: Date }>(
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
    expect(gw.logs.text()).toContain('holding them in memory');
    expect(gw.logs.text()).not.toContain('could not write audit record');
    await client.close();
  });

  it('a session held in memory keeps serving a connector that never sends its id, and one past its touch interval', async () => {
    let offset = 0;
    const clocked = await startTestGateway(viaProxy, { clock: () => Date.now() + offset });
    try {
      const { token } = await tokenFor(clocked, { email: 'claude-outage@example.com', clientId: 'claude' });
      const headers = { authorization: `Bearer ${token}`, 'mcp-protocol-version': '2025-11-25' };
      const init = await rawPost(`${clocked.url}/t/demo/mcp`, INIT, headers);
      expect(init.status).toBe(200);
      await init.text();

      await proxy.stop();
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
        await proxy.start();
      }
    } finally {
      await clocked.close();
    }
  });
});
