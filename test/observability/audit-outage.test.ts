/**
 * The audit log through a real PostgreSQL outage (a TCP proxy the test stops and starts): records wait in memory,
 * in order and with the time they were recorded; a full buffer drops new records, counts them in
 * `switchboard_audit_dropped_total` and says so once; shutdown gives up at its deadline and counts what it lost.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/observability/audit.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { startDatabaseProxy, type DatabaseProxy } from '../helpers/database-proxy.js';
import { LogCapture } from '../helpers/gateway.js';

let tdb: TestDatabase;
let proxy: DatabaseProxy;
let viaProxy: Database;
let teamId: string;

const dropped = async (metrics: Metrics, reason: string) =>
  (await metrics.auditDropped.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
const rows = (sessionId: string) =>
  tdb.db.sql.query<{ target: string; created_at: Date }>('SELECT target, created_at FROM audit_records WHERE session_id = $1 ORDER BY id', [sessionId]);

describe.skipIf(!TEST_DATABASE_URL)('audit records through a database outage (needs TEST_DATABASE_URL: a real PostgreSQL)', () => {
  beforeAll(async () => {
    tdb = await createTestDatabase();
    teamId = (await tdb.db.prisma.team.create({ data: { slug: 'audited', name: 'Audited' } })).id;
    proxy = await startDatabaseProxy(tdb.url!);
    viaProxy = await openDatabase({ url: proxy.url, poolSize: 2 });
  });
  afterAll(async () => {
    await viaProxy?.close();
    await proxy?.stop();
    await tdb?.drop();
  });

  it('a full buffer drops new records, counts them and logs once per episode; the held ones are written later', async () => {
    const logs = new LogCapture();
    const metrics = createMetrics();
    let now = Date.parse('2026-12-01T10:00:00.000Z');
    const audit = createAuditLog(viaProxy.sql, createLogger({ level: 'info', destination: logs }), {
      maxPending: 3,
      retryMs: { first: 20, max: 100 },
      clock: () => now,
      metrics,
    });
    const sessionId = randomUUID();
    await proxy.stop();
    for (let i = 0; i < 7; i++) {
      audit.record({ teamId, actor: 'user:x', sessionId, action: 'tool_call', target: `t${i}`, outcome: 'ok' });
      now += 1_000;
    }
    expect(await audit.flush(Date.now() + 300)).toBe(false);
    expect(await dropped(metrics, 'buffer_full')).toBe(4);
    expect(logs.lines.filter((l) => l.includes('audit buffer full'))).toHaveLength(1);
    expect((await metrics.registry.metrics())).toContain('switchboard_audit_pending 3');

    await proxy.start();
    expect(await audit.flush()).toBe(true);
    expect(await rows(sessionId)).toEqual(
      ['t0', 't1', 't2'].map((target, i) => ({ target, created_at: new Date(Date.parse('2026-12-01T10:00:00.000Z') + i * 1_000) })),
    );
    expect(logs.text()).toContain('audit buffer has room again; 4 audit records were dropped');
    expect(logs.text()).toContain('audit records are being written again');
    await audit.close(Date.now() + 1_000);
    expect(await dropped(metrics, 'shutdown')).toBe(0);
  });

  it('shutdown during an outage returns at its deadline and counts the records it could not write', async () => {
    const logs = new LogCapture();
    const metrics = createMetrics();
    const audit = createAuditLog(viaProxy.sql, createLogger({ level: 'info', destination: logs }), { retryMs: { first: 20, max: 100 }, metrics });
    await proxy.stop();
    try {
      for (let i = 0; i < 5; i++) audit.record({ teamId, actor: 'user:x', sessionId: randomUUID(), action: 'tool_call', target: 'lost', outcome: 'ok' });
      const deadline = Date.now() + 500;
      await audit.close(deadline);
      expect(Date.now()).toBeLessThan(deadline + 1_000);
      expect(await dropped(metrics, 'shutdown')).toBe(5);
      expect(logs.text()).toContain('shutting down with 5 audit records the database has not taken');
    } finally {
      await proxy.start();
    }
  });
});
