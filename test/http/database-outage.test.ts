/**
 * DESIGN §Reliability: with the database down, /ready is 503 and MCP requests get 503 with Retry-After (not a
 * 500, not a hang); when it comes back the same process recovers without a restart. The outage is real: the
 * gateway reaches PostgreSQL through a TCP proxy that the test stops and starts.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, tokenFor, type TestGateway } from '../helpers/gateway.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { rawPost, INIT } from '../helpers/mcp-client.js';

let tdb: TestDatabase;
let viaProxy: Database;
let gw: TestGateway;
let proxy: net.Server | undefined;
let proxyPort = 0;
const sockets = new Set<net.Socket>();

function startProxy(target: URL): Promise<void> {
  proxy = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  return new Promise((r) => proxy!.listen(proxyPort, '127.0.0.1', () => {
    proxyPort = (proxy!.address() as net.AddressInfo).port;
    r();
  }));
}

async function stopProxy() {
  for (const s of sockets) s.destroy();
  await new Promise((r) => proxy!.close(r));
}

describe.skipIf(!TEST_DATABASE_URL)('database outage (needs TEST_DATABASE_URL: a real PostgreSQL)', () => {
  beforeAll(async () => {
    tdb = await createTestDatabase();
    const target = new URL(tdb.url!);
    await startProxy(target);
    const url = new URL(tdb.url!);
    url.host = `127.0.0.1:${proxyPort}`;
    viaProxy = await openDatabase({ url: url.toString(), poolSize: 3 });
    gw = await startTestGateway(viaProxy);
  });
  afterAll(async () => {
    await gw?.close();
    await viaProxy?.close();
    proxy?.close();
    await tdb?.drop();
  });

  it('503s while PostgreSQL is unreachable and recovers without a restart', async () => {
    const { token } = await tokenFor(gw, { email: 'outage@example.com' });
    const ok = await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    await ok.text();

    await stopProxy();
    const ready = await fetch(`${gw.url}/ready`);
    expect(ready.status).toBe(503);
    const res = await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect((await res.json()).error.code).toBe('unavailable');

    await startProxy(new URL(tdb.url!));
    const back = await fetch(`${gw.url}/ready`);
    expect(back.status).toBe(200);
    const again = await rawPost(`${gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${token}` });
    expect(again.status).toBe(200);
    await again.text();
  });
});
