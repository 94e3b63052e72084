/**
 * `switchboard tool-servers policy`: shows and sets a tool server's access policy through the admin API's service,
 * against a real PostgreSQL with a gateway running on it — bad JSON and bad rules are usage errors naming what is
 * wrong, nothing is stored then, a change is audited as the CLI's and reaches a live session of the running gateway
 * (`list_changed`, then the new list).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, tokenFor, type TestGateway } from '../helpers/gateway.js';
import { connectClient } from '../helpers/mcp-client.js';
import { runCli } from '../../src/cli/index.js';

let tdb: TestDatabase;
let gw: TestGateway;
const key = randomBytes(32);

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((err += String(c)), true));
  try {
    const code = await runCli(args, { DATABASE_URL: tdb.url!, ENCRYPTION_KEY: key.toString('base64'), LOG_LEVEL: 'warn' });
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe.skipIf(!TEST_DATABASE_URL)('tool-servers policy from the CLI (needs TEST_DATABASE_URL)', () => {
  beforeAll(async () => {
    tdb = await createTestDatabase();
    gw = await startTestGateway(tdb.db, { encryptionKey: key, demo: false });
  });
  afterAll(async () => {
    await gw?.close();
    await tdb?.drop();
  });

  it('round trip: set, show, list, refuse bad input (nothing stored), clear; a live session hears each change', async () => {
    expect(await cli('teams', 'create', 'acme', '--pack', 'demo')).toMatchObject({ code: 0 });
    expect(await cli('tool-servers', 'policy', '--team', 'acme', '--name', 'demo')).toEqual({ code: 0, out: '{}\n', err: '' });

    const { token } = await tokenFor(gw, { email: 'bob@example.com', team: 'acme' });
    const { client } = await connectClient(`${gw.url}/t/acme/mcp`, token);
    let heard = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void heard++);
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['demo__echo', 'demo__whoami']);
    // Its standalone GET stream is open: the session is served, not idle, when the change is announced.
    const acme = await tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'acme' } });
    await expect.poll(() => gw.app.sessions.liveSessionsOfTeam(acme.id).some((s) => s.inFlight > 0), { timeout: 5000 }).toBe(true);

    const set = await cli('tool-servers', 'policy', '--team', 'acme', '--name', 'demo', '--set', '{"tools":{"whoami":{"roles":["admin"]},"gone":{"hidden":true}}}');
    expect(set).toEqual({ code: 0, out: 'policy of tool server demo in team acme: 2 rules; live sessions were told\n', err: '' });
    const shown = await cli('tool-servers', 'policy', '--team', 'acme', '--name', 'demo');
    expect(JSON.parse(shown.out)).toEqual({ tools: { whoami: { roles: ['admin'] }, gone: { hidden: true } } });
    expect((await cli('tool-servers', 'list', '--team', 'acme')).out).toMatch(/^demo\s+pack demo, policy: 2 rules$/m);
    await expect.poll(() => heard, { timeout: 5000 }).toBeGreaterThan(0);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['demo__echo']);

    const notJson = await cli('tool-servers', 'policy', '--team', 'acme', '--name', 'demo', '--set', '{tools:');
    expect([notJson.code, notJson.err]).toEqual([2, expect.stringContaining('--set: the policy is not valid JSON')]);
    const badRole = await cli('tool-servers', 'policy', '--team', 'acme', '--name', 'demo', '--set', '{"tools":{"echo":{"roles":["owner"]}}}');
    expect([badRole.code, badRole.err]).toEqual([2, expect.stringContaining('invalid policy: policy.tools.echo.roles.0 must be member or admin')]);
    const dir = mkdtempSync(path.join(tmpdir(), 'sb-policy-'));
    writeFileSync(path.join(dir, 'p.json'), '{"tools":{"echo":{"role":["admin"]}}}');
    const unknownKey = await cli('tool-servers', 'policy', '--team', 'acme', '--name', 'demo', '--file', path.join(dir, 'p.json'));
    expect([unknownKey.code, unknownKey.err]).toEqual([2, expect.stringContaining('policy.tools.echo.role unknown field')]);
    const both = await cli('tool-servers', 'policy', '--team', 'acme', '--name', 'demo', '--clear', '--set', '{}');
    expect(both.code).toBe(2);
    const missing = await cli('tool-servers', 'policy', '--team', 'acme', '--name', 'nope', '--clear');
    expect(missing.code).not.toBe(0);
    expect(missing.err).toContain('no tool server named nope');
    expect(JSON.parse((await cli('tool-servers', 'policy', '--team', 'acme', '--name', 'demo')).out)).toEqual({ tools: { whoami: { roles: ['admin'] }, gone: { hidden: true } } });

    writeFileSync(path.join(dir, 'ok.json'), '{"tools":{"echo":{"members":["bob@example.com"]}}}');
    expect((await cli('tool-servers', 'policy', '--team', 'acme', '--name', 'demo', '--file', path.join(dir, 'ok.json'))).code).toBe(0);
    heard = 0;
    expect(await cli('tool-servers', 'policy', '--team', 'acme', '--name', 'demo', '--clear')).toMatchObject({ code: 0, out: expect.stringContaining('cleared') });
    await expect.poll(() => heard, { timeout: 5000 }).toBeGreaterThan(0);
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['demo__echo', 'demo__whoami']);

    await gw.app.audit.flush();
    const audited = await tdb.db.prisma.auditRecord.findMany({ where: { action: 'admin.tool_server_update', actor: 'cli' }, orderBy: { id: 'asc' } });
    expect(audited.map((r) => r.detail)).toEqual([{ policyRules: 2 }, { policyRules: 1 }, { policyRules: 0 }]);
    await client.close();
  });
});
