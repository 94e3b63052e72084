/**
 * docs/architecture.md §Replicas, the event store: events of a stream come back in order after a given one, large
 * messages intact; retention deletes what is older than its age limit and what is beyond its row limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createEventStore, type EventStore } from '../../src/cluster/event-store.js';

describe('the event store', () => {
  let tdb: TestDatabase;
  let store: EventStore;
  let sessionId: string;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    store = createEventStore(tdb.db);
    const team = await tdb.db.prisma.team.create({ data: { slug: 'ev', name: 'Ev' } });
    const user = await tdb.db.prisma.user.create({ data: { issuer: 'local', subject: 'ev', email: 'ev@example.com' } });
    sessionId = randomUUID();
    await tdb.db.prisma.session.create({ data: { id: sessionId, teamId: team.id, userId: user.id, clientId: 'c', protocolVersion: '2025-11-25', initializeRequest: {}, expiresAt: new Date(Date.now() + 3_600_000) } });
  });
  afterAll(async () => tdb?.drop());

  it('returns a stream’s events after a given one, in order, large ones intact; other streams stay apart', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { data: 'é'.repeat(60_000) } });
    await store.append(sessionId, 's1', [{ seq: 1, json: '{"a":1}' }, { seq: 2, json: big }]);
    await store.append(sessionId, 's1', [{ seq: 3, json: '{"a":3}' }]);
    await store.append(sessionId, 's2', [{ seq: 1, json: '{"b":1}' }]);
    const after = await store.after(sessionId, 's1', 1);
    expect(after.map((e) => e.seq)).toEqual([2, 3]);
    expect(JSON.parse(after[0]!.json)).toEqual(JSON.parse(big));
    expect(await store.after(sessionId, 's1', 3)).toEqual([]);
    expect(await store.after(randomUUID(), 's1', 0)).toEqual([]);
  });

  it('prunes by age and by count', async () => {
    const now = Date.now();
    expect(await store.prune(now, { maxAgeMs: 3_600_000, maxRows: 2 })).toBe(2);
    expect((await store.after(sessionId, 's1', 0)).map((e) => e.seq)).toEqual([3]);
    expect(await store.prune(now + 7_200_000, { maxAgeMs: 3_600_000, maxRows: 100 })).toBe(2);
    expect(await tdb.db.prisma.event.count()).toBe(0);
  });
});
