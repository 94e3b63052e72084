/**
 * The tool-server registry (docs/interface.md §4): validation with clear errors, name clashes refused when configuring,
 * list/update/remove, and the `switchboard tool-servers` CLI (secrets from an env var or stdin, never argv).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { createSecretBox } from '../../src/security/secret-box.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';
import { listToolServers, removeToolServer, updateToolServer } from '../../src/toolservers/tool-server-registry.js';
import { runCli } from '../../src/cli/index.js';

let tdb: TestDatabase;
let teamId: string;
const key = randomBytes(32);
const box = createSecretBox(key);

beforeAll(async () => {
  tdb = await createTestDatabase();
  teamId = (await createTeam(tdb.db.prisma, { slug: 'reg', name: 'Registry' })).id;
});
afterAll(async () => {
  await tdb?.drop();
});

describe('adding a tool server', () => {
  it.each([
    [{ name: 'Bad Name', kind: 'builtin', pack: 'demo' }, /name must be 1–32 of a-z/],
    [{ name: 'x', kind: 'remote', url: 'http://example.com/mcp' }, /url must be https/],
    [{ name: 'x', kind: 'builtin', pack: 'nope' }, /pack unknown pack; known packs: demo/],
    [{ name: 'x', kind: 'remote', url: 'https://example.com/mcp', auth: { mode: 'static' } }, /auth.secret/],
    [{ name: 'x', kind: 'remote', url: 'https://u:p@example.com/mcp' }, /must not contain credentials/],
  ])('refuses %j with a clear message', async (input, message) => {
    await expect(addToolServer(tdb.db.prisma, box, teamId, input)).rejects.toThrow(message);
  });

  it('seals a static secret and never returns it; refuses a duplicate name', async () => {
    const row = await addToolServer(tdb.db.prisma, box, teamId, { name: 'gh', kind: 'remote', url: 'https://mcp.example.com/mcp', auth: { mode: 'static', header: 'X-Key', secret: 'top-secret' } });
    expect(row.secretEncrypted).not.toContain('top-secret');
    expect(box.open(row.secretEncrypted!)).toBe('top-secret');
    const listed = await listToolServers(tdb.db.prisma, teamId);
    expect(listed.find((s) => s.name === 'gh')).toMatchObject({ kind: 'remote', auth: { mode: 'static', header: 'X-Key', secretSet: true } });
    expect(JSON.stringify(listed)).not.toContain('top-secret');
    await expect(addToolServer(tdb.db.prisma, box, teamId, { name: 'gh', kind: 'remote', url: 'https://x.example.com/mcp' })).rejects.toThrow(/already has a tool server named gh/);
  });

  it('refuses a detectable clash of unprefixed tool names', async () => {
    await addToolServer(tdb.db.prisma, box, teamId, { name: 'plain', kind: 'builtin', pack: 'demo', prefix: false });
    await expect(addToolServer(tdb.db.prisma, box, teamId, { name: 'plain2', kind: 'builtin', pack: 'demo', prefix: false })).rejects.toThrow(
      /Tool name echo of tool server plain2 clashes with tool server plain/,
    );
    // With its prefix kept it is fine.
    await addToolServer(tdb.db.prisma, box, teamId, { name: 'plain2', kind: 'builtin', pack: 'demo' });
  });
});

describe('changing and removing', () => {
  it('updates settings, keeps a static secret unless a new one is given, and removes', async () => {
    const before = await tdb.db.prisma.toolServer.findFirstOrThrow({ where: { teamId, name: 'gh' } });
    const updated = await updateToolServer(tdb.db.prisma, box, teamId, 'gh', { enabled: false });
    expect(updated).toMatchObject({ enabled: false, auth: { mode: 'static', header: 'X-Key', secretSet: true } });
    const after = await tdb.db.prisma.toolServer.findFirstOrThrow({ where: { teamId, name: 'gh' } });
    expect(after.secretEncrypted).toBe(before.secretEncrypted);
    // The stored secret was meant for the stored URL: moving the server requires sending it again.
    await expect(updateToolServer(tdb.db.prisma, box, teamId, 'gh', { url: 'https://other.example.com/mcp' })).rejects.toThrow(/send auth.secret again/);
    expect((await tdb.db.prisma.toolServer.findFirstOrThrow({ where: { teamId, name: 'gh' } })).url).toBe(before.url);
    const moved = await updateToolServer(tdb.db.prisma, box, teamId, 'gh', { url: 'https://other.example.com/mcp', auth: { mode: 'static', header: 'X-Key', secret: 'new-secret' } });
    expect(moved).toMatchObject({ url: 'https://other.example.com/mcp', auth: { secretSet: true } });
    expect((await tdb.db.prisma.toolServer.findFirstOrThrow({ where: { teamId, name: 'gh' } })).secretEncrypted).not.toBe(before.secretEncrypted);
    await updateToolServer(tdb.db.prisma, box, teamId, 'gh', { auth: { mode: 'exchange' } });
    expect((await tdb.db.prisma.toolServer.findFirstOrThrow({ where: { teamId, name: 'gh' } })).secretEncrypted).toBeNull();
    await expect(updateToolServer(tdb.db.prisma, box, teamId, 'gh', { auth: { mode: 'static' } })).rejects.toThrow(/secret is required/);
    await expect(updateToolServer(tdb.db.prisma, box, teamId, 'gh', { url: 'ftp://x' })).rejects.toThrow(/url must be a URL|url must be https/);

    await removeToolServer(tdb.db.prisma, teamId, 'gh');
    await expect(removeToolServer(tdb.db.prisma, teamId, 'gh')).rejects.toThrow(/no tool server named gh/);
  });
});

describe.skipIf(!TEST_DATABASE_URL)('switchboard tool-servers (CLI; needs TEST_DATABASE_URL)', () => {
  async function cli(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((out += String(c)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((err += String(c)), true));
    try {
      const code = await runCli(args, { DATABASE_URL: tdb.url!, ENCRYPTION_KEY: key.toString('base64'), LOG_LEVEL: 'warn', ...extraEnv });
      return { code, out, err };
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
  }

  it('adds (secret from an env var), lists and removes', async () => {
    const add = await cli(['tool-servers', 'add', '--team', 'reg', '--name', 'remote1', '--url', 'https://mcp.example.com/mcp', '--auth', 'static', '--header', 'X-Token', '--secret-env', 'MY_TOKEN'], {
      MY_TOKEN: 'from-env-secret',
    });
    expect(add).toMatchObject({ code: 0, err: '' });
    expect(add.out).toContain('added tool server remote1 to team reg');
    expect(add.out).not.toContain('from-env-secret');
    const row = await tdb.db.prisma.toolServer.findFirstOrThrow({ where: { teamId, name: 'remote1' } });
    expect(box.open(row.secretEncrypted!)).toBe('from-env-secret');

    const list = await cli(['tool-servers', 'list', '--team', 'reg', '--json']);
    expect(list.code).toBe(0);
    const items = (JSON.parse(list.out) as { items: { name: string }[] }).items;
    expect(items.map((i) => i.name)).toContain('remote1');
    expect(list.out).not.toContain('from-env-secret');

    expect((await cli(['tool-servers', 'remove', '--team', 'reg', '--name', 'remote1'])).code).toBe(0);
    expect(await tdb.db.prisma.toolServer.count({ where: { teamId, name: 'remote1' } })).toBe(0);
  });

  it('explains bad input: no secret on argv, static without a secret, an unknown team, invalid config', async () => {
    expect(await cli(['tool-servers', 'add', '--team', 'reg', '--name', 'x', '--url', 'https://e.example/mcp', '--secret', 'plain'])).toMatchObject({ code: 2 });
    const noSecret = await cli(['tool-servers', 'add', '--team', 'reg', '--name', 'x', '--url', 'https://e.example/mcp', '--auth', 'static']);
    expect(noSecret.code).toBe(2);
    expect(noSecret.err).toContain('--auth static needs --secret-env');
    const unknownTeam = await cli(['tool-servers', 'list', '--team', 'nope']);
    expect(unknownTeam).toMatchObject({ code: 1, err: 'No team nope\n' });
    const invalid = await cli(['tool-servers', 'add', '--team', 'reg', '--name', 'x', '--url', 'http://example.com/mcp']);
    expect(invalid.code).toBe(2);
    expect(invalid.err).toMatch(/^--url: must be https/); // the flag, not the stored field
    const help = await cli(['tool-servers', 'add', '--help']);
    expect(help.out).toContain('--secret-env');
  });

  it('refuses a secret or header name that is not a valid HTTP header value/name (issue #9: CR LF), storing nothing', async () => {
    const base = ['tool-servers', 'add', '--team', 'reg', '--name', 'crlf', '--url', 'https://mcp.example.com/mcp', '--auth', 'static'];
    const secret = await cli([...base, '--secret-env', 'BAD_TOKEN'], { BAD_TOKEN: 'token\r\nX-Injected: 1' });
    expect(secret.code).toBe(2);
    expect(secret.err).toMatch(/^the secret \(--secret-env or --secret-stdin\): must be a valid HTTP header value/);
    expect(secret.err).not.toContain('X-Injected');
    const header = await cli([...base, '--header', 'X-Key\r\nX-Injected', '--secret-env', 'GOOD_TOKEN'], { GOOD_TOKEN: 'fine' });
    expect(header.code).toBe(2);
    expect(header.err).toMatch(/^--header: must be an HTTP header name/);
    expect(await tdb.db.prisma.toolServer.count({ where: { teamId, name: 'crlf' } })).toBe(0);
  });
});
