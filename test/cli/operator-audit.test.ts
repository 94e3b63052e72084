/**
 * Every CLI command that changes state goes through the services (`src/services.ts`) and is audited like the admin
 * API's calls, with actor `cli`: `teams create|delete`, `members add|remove`, `tool-servers add|remove` — a static
 * secret never in a record — and a running gateway's live session hears a tool server added or removed from the CLI.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, tokenFor, type TestGateway } from '../helpers/gateway.js';
import { connectClient } from '../helpers/mcp-client.js';
import { runCli } from '../../src/cli/index.js';

let tdb: TestDatabase;
let gw: TestGateway;
const key = randomBytes(32);
const SECRET = `static-${randomBytes(8).toString('hex')}`;

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((err += String(c)), true));
  try {
    const code = await runCli(args, { DATABASE_URL: tdb.url!, ENCRYPTION_KEY: key.toString('base64'), LOG_LEVEL: 'warn', ...env });
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

/** The CLI's audit records, oldest first (each command writes its records before it closes the database). */
async function cliRecords() {
  const rows = await tdb.db.prisma.auditRecord.findMany({ where: { actor: 'cli' }, orderBy: { id: 'asc' } });
  return rows.map((r) => ({ action: r.action, target: r.target, outcome: r.outcome, detail: r.detail }));
}

describe.skipIf(!TEST_DATABASE_URL)('the CLI’s changes are audited as `cli` (needs TEST_DATABASE_URL)', () => {
  beforeAll(async () => {
    tdb = await createTestDatabase();
    gw = await startTestGateway(tdb.db, { encryptionKey: key, demo: false });
  });
  afterAll(async () => {
    await gw?.close();
    await tdb?.drop();
  });

  it('teams create, tool-servers add/remove, members add/remove, teams delete: one record each, no secret', { timeout: 120_000 }, async () => {
    expect(await cli(['teams', 'create', 'acme', '--pack', 'demo'])).toMatchObject({ code: 0, out: expect.stringContaining('created team acme') });
    const acme = await tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'acme' } });

    const { token } = await tokenFor(gw, { email: 'bob@example.com', team: 'acme' });
    const { client } = await connectClient(`${gw.url}/t/acme/mcp`, token);
    let heard = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void heard++);
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['demo__echo', 'demo__whoami']);
    await expect.poll(() => gw.app.sessions.liveSessionsOfTeam(acme.id).some((s) => s.inFlight > 0), { timeout: 5000 }).toBe(true);

    const add = await cli(['tool-servers', 'add', '--team', 'acme', '--name', 'remote1', '--url', 'https://mcp.example.com/mcp', '--auth', 'static', '--secret-env', 'MY_TOKEN'], { MY_TOKEN: SECRET });
    expect(add).toMatchObject({ code: 0, err: '', out: expect.stringContaining('added tool server remote1 to team acme') });
    await expect.poll(() => heard, { timeout: 5000 }).toBeGreaterThan(0);
    expect(await cli(['tool-servers', 'add', '--team', 'acme', '--name', 'more', '--pack', 'demo', '--no-prefix', '--disabled'])).toMatchObject({ code: 0 });
    heard = 0;
    expect(await cli(['tool-servers', 'remove', '--team', 'acme', '--name', 'more'])).toMatchObject({ code: 0, out: 'removed tool server more from team acme\n' });
    await expect.poll(() => heard, { timeout: 5000 }).toBeGreaterThan(0);
    await client.close();

    expect(await cli(['members', 'add', '--team', 'acme', '--email', 'carol@example.com', '--role', 'admin'])).toMatchObject({ code: 0, out: expect.stringMatching(/^invited carol@example.com/) });
    expect(await cli(['members', 'remove', '--team', 'acme', '--email', 'carol@example.com'])).toMatchObject({ code: 0, out: 'withdrew the invitation of carol@example.com to team acme\n' });
    expect(await cliRecords()).toEqual([
      { action: 'admin.team_create', target: 'acme', outcome: 'ok', detail: null },
      { action: 'admin.tool_server_add', target: 'remote1', outcome: 'ok', detail: { authMode: 'static', url: 'https://mcp.example.com/mcp', header: 'Authorization', secretSent: true } },
      { action: 'admin.tool_server_add', target: 'more', outcome: 'ok', detail: null },
      { action: 'admin.tool_server_remove', target: 'more', outcome: 'ok', detail: null },
      { action: 'admin.member_invite', target: 'carol@example.com', outcome: 'ok', detail: { role: 'admin' } },
      { action: 'admin.invitation_cancel', target: 'carol@example.com', outcome: 'ok', detail: null },
    ]);
    const all = JSON.stringify(await tdb.db.prisma.auditRecord.findMany(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    expect(all).toContain('remote1');
    expect(all).not.toContain(SECRET);
    // Deleting the team deletes its own records with it; the deletion's record outlives it (no team id).
    expect(await cli(['teams', 'delete', 'acme', '--yes'])).toMatchObject({ code: 0 });
    expect(await cliRecords()).toEqual([{ action: 'admin.team_delete', target: 'acme', outcome: 'ok', detail: { team: 'acme', sessionsEnded: 1 } }]);
  });

  it('a refused change writes no record: an unknown team, a name taken', { timeout: 60_000 }, async () => {
    const before = (await cliRecords()).length;
    expect(await cli(['tool-servers', 'add', '--team', 'nope', '--name', 'x', '--pack', 'demo'])).toMatchObject({ code: 1, err: 'No team nope\n' });
    expect(await cli(['teams', 'create', 'zeta'])).toMatchObject({ code: 0 });
    expect(await cli(['tool-servers', 'add', '--team', 'zeta', '--name', 'demo', '--pack', 'demo'])).toMatchObject({ code: 0 });
    expect(await cli(['tool-servers', 'add', '--team', 'zeta', '--name', 'demo', '--pack', 'demo'])).toMatchObject({ code: 1, err: expect.stringContaining('already has a tool server named demo') });
    expect(await cli(['tool-servers', 'remove', '--team', 'zeta', '--name', 'nope'])).toMatchObject({ code: 1 });
    expect((await cliRecords()).slice(before).map((r) => `${r.action} ${r.target}`)).toEqual(['admin.team_create zeta', 'admin.tool_server_add demo']);
  });
});
