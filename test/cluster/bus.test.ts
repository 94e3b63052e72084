/**
 * docs/architecture.md §Replicas, the cluster bus: broadcasts reach every replica, direct messages only theirs,
 * bodies past NOTIFY's limit travel through `bus_messages` intact, and a replica that stops beating is dead within
 * the promised time. On the embedded database the same API works in-process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { createClusterBus, type Broadcast, type ClusterBus, type Direct } from '../../src/cluster/bus.js';
import { openDatabase } from '../../src/db/database.js';
import { createLogger } from '../../src/observability/logger.js';

const logger = createLogger({ level: 'silent' });

describe.skipIf(!TEST_DATABASE_URL)('the cluster bus over PostgreSQL (needs TEST_DATABASE_URL)', () => {
  let tdb: TestDatabase;
  let a: ClusterBus;
  let b: ClusterBus;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    a = createClusterBus({ db: tdb.db, logger, heartbeatMs: 100, deadAfterMs: 400 });
    b = createClusterBus({ db: await tdb.open(), logger, heartbeatMs: 100, deadAfterMs: 400 });
    await a.start();
    await b.start();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await tdb?.drop();
  });

  it('a broadcast reaches every replica, the sender included; the old channels keep their payloads', async () => {
    const got: Broadcast[] = [];
    const off = [a.on('tools-changed', (m) => got.push(m)), b.on('tools-changed', (m) => got.push(m))];
    await a.publish({ kind: 'tools-changed', from: a.replica, teamId: 'team-1' });
    await expect.poll(() => got.length).toBe(2);
    expect(got).toEqual([expect.objectContaining({ teamId: 'team-1', from: a.replica }), expect.objectContaining({ teamId: 'team-1' })]);
    // A replica of the previous version sends the bare payload on the same channel: still understood.
    const closed: string[] = [];
    off.push(b.on('session-closed', (m) => closed.push(m.sessionId)));
    await tdb.db.sql.notify('switchboard_session_closed', 'sess-1');
    await expect.poll(() => closed).toEqual(['sess-1']);
    for (const o of off) o();
  });

  it('a direct message reaches only its replica, and a 50 KB body arrives intact', async () => {
    const atA: Direct[] = [];
    const atB: Direct[] = [];
    const off = [a.onDirect('answer', (m) => atA.push(m)), b.onDirect('answer', (m) => atB.push(m))];
    const big = 'x'.repeat(50_000) + 'é';
    await a.send(b.replica, { type: 'answer', sessionId: 's', message: { id: 'sb-ask:1', result: { text: big } } });
    await expect.poll(() => atB.length).toBe(1);
    expect((atB[0] as Extract<Direct, { type: 'answer' }>).message.result).toEqual({ text: big });
    expect(atA).toEqual([]);
    const rows = await tdb.db.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM bus_messages');
    expect(rows[0]!.n).toBe(1);
    for (const o of off) o();
  });

  it('a replica that stops beating is dead after the threshold; one that beats is alive', async () => {
    await new Promise((r) => setTimeout(r, 500));
    expect(a.alive(b.replica)).toBe(true);
    expect(a.peers()).toBe(true);
    // Never heard of, and A has listened for longer than the threshold: dead (a forged or stale replica id).
    expect(a.alive('0123456789ab')).toBe(false);
    // A replica shutting down says so: dead at once, not after the threshold.
    await b.close();
    await expect.poll(() => a.alive(b.replica), { timeout: 200, interval: 20 }).toBe(false);
    // B was A's only peer: A now knows it is alone (what it would announce to others has no one to hear it).
    expect(a.peers()).toBe(false);
  });
});

describe('the cluster bus on the embedded database', () => {
  it('delivers broadcasts and direct messages in-process', async () => {
    const db = await openDatabase({ dataDir: 'memory://' });
    const bus = createClusterBus({ db, logger });
    await bus.start();
    const got: unknown[] = [];
    bus.on('events-appended', (m) => got.push(m));
    bus.onDirect('gone', (m) => got.push(m));
    await bus.publish({ kind: 'events-appended', sessionId: 's', streamId: 't', seq: 3 });
    await bus.send('elsewhere', { type: 'gone', x: 'x1' });
    await expect.poll(() => got.length).toBe(2);
    expect(bus.alive('elsewhere')).toBe(true);
    expect(bus.peers()).toBe(false); // one process: no other replica to tell anything
    await bus.close();
    await db.close();
  });
});
