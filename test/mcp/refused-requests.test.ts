/**
 * Requests the MCP endpoint refuses leave nothing behind and say what was wrong, never the database's words:
 * text PostgreSQL cannot store, an `initialize` sent as a notification, JSON that is not JSON-RPC. And the
 * session cache never evicts a session that is serving a stream.
 */
import { describe, expect, it } from 'vitest';
import { tokenFor, useTestGateway } from '../helpers/gateway.js';
import { rawPost, INIT } from '../helpers/mcp-client.js';

const t = useTestGateway({ env: { SESSION_CACHE_SIZE: '2' } });
const endpoint = () => `${t.gw.url}/t/demo/mcp`;
const INTERNAL = /prisma|postgres|22P05|22021|invalid byte|unsupported Unicode|driver|stack|at \//i;

async function refused(body: string, email: string) {
  const { token, userId } = await tokenFor(t.gw, { email });
  const res = await fetch(endpoint(), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body,
  });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) as { error: { code: number; message: string; data?: unknown } }, userId };
}

const initWith = (params: string) => `{"jsonrpc":"2.0","id":1,"method":"initialize","params":${params}}`;

describe('initialize params PostgreSQL cannot store', () => {
  const cases = [
    ['a NUL in clientInfo.name', initWith('{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"a\\u0000b","version":"1"}}'), 'params.clientInfo.name'],
    ['a lone surrogate in clientInfo.name', initWith('{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x\\ud800","version":"1"}}'), 'params.clientInfo.name'],
    ['a key named __proto__ in capabilities', initWith('{"protocolVersion":"2025-11-25","capabilities":{"x":{"__proto__":null}},"clientInfo":{"name":"n","version":"1"}}'), 'params.capabilities.x.__proto__'],
    ['a NUL in a capabilities key', initWith('{"protocolVersion":"2025-11-25","capabilities":{"ex\\u0000p":{}},"clientInfo":{"name":"n","version":"1"}}'), 'params.capabilities.ex'],
  ] as const;
  for (const [name, body, path] of cases) {
    it(`${name}: 400 Invalid params naming the field, no internal text, no row`, async () => {
      const r = await refused(body, `nul-${name.length}@example.com`);
      expect(r.status).toBe(400);
      expect(r.json.error.code).toBe(-32600);
      expect(r.json.error.message).toContain(path);
      expect(r.json.error.data).toBeUndefined();
      expect(r.text).not.toMatch(INTERNAL);
      expect(r.json.error.message).not.toMatch(/parse error/i);
      expect(await t.tdb.db.prisma.session.count({ where: { userId: r.userId } })).toBe(0);
    });
  }
});

describe('bodies that are not what they claim', () => {
  it('an initialize without an id (a notification) is refused and stores nothing', async () => {
    const r = await refused(JSON.stringify({ jsonrpc: '2.0', method: 'initialize', params: INIT.params }), 'noid@example.com');
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/initialize must be a request with an id/);
    expect(await t.tdb.db.prisma.session.count({ where: { userId: r.userId } })).toBe(0);
  });

  it('valid JSON that is not JSON-RPC is an invalid request, not a parse error, and creates no session', async () => {
    for (const body of ['{}', '42', '"x"', '[]', '{"jsonrpc":"1.0","id":1,"method":"tools/list"}', '{"jsonrpc":"2.0","id":{},"method":"tools/list"}']) {
      const r = await refused(body, 'notrpc@example.com');
      expect(r.status, body).toBe(400);
      expect(r.json.error.code, body).toBe(-32600);
    }
    const { userId } = await tokenFor(t.gw, { email: 'notrpc@example.com' });
    expect(await t.tdb.db.prisma.session.count({ where: { userId } })).toBe(0);
  });
});

describe('the session cache (SESSION_CACHE_SIZE=2)', () => {
  it('never evicts a session that holds an open stream: it keeps receiving notifications', async () => {
    const { token } = await tokenFor(t.gw, { email: 'streamer@example.com', clientId: 'streamer' });
    const auth = { authorization: `Bearer ${token}` };
    const init = await rawPost(endpoint(), INIT, auth);
    const sid = init.headers.get('mcp-session-id')!;
    await init.text();
    const headers = { ...auth, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
    await (await rawPost(endpoint(), { jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).text();
    const stream = await fetch(endpoint(), { headers: { ...headers, accept: 'text/event-stream' } });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();

    // Three more sessions (other users) push the cache past its capacity.
    for (const email of ['c1@example.com', 'c2@example.com', 'c3@example.com']) {
      const other = await tokenFor(t.gw, { email });
      await (await rawPost(endpoint(), INIT, { authorization: `Bearer ${other.token}` })).text();
    }
    const team = await t.tdb.db.prisma.team.findUniqueOrThrow({ where: { slug: 'demo' } });
    const held = t.gw.app.sessions.liveSessionsOfTeam(team.id).map((s) => s.id);
    expect(held).toContain(sid);
    expect(held.length).toBeLessThanOrEqual(2); // the idle ones were evicted instead

    // The stream is alive: a tool-server change reaches it as tools/list_changed.
    await t.gw.app.sessions.toolsChanged(team.id);
    let text = '';
    while (!text.includes('notifications/tools/list_changed')) {
      const { value, done } = await reader.read();
      expect(done).toBe(false);
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
  });
});
