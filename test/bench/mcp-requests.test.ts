/**
 * The load generator's requests (`bench/mcp-requests.ts`) for both protocol eras, sent to real parts — an SDK v1
 * upstream (legacy), an SDK v2 modern-only upstream, and the gateway with a modern client in front of a modern
 * upstream (the `BENCH_CLIENT_ERA=modern BENCH_UPSTREAM_ERA=modern` configuration) — so a bench run never finds out
 * first that one of them is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answer, benchEra, callBody, DISCOVER_BODY, INIT_BODY, INITIALIZED_BODY, LEGACY_PROTOCOL, listBody, modernHeaders, type Reply } from '../../bench/mcp-requests.js';
import { startModernUpstream, type ModernUpstreamFixture } from '../fixtures/modern-upstream.js';
import { startUpstream, type UpstreamFixture } from '../fixtures/upstream-server.js';
import { tokenFor, useTestGateway } from '../helpers/gateway.js';
import { createTeam } from '../../src/teams/team-admin.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';

const BASE = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

async function post(url: string, headers: Record<string, string>, body: string): Promise<Reply> {
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, sid: res.headers.get('mcp-session-id') ?? undefined, body: await res.text() };
}

const t = useTestGateway();
let modern: ModernUpstreamFixture;
let legacy: UpstreamFixture;
beforeAll(async () => {
  [modern, legacy] = await Promise.all([startModernUpstream(), startUpstream('echo')]);
  const team = await createTeam(t.tdb.db.prisma, { slug: 'bench', name: 'Bench' });
  await addToolServer(t.tdb.db.prisma, t.gw.app.box, team.id, { name: 'up', kind: 'remote', url: modern.url, prefix: false, auth: { mode: 'none' } });
});
afterAll(async () => {
  await Promise.all([modern?.close(), legacy?.close()]);
});

describe('the bench’s protocol eras', () => {
  it('BENCH_*_ERA: legacy by default, modern when asked, anything else refused by name', () => {
    expect(benchEra('BENCH_CLIENT_ERA', undefined)).toBe('legacy');
    expect(benchEra('BENCH_CLIENT_ERA', 'modern')).toBe('modern');
    expect(() => benchEra('BENCH_UPSTREAM_ERA', 'both')).toThrow(/BENCH_UPSTREAM_ERA must be legacy or modern/);
  });

  it('builds legacy and modern bodies that differ only where the eras do', () => {
    expect(JSON.parse(callBody('legacy', 7))).toEqual({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hello' } } });
    expect(JSON.parse(callBody('modern', 7))).toEqual({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: {
        name: 'echo',
        arguments: { text: 'hello' },
        _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} },
      },
    });
    expect(modernHeaders({ a: 'b' }, 'tools/call', 'echo')).toEqual({ a: 'b', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' });
    expect(() => answer({ status: 200, sid: undefined, body: '{"jsonrpc":"2.0","id":3,"result":{"resultType":"input_required"}}' }, 3)).toThrow(/input_required/);
  });

  it('reads an answer after the priming event the gateway opens a resumable stream with (empty data)', () => {
    const body = 'id: s1:0\nretry: 1000\ndata: \n\nevent: message\nid: s1:1\ndata: {"jsonrpc":"2.0","id":2,"result":{"content":[]}}\n\n';
    expect(answer({ status: 200, body } as Reply, 2)).toEqual({ jsonrpc: '2.0', id: 2, result: { content: [] } });
  });

  it('legacy requests: a real SDK v1 upstream answers the handshake, the list and the call', async () => {
    const init = await post(legacy.url, BASE, INIT_BODY);
    answer(init, 0);
    const headers = { ...BASE, 'mcp-session-id': init.sid!, 'mcp-protocol-version': LEGACY_PROTOCOL };
    expect((await post(legacy.url, headers, INITIALIZED_BODY)).status).toBe(202);
    expect((await post(legacy.url, headers, listBody('legacy'))).body).toContain('"echo"');
    const call = await post(legacy.url, headers, callBody('legacy', 2));
    expect(answer(call, 2).result).toMatchObject({ content: [{ type: 'text', text: 'echo:hello' }] });
  });

  it('modern requests: a real modern-only upstream, and the gateway in front of it, answer discover, the list and the call', async () => {
    const { token } = await tokenFor(t.gw, { email: 'bench@example.com', team: 'bench' });
    const targets = [
      { url: modern.url, base: BASE },
      { url: `${t.gw.url}/t/bench/mcp`, base: { ...BASE, authorization: `Bearer ${token}`, 'x-chat-id': 'bench-1' } },
    ];
    for (const { url, base } of targets) {
      const discovered = answer(await post(url, modernHeaders(base, 'server/discover'), DISCOVER_BODY), 0);
      expect(discovered.result).toMatchObject({ resultType: 'complete', supportedVersions: expect.arrayContaining(['2026-07-28']) });
      const list = await post(url, modernHeaders(base, 'tools/list'), listBody('modern'));
      answer(list, 1);
      expect(list.body).toContain('"echo"');
      const call = answer(await post(url, modernHeaders(base, 'tools/call', 'echo'), callBody('modern', 2)), 2);
      expect(call.result).toMatchObject({ content: [{ type: 'text', text: 'modern:hello' }] });
    }
    expect(modern.requests.map((r) => r.rpcMethod)).not.toContain('initialize');
  });
});
