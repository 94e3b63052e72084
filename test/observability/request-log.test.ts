/**
 * The access log (`observability/request-log.ts`): one line per request with its id, method, path (no query),
 * status and time — debug for 2xx, info for 4xx — and lines logged through `req.log` carry the request id.
 */
import { describe, expect, it, vi } from 'vitest';
import { tokenFor, useTestGateway } from '../helpers/gateway.js';
import { INIT, rawPost } from '../helpers/mcp-client.js';

const t = useTestGateway();

const lines = () => t.gw.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
const linesOf = (id: string) => lines().filter((l) => (l.req as { id?: string } | undefined)?.id === id);

describe('access log', () => {
  it('logs a completed request with its id, method, path without the query, status and time', async () => {
    const res = await fetch(`${t.gw.url}/health?probe=1`, { headers: { 'x-request-id': 'log-test.1' } });
    expect(res.headers.get('x-request-id')).toBe('log-test.1');
    // /health is not logged; an API route is.
    const api = await fetch(`${t.gw.url}/t/demo/sessions?x=1`, { headers: { 'x-request-id': 'log-test.2' } });
    expect(api.status).toBe(401);
    await vi.waitFor(() => expect(linesOf('log-test.2').length).toBeGreaterThan(0));
    expect(linesOf('log-test.1')).toEqual([]);
    const [line] = linesOf('log-test.2').filter((l) => l.msg === 'request completed');
    expect(line).toMatchObject({ level: 30, req: { id: 'log-test.2', method: 'GET', url: '/t/demo/sessions' }, res: { statusCode: 401 } });
    expect(typeof line!.responseTime).toBe('number');
  });

  it('logs a 2xx at debug and makes up an id when the given one is not well-formed', async () => {
    const res = await fetch(`${t.gw.url}/.well-known/oauth-protected-resource/t/demo/mcp`, { headers: { 'x-request-id': 'not ok!' } });
    expect(res.status).toBe(200);
    const id = res.headers.get('x-request-id')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await vi.waitFor(() => expect(linesOf(id).some((l) => l.msg === 'request completed')).toBe(true));
    expect(linesOf(id).find((l) => l.msg === 'request completed')).toMatchObject({ level: 20, res: { statusCode: 200 } });
  });

  it('every line written while serving a request names the request, its caller and its session (the request context)', async () => {
    const { token, userId } = await tokenFor(t.gw, { email: 'context@example.com', clientId: 'ctx-client' });
    const init = await rawPost(`${t.gw.url}/t/demo/mcp`, INIT, { authorization: `Bearer ${token}` });
    const sid = init.headers.get('mcp-session-id')!;
    await init.text();
    // Out of memory: the next request rebuilds it from its row, and says so in a line of its own.
    t.gw.app.sessions.evict(sid);
    const res = await rawPost(`${t.gw.url}/t/demo/mcp`, { jsonrpc: '2.0', id: 2, method: 'ping' }, {
      authorization: `Bearer ${token}`,
      'mcp-session-id': sid,
      'mcp-protocol-version': INIT.params.protocolVersion,
      'x-request-id': 'ctx-test.1',
    });
    expect(res.status).toBe(200);
    await res.text();
    const line = lines().find((l) => l.msg === 'session rehydrated' && l.sessionId === sid);
    expect(line).toMatchObject({ requestId: 'ctx-test.1', team: 'demo', userId, clientId: 'ctx-client', sessionId: sid });
    // Outside a request nothing of one is added.
    t.gw.app.logger.info('not in a request');
    expect(lines().find((l) => l.msg === 'not in a request')).not.toHaveProperty('requestId');
  });
});
