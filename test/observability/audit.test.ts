/**
 * The audit log writes records in batches: nothing is lost (flush and App.close write what is waiting), a bad
 * record does not take its batch down with it, and a record is the same row it was when written one by one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createAuditLog, AUDIT_BATCH_MAX } from '../../src/observability/audit.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { LogCapture, startTestGateway } from '../helpers/gateway.js';

let tdb: TestDatabase;
let teamId: string;

beforeAll(async () => {
  tdb = await createTestDatabase();
  teamId = (await tdb.db.prisma.team.create({ data: { slug: 'audited', name: 'Audited' } })).id;
});
afterAll(async () => {
  await tdb?.drop();
});

const rows = (sessionId: string) => tdb.db.prisma.auditRecord.findMany({ where: { sessionId }, orderBy: { id: 'asc' } });

describe('audit log batching', () => {
  it('writes many records in few inserts, in order, and flush() waits for all of them', async () => {
    let inserts = 0;
    const sql = { query: (text: string, params: unknown[]) => (inserts++, tdb.db.sql.query(text, params)) };
    const audit = createAuditLog(sql, createLogger({ level: 'silent' }), { lingerMs: 50 });
    const sessionId = randomUUID();
    for (let i = 0; i < 120; i++) audit.record({ teamId, actor: 'user:x', sessionId, action: 'tool_call', target: `t${i}`, outcome: 'ok', durationMs: i });
    expect(inserts).toBe(0); // still lingering
    await audit.flush();
    expect(inserts).toBe(1);
    const written = await rows(sessionId);
    expect(written.map((r) => r.target)).toEqual(Array.from({ length: 120 }, (_, i) => `t${i}`));
    expect(written[7]).toMatchObject({ teamId, actor: 'user:x', userId: null, chat: null, action: 'tool_call', outcome: 'ok', durationMs: 7, detail: null });
  });

  it('under a steady stream of records, gathers between inserts: about one insert per linger time, not one per round trip', async () => {
    let inserts = 0;
    const sql = { query: (text: string, params: unknown[]) => (inserts++, tdb.db.sql.query(text, params)) };
    const lingerMs = 100;
    const audit = createAuditLog(sql, createLogger({ level: 'silent' }), { lingerMs });
    const sessionId = randomUUID();
    // 200 records, one per timer tick: written back to back (one insert per round trip) that would be dozens of
    // inserts; gathering for the linger time after each insert bounds them by the time the stream lasted.
    const started = Date.now();
    for (let n = 0; n < 200; n++) {
      audit.record({ teamId, actor: 'user:x', sessionId, action: 'tool_call', target: String(n), outcome: 'ok' });
      await new Promise((r) => setTimeout(r, 1));
    }
    const lasted = Date.now() - started;
    await audit.flush();
    expect(await rows(sessionId)).toHaveLength(200);
    expect(inserts).toBeLessThanOrEqual(Math.ceil(lasted / lingerMs) + 2);
  });

  it('writes on its own after the linger time, without flush()', async () => {
    const audit = createAuditLog(tdb.db.sql, createLogger({ level: 'silent' }), { lingerMs: 10 });
    const sessionId = randomUUID();
    audit.record({ teamId, actor: 'user:x', sessionId, action: 'tool_call', target: 'alone', outcome: 'ok' });
    await expect.poll(() => rows(sessionId).then((r) => r.length), { timeout: 5_000 }).toBe(1);
  });

  it('keeps detail, NUL-free strings and nulls as before', async () => {
    const audit = createAuditLog(tdb.db.sql, createLogger({ level: 'silent' }));
    const sessionId = randomUUID();
    audit.record({ teamId, actor: 'user:x', sessionId, chat: 'c\u0000hat', action: 'admin.x', target: 'a\u0000b', outcome: 'ok', detail: { 'k\u0000': 'v\u0000', n: 1, b: true, z: null } });
    await audit.flush();
    expect(await rows(sessionId)).toMatchObject([{ chat: 'c\uFFFDhat', target: 'a\uFFFDb', detail: { 'k\uFFFD': 'v\uFFFD', n: 1, b: true, z: null } }]);
  });

  it('stores any text as it was given, in a batch of several (quotes, backslashes, braces, commas, NULL, emoji)', async () => {
    const audit = createAuditLog(tdb.db.sql, createLogger({ level: 'silent' }), { lingerMs: 1_000 });
    const sessionId = randomUUID();
    const texts = ['plain', 'a "quoted", {braced} \\ back\\slash', 'NULL', '', ' spaced ', 'über 🙂', "it's"];
    for (const text of texts) audit.record({ teamId, actor: 'user:x', sessionId, chat: text, action: 'tool_call', target: text, outcome: 'ok', durationMs: 7, detail: { text } });
    audit.record({ teamId, actor: 'user:x', sessionId, action: 'tool_call', outcome: 'ok' });
    await audit.flush();
    const stored = await rows(sessionId);
    expect(stored.map((r) => [r.target, r.chat, (r.detail as { text?: string } | null)?.text ?? null])).toEqual([...texts.map((x) => [x, x, x]), [null, null, null]]);
    expect(stored.slice(0, -1).every((r) => r.durationMs === 7)).toBe(true);
  });

  it('a record that cannot be written is logged and costs only itself, not its batch', async () => {
    const logs = new LogCapture();
    const metrics = createMetrics();
    const audit = createAuditLog(tdb.db.sql, createLogger({ level: 'info', destination: logs }), { lingerMs: 1_000, metrics });
    const sessionId = randomUUID();
    audit.record({ teamId, actor: 'user:x', sessionId, action: 'tool_call', target: 'before', outcome: 'ok' });
    audit.record({ teamId: randomUUID(), actor: 'user:x', sessionId, action: 'doomed', target: 'no such team', outcome: 'ok' });
    audit.record({ teamId, actor: 'user:x', sessionId, action: 'tool_call', target: 'after', outcome: 'ok' });
    await audit.flush();
    expect((await rows(sessionId)).map((r) => r.target)).toEqual(['before', 'after']);
    expect(logs.text()).toContain('could not write audit record');
    expect(logs.text()).toContain('doomed');
    expect((await metrics.auditDropped.get()).values).toEqual([{ labels: { reason: 'refused' }, value: 1 }]);
  });

  it('splits more than a batch into several inserts', async () => {
    const audit = createAuditLog(tdb.db.sql, createLogger({ level: 'silent' }), { lingerMs: 1_000 });
    const sessionId = randomUUID();
    const n = AUDIT_BATCH_MAX + 7;
    for (let i = 0; i < n; i++) audit.record({ teamId, actor: 'user:x', sessionId, action: 'tool_call', target: String(i), outcome: 'ok' });
    await audit.flush();
    expect(await rows(sessionId)).toHaveLength(n);
  });

  it('App.close() writes what is still waiting', async () => {
    const gw = await startTestGateway(tdb.db);
    const sessionId = randomUUID();
    gw.app.audit.record({ teamId, actor: 'user:x', sessionId, action: 'tool_call', target: 'at close', outcome: 'ok' });
    await gw.close();
    expect(await rows(sessionId)).toHaveLength(1);
  });
});
