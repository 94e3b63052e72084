/**
 * The console over plain HTTP (the browser tests are in `console-browser.test.ts`): signing in through the
 * gateway's own login and consent, the cookie session, who may see what (the admin API's rules), CSRF on every
 * form, the team forms calling the admin services, and bad input answered with a 4xx page that says what was wrong.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchBrowser, hiddenField } from '../helpers/oauth-client.js';
import { startTestGateway } from '../helpers/gateway.js';
import { mcpUser, PLATFORM_EMAIL, signInWithFetch, startConsoleFixture, type ConsoleFixture, type McpUser } from './console-fixture.js';

let f: ConsoleFixture;
let root: FetchBrowser;
let dave: McpUser;
let erin: McpUser;

beforeAll(async () => {
  f = await startConsoleFixture();
  dave = await mcpUser(f, 'acme', 'dave@example.com', 'chat-dave');
  erin = await mcpUser(f, 'globex', 'erin@example.com', 'chat-erin');
  await dave.client.callTool({ name: 'demo__echo', arguments: { text: 'from acme' } });
  await erin.client.callTool({ name: 'demo__echo', arguments: { text: 'from globex' } });
  await erin.client.callTool({ name: 'demo__echo', arguments: { text: 'again' } });
  await f.gw.app.audit.flush();
  root = (await signInWithFetch(f.gw, PLATFORM_EMAIL)).browser;
});
afterAll(async () => {
  await dave?.client.close();
  await erin?.client.close();
  await f?.close();
});

async function get(b: FetchBrowser, path: string): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await b.request(new URL(path, f.gw.url));
  return { status: res.status, body: await res.text(), headers: res.headers };
}

async function post(b: FetchBrowser, path: string, form: Record<string, string>): Promise<{ status: number; body: string; location: string | null }> {
  const res = await b.request(new URL(path, f.gw.url), form);
  return { status: res.status, body: await res.text(), location: res.headers.get('location') };
}

/** The CSRF token of the session in `b` (every console page's sign-out form carries it). */
async function csrfOf(b: FetchBrowser): Promise<string> {
  return hiddenField((await get(b, '/console/teams')).body, 'csrf')!;
}

/** Visible text of an HTML page. */
const text = (body: string) => body.replace(/<[^>]+>/g, ' ').replace(/&#39;|&quot;/g, "'").replace(/\s+/g, ' ');

describe('signing in', () => {
  it('sends a signed-out browser through the gateway’s login and consent and back to the page it asked for', async () => {
    const anonymous = new FetchBrowser(() => false);
    const res = await anonymous.request(new URL('/console/activity?period=1h', f.gw.url));
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/console/login?next=%2Fconsole%2Factivity%3Fperiod%3D1h');

    const { browser, page } = await signInWithFetch(f.gw, PLATFORM_EMAIL, '/console/activity?period=1h');
    expect(page.status).toBe(200);
    expect(page.url.pathname).toBe('/console/activity');
    // The consent was remembered the first time: this sign-in went /login → /consent → straight to the callback.
    expect(browser.visited).toContain('GET /console/callback');
    const cookie = (await signInCookies()).find((c) => c.startsWith('sb_console='));
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).toMatch(/Max-Age=28800/);
  });

  it('refuses a callback whose state is not this browser’s, and a forged code', async () => {
    const b = new FetchBrowser(() => false);
    const start = await b.request(new URL('/console/login', f.gw.url));
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.get('location')!, f.gw.url);
    expect(authorize.pathname).toBe('/authorize');
    expect(authorize.searchParams.get('client_id')).toBe('switchboard-console');
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${f.gw.url}/console/callback`);
    expect(authorize.searchParams.get('resource')).toBe(`${f.gw.url}/admin`);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    const state = authorize.searchParams.get('state')!;

    const wrongState = await get(b, `/console/callback?code=x&state=other&iss=${encodeURIComponent(f.gw.url)}`);
    expect(wrongState.status).toBe(400);
    expect(text(wrongState.body)).toContain('Sign-in expired');

    await b.request(new URL('/console/login', f.gw.url));
    const again = new URL((await b.request(new URL('/console/login', f.gw.url))).headers.get('location')!, f.gw.url).searchParams.get('state')!;
    expect(again).not.toBe(state);
    const forged = await get(b, `/console/callback?code=forged&state=${again}&iss=${encodeURIComponent(f.gw.url)}`);
    expect(forged.status).toBe(400);
    expect(text(forged.body)).toContain('authorization code is not valid');
    expect((await b.request(new URL('/console/sessions', f.gw.url))).status).toBe(303);
  });

  it('signs out with the CSRF token; a sign-out without it is refused', async () => {
    const { browser } = await signInWithFetch(f.gw, PLATFORM_EMAIL);
    expect((await post(browser, '/console/logout', {})).status).toBe(403);
    expect((await get(browser, '/console/sessions')).status).toBe(200);
    expect((await post(browser, '/console/logout', { csrf: await csrfOf(browser) })).status).toBe(200);
    expect((await browser.request(new URL('/console/sessions', f.gw.url))).status).toBe(303);
  });
});

/** The Set-Cookie lines of a fresh sign-in's callback. */
async function signInCookies(): Promise<string[]> {
  const b = new FetchBrowser(() => false);
  const lines: string[] = [];
  const original = b.jar.store.bind(b.jar);
  b.jar.store = (res: Response) => {
    lines.push(...res.headers.getSetCookie());
    original(res);
  };
  let step = await b.navigate(new URL('/console', f.gw.url));
  for (let i = 0; i < 3 && !('redirect' in step) && step.url.pathname === '/login'; i++) {
    step = await b.navigate(new URL('/login', f.gw.url), { csrf: hiddenField(step.body, 'csrf')!, email: PLATFORM_EMAIL });
  }
  return lines;
}

describe('who may see what', () => {
  it('shows a platform admin every team’s sessions, filtered by team, e-mail and chat', async () => {
    const all = await get(root, '/console/sessions');
    expect(all.status).toBe(200);
    expect(all.body).toContain(dave.sessionId);
    expect(all.body).toContain(erin.sessionId);
    const byUser = await get(root, '/console/sessions?user=ERIN%40example.com');
    expect(byUser.body).toContain(erin.sessionId);
    expect(byUser.body).not.toContain(dave.sessionId);
    const byTeam = await get(root, '/console/sessions?team=acme&user=&chat=');
    expect(byTeam.body).toContain(dave.sessionId);
    expect(byTeam.body).not.toContain(erin.sessionId);
    expect(text((await get(root, '/console/activity')).body)).toContain('3 tool calls and 0 errors');
    const erinsCalls = await get(root, '/console/activity?team=globex&user=erin%40example.com&tool=demo__echo&outcome=ok&period=1h');
    expect(text(erinsCalls.body)).toContain('2 tool calls and 0 errors');
    expect(erinsCalls.body).not.toContain('dave@example.com');
    expect(text((await get(root, '/console/activity?tool=demo__whoami')).body)).toContain('0 tool calls');
    const byChat = await get(root, '/console/sessions?chat=chat-erin');
    expect(byChat.body).toContain(erin.sessionId);
    expect(byChat.body).not.toContain(dave.sessionId);
  });

  it('shows a team admin only their team, and refuses the other team’s pages and filters (403)', async () => {
    const { browser: alice } = await signInWithFetch(f.gw, 'alice@example.com');
    const sessions = await get(alice, '/console/sessions');
    expect(sessions.status).toBe(200);
    expect(sessions.body).toContain(dave.sessionId);
    expect(sessions.body).not.toContain(erin.sessionId);
    expect((await get(alice, '/console/teams')).body).not.toContain('globex');
    // Activity (table and chart) in the team admin's scope only.
    const activity = await get(alice, '/console/activity');
    expect(activity.status).toBe(200);
    expect(text(activity.body)).toContain('1 tool call and 0 errors');
    expect(activity.body).toContain('dave@example.com');
    expect(activity.body).not.toContain('erin@example.com');
    for (const path of ['/console/teams/globex', '/console/sessions?team=globex', '/console/activity?team=globex', '/console/teams/no-such-team']) {
      const res = await get(alice, path);
      expect(res.status, path).toBe(403);
      expect(text(res.body)).toContain('You are not an admin of team');
    }
    const csrf = await csrfOf(alice);
    const end = await post(alice, `/console/sessions/${erin.sessionId}/end`, { csrf });
    expect(end.status).toBe(404);
    const addToGlobex = await post(alice, '/console/teams/globex/members', { csrf, email: 'x@example.com', role: 'admin' });
    expect(addToGlobex.status).toBe(403);
    expect(await f.tdb.db.prisma.teamInvitation.count({ where: { email: 'x@example.com' } })).toBe(0);
  });

  it('refuses a plain member everywhere with a 403 page', async () => {
    const { browser: carol, page } = await signInWithFetch(f.gw, 'carol@example.com');
    expect(page.status).toBe(403);
    expect(text(page.body)).toContain('administers no team and is not a platform admin');
    for (const path of ['/console/sessions', '/console/activity', '/console/teams', '/console/teams/acme']) {
      expect((await get(carol, path)).status, path).toBe(403);
    }
    expect((await post(carol, `/console/sessions/${dave.sessionId}/end`, { csrf: await csrfOfPage(carol) })).status).toBe(403);
    expect((await f.tdb.db.prisma.session.findUniqueOrThrow({ where: { id: dave.sessionId } })).closedAt).toBeNull();
  });
});

/** The CSRF token on a refusal page (its sign-out form). */
async function csrfOfPage(b: FetchBrowser): Promise<string> {
  return hiddenField((await get(b, '/console/sessions')).body, 'csrf')!;
}

describe('CSRF', () => {
  it('refuses a POST without the token, with another session’s token, and without a session (403, nothing ended)', async () => {
    const { browser: other } = await signInWithFetch(f.gw, PLATFORM_EMAIL);
    const path = `/console/sessions/${erin.sessionId}/end`;
    const none = await post(root, path, {});
    expect(none.status).toBe(403);
    expect(text(none.body)).toContain('security token');
    expect((await post(root, path, { csrf: await csrfOf(other) })).status).toBe(403);
    expect((await post(new FetchBrowser(() => false), path, { csrf: await csrfOf(root) })).status).toBe(403);
    for (const form of ['/console/teams/acme/members', '/console/teams/acme/tool-servers', '/console/teams/acme/tool-servers/demo/disable']) {
      expect((await post(root, form, { email: 'y@example.com', name: 'x', kind: 'builtin' })).status, form).toBe(403);
    }
    expect((await f.tdb.db.prisma.session.findUniqueOrThrow({ where: { id: erin.sessionId } })).closedAt).toBeNull();
    expect((await f.tdb.db.prisma.toolServer.findFirstOrThrow({ where: { teamId: f.acme.id, name: 'demo' } })).enabled).toBe(true);
  });
});

describe('team forms', () => {
  it('adds, invites, re-roles and removes members through the admin services', async () => {
    const csrf = await csrfOf(root);
    const added = await post(root, '/console/teams/acme/members', { csrf, email: 'Bob@Example.com', role: 'member' });
    expect(added.status).toBe(303);
    expect(added.location).toBe('/console/teams/acme?done=member_added');
    const invited = await post(root, '/console/teams/acme/members', { csrf, email: 'newcomer@example.com', role: 'admin' });
    expect(invited.location).toBe('/console/teams/acme?done=member_invited');
    const page = await get(root, '/console/teams/acme?done=member_invited');
    expect(text(page.body)).toContain('Invitation recorded');
    expect(page.body).toContain('newcomer@example.com');

    const bob = await f.gw.app.users.upsert('urn:switchboard:local', 'bob@example.com', 'bob@example.com');
    expect((await post(root, `/console/teams/acme/members/${bob.id}/role`, { csrf, role: 'admin' })).location).toBe('/console/teams/acme?done=member_updated');
    expect((await f.tdb.db.prisma.membership.findUniqueOrThrow({ where: { teamId_userId: { teamId: f.acme.id, userId: bob.id } } })).role).toBe('admin');
    expect((await post(root, `/console/teams/acme/members/${bob.id}/remove`, { csrf })).location).toBe('/console/teams/acme?done=member_removed');
    expect(await f.tdb.db.prisma.membership.count({ where: { teamId: f.acme.id, userId: bob.id } })).toBe(0);
    const withdrawn = await post(root, `/console/teams/acme/invitations/${encodeURIComponent('newcomer@example.com')}/withdraw`, { csrf });
    expect(withdrawn.location).toBe('/console/teams/acme?done=invitation_withdrawn');
    expect(await f.tdb.db.prisma.teamInvitation.count({ where: { teamId: f.acme.id } })).toBe(0);
  });

  it('shows each tool server’s latest call (its health as last seen), from the audit trail', async () => {
    const row = (body: string, name: string) => new RegExp(`<tr data-tool-server="${name}">([\\s\\S]*?)</tr>`).exec(body)?.[1] ?? '';
    const acme = await get(root, '/console/teams/acme');
    expect(text(row(acme.body, 'demo'))).toMatch(/\bok \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\b/);
    await f.tdb.db.prisma.auditRecord.create({ data: { teamId: f.globex.id, actor: 'test', action: 'tool_call', target: 'demo__echo', outcome: 'upstream_error', durationMs: 5 } });
    expect(text(row((await get(root, '/console/teams/globex')).body, 'demo'))).toContain('upstream_error');
    expect(text(row(acme.body, 'demo'))).not.toContain('upstream_error');
  });

  it('adds a tool server with a write-only secret, disables, enables and removes it', async () => {
    const csrf = await csrfOf(root);
    const secret = 'Bearer console-secret-0123456789';
    const add = await post(root, '/console/teams/acme/tool-servers', {
      csrf,
      name: 'vault',
      kind: 'remote',
      pack: 'demo',
      url: 'https://vault.example.com/mcp',
      authMode: 'static',
      header: 'Authorization',
      secret,
      prefix: 'on',
    });
    expect(add.status, add.body).toBe(303);
    const page = await get(root, '/console/teams/acme');
    expect(page.body).toContain('https://vault.example.com/mcp');
    expect(text(page.body)).toContain('secret set');
    expect(text(page.body)).toContain('no calls in 24 h');
    expect(page.body).not.toContain('console-secret');
    expect((await post(root, '/console/teams/acme/tool-servers/vault/disable', { csrf })).location).toBe('/console/teams/acme?done=tool_server_disabled');
    expect((await f.tdb.db.prisma.toolServer.findFirstOrThrow({ where: { teamId: f.acme.id, name: 'vault' } })).enabled).toBe(false);
    expect((await post(root, '/console/teams/acme/tool-servers/vault/enable', { csrf })).location).toBe('/console/teams/acme?done=tool_server_enabled');
    expect((await post(root, '/console/teams/acme/tool-servers/vault/remove', { csrf })).location).toBe('/console/teams/acme?done=tool_server_removed');
    expect(await f.tdb.db.prisma.toolServer.count({ where: { teamId: f.acme.id, name: 'vault' } })).toBe(0);
    expect(f.gw.logs.text()).not.toContain('console-secret');
  });
});

describe('tool-server policy form', () => {
  it('saves a policy (CSRF-checked), shows it, applies it to a member’s live session, refuses a bad one with a 400 naming the field, clears it', async () => {
    const csrf = await csrfOf(root);
    const policy = '{"tools": {"whoami": {"roles": ["admin"]}, "gone": {"hidden": true}}}';
    expect((await post(root, '/console/teams/globex/tool-servers/demo/policy', { policy })).status).toBe(403);
    expect((await f.tdb.db.prisma.toolServer.findFirstOrThrow({ where: { teamId: f.globex.id, name: 'demo' } })).policy).toEqual({});

    const saved = await post(root, '/console/teams/globex/tool-servers/demo/policy', { csrf, policy });
    expect(saved.status, saved.body).toBe(303);
    expect(saved.location).toBe('/console/teams/globex?done=tool_server_policy_saved');
    expect((await f.tdb.db.prisma.toolServer.findFirstOrThrow({ where: { teamId: f.globex.id, name: 'demo' } })).policy).toEqual({
      tools: { whoami: { roles: ['admin'] }, gone: { hidden: true } },
    });
    const page = await get(root, '/console/teams/globex?done=tool_server_policy_saved');
    expect(text(page.body)).toContain('Policy saved');
    expect(text(page.body)).toContain('2 rules');
    expect(page.body).toContain('&quot;whoami&quot;');
    // Erin is a member of globex: her live session no longer lists (or may call) whoami.
    expect((await erin.client.listTools()).tools.map((t) => t.name)).toEqual(['demo__echo']);
    await expect(erin.client.callTool({ name: 'demo__whoami', arguments: {} })).rejects.toThrow("restricted to admins by the team's policy for tool server demo");

    const cases: [string, string, string][] = [
      ['not JSON', '{"tools": ', 'policy is not valid JSON'],
      ['bad role', '{"tools": {"whoami": {"roles": ["owner"]}}}', 'policy.tools.whoami.roles.0 must be member or admin'],
      ['unknown key', '{"tools": {"whoami": {"role": ["admin"]}}}', 'policy.tools.whoami.role unknown field'],
    ];
    for (const [name, bad, says] of cases) {
      const res = await post(root, '/console/teams/globex/tool-servers/demo/policy', { csrf, policy: bad });
      expect(res.status, name).toBe(400);
      expect(text(res.body), name).toContain(says);
    }
    expect((await post(root, '/console/teams/globex/tool-servers/ghost/policy', { csrf, policy: '{}' })).status).toBe(404);

    // An empty box clears it.
    expect((await post(root, '/console/teams/globex/tool-servers/demo/policy', { csrf, policy: '' })).status).toBe(303);
    expect((await f.tdb.db.prisma.toolServer.findFirstOrThrow({ where: { teamId: f.globex.id, name: 'demo' } })).policy).toEqual({});
    expect((await erin.client.listTools()).tools.map((t) => t.name).sort()).toEqual(['demo__echo', 'demo__whoami']);
  });
});

describe('bad input', () => {
  it('answers with a 4xx page that says what was wrong, never a 500', async () => {
    const csrf = await csrfOf(root);
    const cases: [string, () => Promise<{ status: number; body: string }>, number, string][] = [
      ['bad e-mail filter', () => get(root, '/console/sessions?user=not-an-address'), 400, 'user must be an e-mail address'],
      ['bad status', () => get(root, '/console/sessions?status=sleeping'), 400, 'status'],
      ['repeated filter', () => get(root, '/console/sessions?team=acme&team=globex'), 400, 'team'],
      ['bad cursor', () => get(root, '/console/sessions?cursor=zzz'), 400, 'cursor'],
      ['unknown team (platform admin)', () => get(root, '/console/teams/nope'), 404, 'No team nope'],
      ['bad slug', () => get(root, '/console/teams/Not_A_Slug'), 400, 'must be a team slug'],
      ['bad outcome', () => get(root, '/console/activity?outcome=exploded'), 400, 'outcome'],
      ['bad period', () => get(root, '/console/activity?period=forever'), 400, 'period'],
      ['NUL in chat', () => get(root, '/console/sessions?chat=a%00b'), 400, 'Invalid'],
      ['broken escape', () => get(root, '/console/teams/%E0%A4%A'), 400, 'Invalid'],
      ['unknown page', () => get(root, '/console/nowhere'), 404, 'no console page'],
      ['bad member e-mail', () => post(root, '/console/teams/acme/members', { csrf, email: 'nope', role: 'member' }), 400, 'email must be an e-mail address'],
      ['bad role', () => post(root, '/console/teams/acme/members', { csrf, email: 'a@example.com', role: 'owner' }), 400, 'role'],
      ['bad tool server URL', () => post(root, '/console/teams/acme/tool-servers', { csrf, name: 'x', kind: 'remote', url: 'ftp://x', authMode: 'none' }), 400, 'url must be https'],
      ['static without secret', () => post(root, '/console/teams/acme/tool-servers', { csrf, name: 'x', kind: 'remote', url: 'https://x.example.com/mcp', authMode: 'static' }), 400, 'auth.secret'],
      ['duplicate tool server', () => post(root, '/console/teams/acme/tool-servers', { csrf, name: 'demo', kind: 'builtin', pack: 'demo', prefix: 'on' }), 409, 'already has a tool server named demo'],
      ['unknown tool server', () => post(root, '/console/teams/acme/tool-servers/ghost/disable', { csrf }), 404, 'ghost'],
      ['bad session id', () => post(root, '/console/sessions/not-a-uuid/end', { csrf }), 400, 'session id'],
      ['unknown member', () => post(root, '/console/teams/acme/members/5f0c8e2a-1d3b-4c6e-8f7a-9b0c1d2e3f40/remove', { csrf }), 404, 'not a member'],
      ['unknown form', () => post(root, '/console/sessions', { csrf }), 404, 'no such form'],
    ];
    for (const [name, request, status, says] of cases) {
      const res = await request();
      expect(res.status, `${name}: ${text(res.body).slice(0, 300)}`).toBe(status);
      expect(res.body, name).toMatch(/^<!doctype html>/);
      expect(text(res.body), name).toContain(says);
    }
  });

  it('ending a session twice says it is already closed (409)', async () => {
    const temp = await mcpUser(f, 'globex', 'temp@example.com', 'chat-temp');
    const csrf = await csrfOf(root);
    expect((await post(root, `/console/sessions/${temp.sessionId}/end`, { csrf })).status).toBe(303);
    const again = await post(root, `/console/sessions/${temp.sessionId}/end`, { csrf });
    expect(again.status).toBe(409);
    expect(text(again.body)).toContain('already closed');
    await temp.client.close().catch(() => undefined);
  });
});

describe('with an external issuer', () => {
  it('says the console needs the built-in authorization server (404 page), and registers no client', async () => {
    const external = await startTestGateway(f.tdb.db, { env: { AUTH_MODE: 'external', AUTH_ISSUER: 'https://issuer.example.com' } });
    try {
      const res = await fetch(`${external.url}/console/login`, { redirect: 'manual' });
      expect(res.status).toBe(404);
      expect(text(await res.text())).toContain('AUTH_MODE=builtin');
    } finally {
      await external.close();
    }
  });
});
