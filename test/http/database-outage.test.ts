/**
 * DESIGN §Reliability: with the database down, /ready is 503 and MCP requests get 503 with Retry-After (not a
 * 500, not a hang); when it comes back the same process recovers without a restart. The outage is real: the
 * gateway reaches PostgreSQL through a TCP proxy that the test stops and starts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, tokenFor, type TestGateway } from '../helpers/gateway.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { rawPost, INIT } from '../helpers/mcp-client.js';
import { startDatabaseProxy, type DatabaseProxy } from '../fixtures/database-proxy.js';

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
});
