/**
 * The LISTEN connection heals itself: when PostgreSQL ends it (here `pg_terminate_backend`, as a restart or an
 * idle-connection killer would), it reconnects, LISTENs again on every channel and tells `onResync` subscribers to
 * catch up. Real PostgreSQL; NOTIFY comes from another connection.
 */
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { createPgListener, LISTENER_APPLICATION_NAME } from '../../src/db/pg-listener.js';

describe.skipIf(!TEST_DATABASE_URL)('the LISTEN connection (needs TEST_DATABASE_URL: a real PostgreSQL)', () => {
  let tdb: TestDatabase;
  let other: pg.Client;
  beforeAll(async () => {
    tdb = await createTestDatabase({ migrate: false });
    other = new pg.Client({ connectionString: tdb.url });
    await other.connect();
  });
  afterAll(async () => {
    await other?.end();
    await tdb?.drop();
  });

  const listenerBackends = async () =>
    (
      await other.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [LISTENER_APPLICATION_NAME])
    ).rows.map((r) => r.pid);

  it('is re-established after the server kills it: LISTENs again on every channel and calls onResync', async () => {
    const { sql } = tdb.db;
    const got: string[] = [];
    await sql.listen('sb_test_one', (p) => got.push(`one:${p}`));
    await sql.listen('sb_test_two', (p) => got.push(`two:${p}`));
    let resyncs = 0;
    sql.onResync(() => {
      resyncs++;
    });
    await other.query(`NOTIFY sb_test_one, 'before'`);
    await vi.waitFor(() => expect(got).toEqual(['one:before']));

    const [first] = await listenerBackends();
    expect(first).toBeTypeOf('number');
    const killed = await other.query('SELECT pg_terminate_backend($1)', [first]);
    expect(killed.rowCount).toBe(1);
    await vi.waitFor(() => expect(resyncs).toBe(1), { timeout: 15_000 });
    const [second] = await listenerBackends();
    expect(second).not.toBe(first);

    await other.query(`NOTIFY sb_test_one, 'after'`);
    await other.query(`NOTIFY sb_test_two, 'after'`);
    await vi.waitFor(() => expect(got).toEqual(['one:before', 'one:after', 'two:after']));
  });

  it('keeps trying while the server refuses new connections, and catches up once it lets it in', async () => {
    const errors: Error[] = [];
    const listener = createPgListener({ connectionString: tdb.url, onError: (err) => errors.push(err), backoff: { initialMs: 20, maxMs: 200 } });
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    const name = pg.escapeIdentifier(new URL(tdb.url!).pathname.slice(1));
    try {
      const got: string[] = [];
      await listener.listen('sb_test_three', (p) => got.push(p));
      let resyncs = 0;
      listener.onResync(() => {
        resyncs++;
      });
      // Refused like a database that is still starting up: new connections fail until the flag is lifted.
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      try {
        await other.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [LISTENER_APPLICATION_NAME]);
        // The drop, then failed attempts: it does not give up after the first.
        await vi.waitFor(() => expect(errors.length).toBeGreaterThanOrEqual(3), { timeout: 15_000 });
        expect(resyncs).toBe(0);
      } finally {
        await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      }
      await vi.waitFor(() => expect(resyncs).toBe(1), { timeout: 15_000 });
      await other.query(`NOTIFY sb_test_three, 'back'`);
      await vi.waitFor(() => expect(got).toEqual(['back']));
    } finally {
      await listener.close();
      await admin.end();
    }
  });

  it('notices a connection that went silent (no error, no answer) and replaces it', async () => {
    const relay = await silentableRelay(new URL(tdb.url!));
    const url = new URL(tdb.url!);
    url.host = `127.0.0.1:${relay.port}`;
    const errors: Error[] = [];
    const listener = createPgListener({ connectionString: url.toString(), onError: (err) => errors.push(err), heartbeatMs: 200 });
    try {
      const got: string[] = [];
      await listener.listen('sb_test_four', (p) => got.push(p));
      let resyncs = 0;
      listener.onResync(() => {
        resyncs++;
      });
      await other.query(`NOTIFY sb_test_four, 'before'`);
      await vi.waitFor(() => expect(got).toEqual(['before']));

      relay.silenceExisting(); // like a NAT that forgot the flow: bytes vanish, nobody is told
      await vi.waitFor(() => expect(resyncs).toBe(1), { timeout: 15_000 });
      expect(errors.map((e) => e.message).join('\n')).toContain('did not answer');
      await other.query(`NOTIFY sb_test_four, 'after'`);
      await vi.waitFor(() => expect(got).toEqual(['before', 'after']));
    } finally {
      await listener.close();
      relay.close();
    }
  });
});

/** A TCP relay to PostgreSQL whose existing connections can be made to swallow every byte, without closing them. */
async function silentableRelay(target: URL) {
  const pairs: [net.Socket, net.Socket][] = [];
  const silenced: [net.Socket, net.Socket][] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) s.on('error', () => s.destroy());
    client.pipe(upstream).pipe(client);
    pairs.push([client, upstream]);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    silenceExisting() {
      for (const [client, upstream] of pairs.splice(0)) {
        silenced.push([client, upstream]);
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.removeAllListeners('data');
        upstream.removeAllListeners('data');
        client.on('data', () => undefined);
        upstream.on('data', () => undefined);
      }
    },
    close() {
      server.close();
      for (const [client, upstream] of [...pairs, ...silenced]) {
        client.destroy();
        upstream.destroy();
      }
    },
  };
}
