/**
 * `npm run bench:cluster-db`: what the cluster's use of PostgreSQL costs (issue 12), measured against a real server
 * on a fresh database (`BENCH_DATABASE_URL`, else `TEST_DATABASE_URL`), with the gateway's own modules:
 *
 * - **Event-store writes per event** (`cluster/event-store.ts`): `BENCH_DB_STREAMS` cut streams written at once, each
 *   in order, one `append` of `batch` events at a time and then the `events-appended` NOTIFY — what a cut stream's
 *   `persist` does (`cluster/resumable-streams.ts`) — for several batch sizes and two message sizes (a progress
 *   notification, a 4 KB answer). Wall time and CPU (this process, and its PostgreSQL backends from `/proc`) per event.
 * - **The NOTIFY ceiling** (`db.sql.notify`, the bus's sender, and `db.sql.listen`, its dedicated listener
 *   connection): `BENCH_DB_MESSAGES` notifications sent from one pool with 1 and `BENCH_DB_IN_FLIGHT` in flight, at
 *   payload sizes near the bus's (a heartbeat, an `events-appended`, a `session-message`, `INLINE_LIMIT`), counted by a
 *   listener: sent/s, delivered/s, lost, and CPU per notification of this process and of the PostgreSQL backends.
 *
 * Sender and listener share this process, so their CPU is one figure; PostgreSQL's backends are found through
 * `pg_stat_activity` for the bench's own database. Prints Markdown on stdout, progress on stderr. A micro-benchmark:
 * the same shared machine caveats as `npm run bench` apply — compare within one run.
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { benchDatabase, BENCH_DATABASE_URL, percentile, round } from './harness.js';
import { benchNumber } from './settings.js';
import { cpuBetween, loadAverage, snapshot } from './proc-cpu.js';
import { createEventStore, type StoredEvent } from '../src/cluster/event-store.js';
import { createClusterBus, INLINE_LIMIT } from '../src/cluster/bus.js';
import { createLogger } from '../src/observability/logger.js';
import { createTeam } from '../src/teams/team-admin.js';
import { createUserDirectory, LOCAL_ISSUER } from '../src/teams/users.js';
import type { Database } from '../src/db/database.js';

/** `BENCH_DB_*` as a comma list of numbers (each ≥ 1). */
export function numberList(name: string, value: string | undefined, fallback: number[]): number[] {
  if (value === undefined || value.trim() === '') return fallback;
  return value.split(',').map((p) => benchNumber(name, p.trim(), NaN, 1));
}

/** A JSON-RPC message of about `bytes` bytes (as JSON text), shaped like what a cut stream stores. */
export function eventMessage(seq: number, bytes: number): string {
  const head = { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 7, progress: seq, total: 1000, message: '' } };
  const bare = JSON.stringify(head).length;
  return JSON.stringify({ ...head, params: { ...head.params, message: 'x'.repeat(Math.max(0, bytes - bare)) } });
}

const log = (msg: string) => console.error(`bench:cluster-db ${new Date().toISOString().slice(11, 19)} ${msg}`);

interface Measured {
  seconds: number;
  cpuSelf: number;
  cpuPostgres: number;
}

/** Runs `fn` between two `/proc` snapshots of this process and the database's backends. */
async function measured(admin: pg.Client, database: string, fn: () => Promise<void>): Promise<Measured> {
  const backends = async () => (await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database])).rows.map((r) => r.pid);
  const before = await backends();
  const a = snapshot([process.pid, ...before]);
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  const pids = [...new Set([...before, ...(await backends())])];
  const b = snapshot([process.pid, ...pids]);
  return { seconds, cpuSelf: cpuBetween(a, b, [process.pid]), cpuPostgres: cpuBetween(a, b, pids) };
}

async function main(): Promise<void> {
  const settings = {
    events: benchNumber('BENCH_DB_EVENTS', process.env.BENCH_DB_EVENTS, 20_000, 1),
    streams: benchNumber('BENCH_DB_STREAMS', process.env.BENCH_DB_STREAMS, 16, 1),
    batches: numberList('BENCH_DB_BATCHES', process.env.BENCH_DB_BATCHES, [1, 5, 20, 50]),
    eventBytes: numberList('BENCH_DB_EVENT_BYTES', process.env.BENCH_DB_EVENT_BYTES, [160, 4096]),
    messages: benchNumber('BENCH_DB_MESSAGES', process.env.BENCH_DB_MESSAGES, 20_000, 1),
    inFlight: benchNumber('BENCH_DB_IN_FLIGHT', process.env.BENCH_DB_IN_FLIGHT, 10, 1),
    payloads: numberList('BENCH_DB_PAYLOADS', process.env.BENCH_DB_PAYLOADS, [12, 120, 600, INLINE_LIMIT]),
  };
  const loadAtStart = loadAverage();
  const { db, name, drop } = await benchDatabase();
  const admin = new pg.Client({ connectionString: BENCH_DATABASE_URL });
  await admin.connect();
  const logger = createLogger({ level: 'warn' });
  const bus = createClusterBus({ db, logger });
  await bus.start();
  const out: string[] = [
    `## ${new Date().toISOString().slice(0, 16).replace('T', ', ')} UTC — \`npm run bench:cluster-db\``,
    '',
    `Database ${name} (dropped at the end). Node ${process.version}, PostgreSQL ${(await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version}, load average at start ${loadAtStart}. ` +
      `Settings: ${Object.entries(settings).map(([k, v]) => `${k}=${String(v)}`).join(', ')}.`,
    '',
  ];
  try {
    out.push(...(await eventStoreWrites(db, name, admin, bus, settings)), '');
    out.push(...(await notifyCeiling(db, name, admin, settings)), '');
    out.push(`Load average at end ${loadAverage()}.`);
  } finally {
    await bus.close();
    await admin.end();
    await drop();
  }
  console.log(out.join('\n'));
}

async function eventStoreWrites(db: Database, database: string, admin: pg.Client, bus: ReturnType<typeof createClusterBus>, s: { events: number; streams: number; batches: number[]; eventBytes: number[] }): Promise<string[]> {
  const store = createEventStore(db);
  const team = await createTeam(db.prisma, { slug: 'bench-db', name: 'Bench DB' });
  const user = await createUserDirectory(db.prisma).upsert(LOCAL_ISSUER, 'bench-db@bench.example', 'bench-db@bench.example');
  const sessionIds: string[] = [];
  for (let i = 0; i < s.streams; i++) {
    const id = randomUUID();
    await db.sql.query(
      `INSERT INTO sessions (id, team_id, user_id, client_id, protocol_version, initialize_request, expires_at) VALUES ($1, $2::uuid, $3::uuid, 'bench', '2025-11-25', '{}'::jsonb, now() + interval '1 hour')`,
      [id, team.id, user.id],
    );
    sessionIds.push(id);
  }
  const rows = [
    `### Event-store writes (\`cluster/event-store.ts\` append + the \`events-appended\` NOTIFY, as a cut stream's \`persist\`; ${s.streams} streams written at once, each in order)`,
    '',
    '| event size (bytes) | events per statement | events | events/s | wall ms per statement (p50 / p99) | CPU µs per event: this process | PostgreSQL backends | total |',
    '|---|---|---|---|---|---|---|---|',
  ];
  let run = 0;
  for (const bytes of s.eventBytes) {
    for (const batch of s.batches) {
      const perStream = Math.max(1, Math.ceil(s.events / s.streams / batch));
      const messages = Array.from({ length: batch }, (_, i) => eventMessage(i + 1, bytes));
      const latencies: number[] = [];
      const streamTag = `bench.${++run}`;
      log(`event store: ${bytes}-byte events, ${batch} per statement, ${perStream * batch * s.streams} events`);
      const m = await measured(admin, database, async () => {
        await Promise.all(
          sessionIds.map(async (sessionId, k) => {
            const streamId = `${streamTag}.${k}`;
            let seq = 0;
            for (let i = 0; i < perStream; i++) {
              const events: StoredEvent[] = messages.map((json) => ({ seq: ++seq, json }));
              const t0 = performance.now();
              await store.append(sessionId, streamId, events);
              await bus.publish({ kind: 'events-appended', sessionId, streamId, seq });
              latencies.push(performance.now() - t0);
            }
          }),
        );
      });
      const total = perStream * batch * s.streams;
      latencies.sort((a, b) => a - b);
      const us = (ms: number) => round((1000 * ms) / total, 1);
      rows.push(`| ${bytes} | ${batch} | ${total} | ${round(total / m.seconds, 0)} | ${round(percentile(latencies, 50), 2)} / ${round(percentile(latencies, 99), 2)} | ${us(m.cpuSelf)} | ${us(m.cpuPostgres)} | ${us(m.cpuSelf + m.cpuPostgres)} |`);
      await db.sql.query('DELETE FROM events');
    }
  }
  return rows;
}

async function notifyCeiling(db: Database, database: string, admin: pg.Client, s: { messages: number; inFlight: number; payloads: number[] }): Promise<string[]> {
  const rows = [
    `### NOTIFY ceiling (\`db.sql.notify\` from one pool → \`db.sql.listen\` on the dedicated listener connection, ${s.messages} notifications per line)`,
    '',
    '| payload (bytes) | in flight | sent/s | delivered/s | delivered | CPU µs per notification: this process (sender + listener) | PostgreSQL backends |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const bytes of s.payloads) {
    for (const inFlight of [...new Set([1, s.inFlight])]) {
      const channel = `bench_notify_${bytes}_${inFlight}`;
      const payload = 'p'.repeat(bytes);
      let delivered = 0;
      let all: () => void = () => undefined;
      const allIn = new Promise<void>((r) => (all = r));
      const unlisten = await db.sql.listen(channel, () => {
        if (++delivered === s.messages) all();
      });
      log(`notify: ${bytes}-byte payloads, ${inFlight} in flight`);
      let sentSeconds = 0;
      const m = await measured(admin, database, async () => {
        const t0 = performance.now();
        let next = 0;
        await Promise.all(
          Array.from({ length: inFlight }, async () => {
            while (next < s.messages) {
              next++;
              await db.sql.notify(channel, payload);
            }
          }),
        );
        sentSeconds = (performance.now() - t0) / 1000;
        // What has not arrived a second after the last was sent is counted as lost.
        await Promise.race([allIn, new Promise((r) => setTimeout(r, 1000))]);
      });
      await unlisten();
      const deliveredSeconds = delivered === s.messages ? m.seconds : NaN;
      const us = (ms: number) => round((1000 * ms) / s.messages, 1);
      rows.push(`| ${bytes} | ${inFlight} | ${round(s.messages / sentSeconds, 0)} | ${Number.isFinite(deliveredSeconds) ? round(delivered / deliveredSeconds, 0) : '—'} | ${delivered} of ${s.messages} | ${us(m.cpuSelf)} | ${us(m.cpuPostgres)} |`);
    }
  }
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error('bench:cluster-db failed', err);
      process.exit(1);
    },
  );
}
