/**
 * Per-tool access policy (docs/interface.md §4, README "Who may use which tool"), end to end: two replicas on one
 * PostgreSQL, a real upstream MCP server, real SDK clients, policies written through the admin API. A member and an
 * admin of the same team see different tools; hidden tools are gone for everyone; refused calls are JSON-RPC errors
 * naming the policy, audited `denied`, and never reach the upstream; a change made on one replica reaches a live
 * session on the other (`list_changed`); a role change reaches the member's live session; one team's policy never
 * touches another team.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError, PromptListChangedNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, tokenFor, TEST_ENCRYPTION_KEY, type TestGateway } from '../helpers/gateway.js';
import { connectClient } from '../helpers/mcp-client.js';
import { startUpstream, type UpstreamFixture } from '../fixtures/upstream-server.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';
import { POLICY_DENIED } from '../../src/toolservers/access-policy.js';

const ADMIN_API_KEY = 'sb-admin-policy-test-key-0123456789';

describe.skipIf(!TEST_DATABASE_URL)('tool access policy across two replicas (needs TEST_DATABASE_URL: a real PostgreSQL)', () => {
  let tdb: TestDatabase;
  let a: TestGateway;
  let b: TestGateway;
  let up: UpstreamFixture;
  let acme: { id: string };
  let globex: { id: string };
  const open: Client[] = [];

  const admin = async (gw: TestGateway, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${gw.url}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_API_KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as any };
  };
  const setPolicy = async (team: string, server: string, policy: unknown, gw = a) => {
    const res = await admin(gw, 'PATCH', `/teams/${team}/tool-servers/${server}`, { policy });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  };
  const client = async (gw: TestGateway, email: string, team = 'acme') => {
    const { token } = await tokenFor(gw, { email, team });
    const { client: c } = await connectClient(`${gw.url}/t/${team}/mcp`, token);
    open.push(c);
    return c;
  };
  const toolNames = async (c: Client) => (await c.listTools()).tools.map((t) => t.name).sort();
  const refusal = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(McpError);
    return err as McpError;
  };
  const upstreamCalls = () => up.requests.filter((r) => r.rpcMethod === 'tools/call').length;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    const env = { ADMIN_API_KEY };
    a = await startTestGateway(tdb.db, { env });
    b = await startTestGateway(await tdb.open(), { encryptionKey: TEST_ENCRYPTION_KEY, env: { ...env, PUBLIC_URL: a.url } });
    up = await startUpstream('gh');
    const prisma = tdb.db.prisma;
    acme = await createTeam(prisma, { slug: 'acme', name: 'Acme', joinPolicy: 'invite', packs: ['demo'] });
    globex = await createTeam(prisma, { slug: 'globex', name: 'Globex', joinPolicy: 'invite', packs: ['demo'] });
    // `none`: one listing of the upstream is shared by every user (`listing-cache.ts`): the filter must not leak into it.
    for (const team of [acme, globex]) await addToolServer(prisma, a.app.box, team.id, { name: 'gh', kind: 'remote', url: up.url, auth: { mode: 'none' } });
    const users = { 'ada@example.com': ['acme', 'admin'], 'bob@example.com': ['acme', 'member'], 'carol@example.com': ['acme', 'member'], 'gil@example.com': ['globex', 'member'] } as const;
    for (const [email, [team, role]] of Object.entries(users)) {
      const { userId } = await tokenFor(a, { email, team });
      await prisma.membership.create({ data: { teamId: team === 'acme' ? acme.id : globex.id, userId, role } });
    }
  });
  afterAll(async () => {
    await Promise.allSettled(open.map((c) => c.close()));
    await up?.close();
    await a?.close();
    await b?.close();
    await tdb?.drop();
  });

  const ALL_GH = ['gh__echo', 'gh__fail', 'gh__headers', 'gh__progress'];
  const gh = (names: string[]) => names.filter((n) => ALL_GH.includes(n));

  it('without a policy every member sees and may call everything, as before', async () => {
    const bob = await client(a, 'bob@example.com');
    const ada = await client(b, 'ada@example.com');
    expect(gh(await toolNames(bob))).toEqual(ALL_GH);
    expect(gh(await toolNames(ada))).toEqual(ALL_GH);
    const got = await admin(a, 'GET', '/teams/acme/tool-servers/gh');
    expect(got.body.policy).toEqual({});
  });

  it('a member and an admin of one team see different tools; hidden ones are gone for everyone; named members get theirs', async () => {
    const policy = {
      tools: { fail: { hidden: true }, headers: { roles: ['admin'] }, progress: { members: ['Carol@Example.com'] }, not_yet_there: { roles: ['admin'] } },
      prompts: { greet: { roles: ['admin'] } },
      resources: { 'file:///readme.txt': { hidden: true } },
    };
    const saved = await setPolicy('acme', 'gh', policy);
    expect(saved.policy).toEqual(policy);

    const [bob, carol, adaOnB] = [await client(a, 'bob@example.com'), await client(a, 'carol@example.com'), await client(b, 'ada@example.com')];
    expect(gh(await toolNames(bob))).toEqual(['gh__echo']);
    expect(gh(await toolNames(carol))).toEqual(['gh__echo', 'gh__progress']);
    expect(gh(await toolNames(adaOnB))).toEqual(['gh__echo', 'gh__headers']);
    // Built-in pack tools are untouched by another tool server's policy.
    expect(await toolNames(bob)).toEqual(expect.arrayContaining(['demo__echo', 'demo__whoami']));

    // Prompts and resources follow the same rules.
    expect((await bob.listPrompts()).prompts.map((p) => p.name)).not.toContain('gh__greet');
    expect((await adaOnB.listPrompts()).prompts.map((p) => p.name)).toContain('gh__greet');
    for (const c of [bob, adaOnB]) expect((await c.listResources()).resources.map((r) => r.name)).not.toContain('readme');
  });

  it('a refused call is a JSON-RPC error naming the policy, audited `denied`, and nothing reaches the upstream', async () => {
    const bob = await client(a, 'bob@example.com');
    const adaOnB = await client(b, 'ada@example.com');
    await bob.listTools();
    const before = upstreamCalls();
    const beforeAll = up.requests.length;

    const restricted = await refusal(bob.callTool({ name: 'gh__headers', arguments: {} }));
    expect(restricted.code).toBe(POLICY_DENIED);
    expect(restricted.message).toContain("tool headers is restricted to admins by the team's policy for tool server gh");
    expect(restricted.data).toEqual({ reason: 'policy', toolServer: 'gh', kind: 'tools', name: 'headers' });
    const hidden = await refusal(adaOnB.callTool({ name: 'gh__fail', arguments: {} }));
    expect(hidden.code).toBe(POLICY_DENIED);
    expect(hidden.message).toContain("tool fail is hidden by the team's policy for tool server gh");
    const named = await refusal(adaOnB.callTool({ name: 'gh__progress', arguments: { steps: 1 } }));
    expect(named.message).toContain('restricted to named members');
    const prompt = await refusal(bob.getPrompt({ name: 'gh__greet', arguments: { who: 'x' } }));
    expect(prompt.code).toBe(POLICY_DENIED);
    expect(prompt.message).toContain("prompt greet is restricted to admins by the team's policy for tool server gh");
    const resource = await refusal(adaOnB.readResource({ uri: 'switchboard://gh/file%3A%2F%2F%2Freadme.txt' }));
    expect(resource.message).toContain("resource file:///readme.txt is hidden by the team's policy for tool server gh");
    // Not a single request of any kind reached the upstream for the refused ones.
    expect(upstreamCalls()).toBe(before);
    expect(up.requests.length).toBe(beforeAll);

    // What is allowed still works, through the relay on either replica.
    expect((await adaOnB.callTool({ name: 'gh__headers', arguments: {} })).isError).toBeFalsy();
    expect((await bob.callTool({ name: 'gh__echo', arguments: { text: 'hi' } })).content).toEqual([{ type: 'text', text: 'gh:hi' }]);
    expect(upstreamCalls()).toBe(before + 2);

    await Promise.all([a.app.audit.flush(), b.app.audit.flush()]);
    const denied = await admin(a, 'GET', '/audit?team=acme&outcome=denied');
    expect(denied.status).toBe(200);
    const rows = (denied.body.items as { tool: string; userEmail: string; outcome: string }[]).map((r) => [r.tool, r.userEmail]).sort();
    expect(rows).toEqual([
      ['gh__fail', 'ada@example.com'],
      ['gh__headers', 'bob@example.com'],
      ['gh__progress', 'ada@example.com'],
    ]);
  });

  it('the shared listing of the upstream is never filtered: a member listing first does not hide tools from an admin', async () => {
    // Fresh sessions; the member lists first, so the shared entry is filled during a filtered listing.
    const bob = await client(b, 'bob@example.com');
    expect(gh(await toolNames(bob))).toEqual(['gh__echo']);
    const ada = await client(b, 'ada@example.com');
    expect(gh(await toolNames(ada))).toEqual(['gh__echo', 'gh__headers']);
  });

  it('a policy change on replica A reaches a live session on replica B: list_changed, then the new list', async () => {
    const bobOnB = await client(b, 'bob@example.com');
    let heard = 0;
    bobOnB.setNotificationHandler(ToolListChangedNotificationSchema, () => void heard++);
    let promptsHeard = 0;
    bobOnB.setNotificationHandler(PromptListChangedNotificationSchema, () => void promptsHeard++);
    expect(gh(await toolNames(bobOnB))).toEqual(['gh__echo']);
    expect((await bobOnB.listPrompts()).prompts.map((p) => p.name)).not.toContain('gh__greet');
    // The session's standalone GET stream is open on B (it is then served, not idle, when the change arrives).
    await expect.poll(() => b.app.sessions.liveSessionsOfTeam(acme.id).some((s) => s.inFlight > 0), { timeout: 5000 }).toBe(true);

    await setPolicy('acme', 'gh', { tools: { fail: { hidden: true } } });
    await expect.poll(() => heard, { timeout: 5000 }).toBeGreaterThan(0);
    await expect.poll(() => promptsHeard, { timeout: 5000 }).toBeGreaterThan(0);
    expect(gh(await toolNames(bobOnB))).toEqual(['gh__echo', 'gh__headers', 'gh__progress']);
    expect((await bobOnB.listPrompts()).prompts.map((p) => p.name)).toContain('gh__greet');
    expect((await bobOnB.callTool({ name: 'gh__headers', arguments: {} })).isError).toBeFalsy();
    expect((await refusal(bobOnB.callTool({ name: 'gh__fail', arguments: {} }))).code).toBe(POLICY_DENIED);

    // Cleared with `{}`: everything is back for everyone.
    heard = 0;
    const cleared = await setPolicy('acme', 'gh', {});
    expect(cleared.policy).toEqual({});
    await expect.poll(() => heard, { timeout: 5000 }).toBeGreaterThan(0);
    expect(gh(await toolNames(bobOnB))).toEqual(ALL_GH);
  });

  it('a role change reaches the member’s live session on its next request, with list_changed', async () => {
    await setPolicy('acme', 'gh', { tools: { headers: { roles: ['admin'] } } });
    const carol = await client(a, 'carol@example.com');
    let heard = 0;
    carol.setNotificationHandler(ToolListChangedNotificationSchema, () => void heard++);
    expect(gh(await toolNames(carol))).not.toContain('gh__headers');
    await expect.poll(() => a.app.sessions.liveSessionsOfTeam(acme.id).some((s) => s.inFlight > 0), { timeout: 5000 }).toBe(true);

    const carolId = (await tdb.db.prisma.user.findFirstOrThrow({ where: { email: 'carol@example.com' } })).id;
    const promoted = await admin(a, 'POST', '/teams/acme/members', { userId: carolId, role: 'admin' });
    expect(promoted.status).toBe(200);
    // The replica that made the change forgot its cached membership: the very next request judges her as an admin.
    expect(gh(await toolNames(carol))).toContain('gh__headers');
    await expect.poll(() => heard, { timeout: 5000 }).toBeGreaterThan(0);
    expect((await carol.callTool({ name: 'gh__headers', arguments: {} })).isError).toBeFalsy();

    await admin(a, 'POST', '/teams/acme/members', { userId: carolId, role: 'member' });
    expect(gh(await toolNames(carol))).not.toContain('gh__headers');
    expect((await refusal(carol.callTool({ name: 'gh__headers', arguments: {} }))).code).toBe(POLICY_DENIED);
  });

  it("one team's policy never touches another team's tool server of the same name and upstream", async () => {
    await setPolicy('globex', 'gh', { tools: { echo: { hidden: true } } }, b);
    const gil = await client(a, 'gil@example.com', 'globex');
    const bob = await client(a, 'bob@example.com');
    expect(gh(await toolNames(gil))).toEqual(['gh__fail', 'gh__headers', 'gh__progress']);
    expect((await refusal(gil.callTool({ name: 'gh__echo', arguments: { text: 'x' } }))).code).toBe(POLICY_DENIED);
    expect(gh(await toolNames(bob))).toContain('gh__echo');
    expect((await bob.callTool({ name: 'gh__echo', arguments: { text: 'x' } })).content).toEqual([{ type: 'text', text: 'gh:x' }]);
    expect((await admin(a, 'GET', '/teams/acme/tool-servers/gh')).body.policy).toEqual({ tools: { headers: { roles: ['admin'] } } });
    void globex;
  });

  it('a built-in pack takes a policy too (its calls are refused on the session’s own path, audited `denied`)', async () => {
    await setPolicy('globex', 'demo', { tools: { whoami: { roles: ['admin'] } } });
    const gil = await client(b, 'gil@example.com', 'globex');
    expect(await toolNames(gil)).not.toContain('demo__whoami');
    const err = await refusal(gil.callTool({ name: 'demo__whoami', arguments: {} }));
    expect(err.message).toContain("tool whoami is restricted to admins by the team's policy for tool server demo");
    await b.app.audit.flush();
    const rows = await admin(a, 'GET', '/audit?team=globex&outcome=denied&tool=demo__whoami');
    expect(rows.body.items).toHaveLength(1);
  });

  it('a transparent proxy (`prefix: false`) is filtered and refused the same way', async () => {
    const solo = await createTeam(tdb.db.prisma, { slug: 'solo', name: 'Solo', joinPolicy: 'open' });
    await addToolServer(tdb.db.prisma, a.app.box, solo.id, { name: 'up', kind: 'remote', url: up.url, auth: { mode: 'none' }, prefix: false, policy: { tools: { fail: { hidden: true } } } });
    const c = await client(b, 'bob@example.com', 'solo');
    expect(await toolNames(c)).toEqual(expect.arrayContaining(['echo', 'headers']));
    expect(await toolNames(c)).not.toContain('fail');
    const before = up.requests.length;
    expect((await refusal(c.callTool({ name: 'fail', arguments: {} }))).message).toContain("tool fail is hidden by the team's policy for tool server up");
    expect(up.requests.length).toBe(before);
  });

  it('a stored policy that no longer parses (edited by hand) hides the whole tool server rather than opening it', async () => {
    const row = await tdb.db.prisma.toolServer.findFirstOrThrow({ where: { teamId: globex.id, name: 'gh' } });
    await tdb.db.prisma.toolServer.update({ where: { id: row.id }, data: { policy: { tools: { echo: { roles: ['owner'] } } } } });
    await a.app.sessions.toolsChanged(globex.id);
    const gil = await client(a, 'gil@example.com', 'globex');
    expect(gh(await toolNames(gil))).toEqual([]);
    const err = await refusal(gil.callTool({ name: 'gh__headers', arguments: {} }));
    expect(err.message).toContain("the team's policy for it could not be read");
    expect(a.logs.text()).toContain("tool server's stored access policy is not valid");
    // The API still shows it as stored, and a change that does not touch it is not blocked by it.
    expect((await admin(a, 'PATCH', '/teams/globex/tool-servers/gh', { enabled: true })).status).toBe(200);
    await setPolicy('globex', 'gh', {});
  });
});
