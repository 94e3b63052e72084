/**
 * The per-session AsyncLocalStorage leak (the hot-path issue): Node visits every enabled AsyncLocalStorage on each
 * promise it creates, so one instance per (session, tool server) made every request slower with each session ever
 * opened. Counted, not timed: the distinct instances the process uses must not grow with the number of sessions.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tokenFor } from '../helpers/gateway.js';
import { connectClient } from '../helpers/mcp-client.js';
import { useGatewayWithUpstream } from '../fixtures/upstream-server.js';

const t = useGatewayWithUpstream({ slug: 'als', name: 'ALS' });

const used = new Set<AsyncLocalStorage<unknown>>();
const proto = AsyncLocalStorage.prototype as unknown as Record<'run' | 'enterWith' | 'exit', (...args: unknown[]) => unknown>;
const originals = { run: proto.run, enterWith: proto.enterWith, exit: proto.exit };
for (const name of ['run', 'enterWith', 'exit'] as const) {
  proto[name] = function (this: AsyncLocalStorage<unknown>, ...args: unknown[]) {
    used.add(this);
    return originals[name].apply(this, args);
  };
}
afterAll(() => Object.assign(proto, originals));

async function sessionsCallingUpstream(n: number) {
  for (let i = 0; i < n; i++) {
    const { token } = await tokenFor(t.gw, { email: `als${i}@example.com`, team: 'als' });
    const { client } = await connectClient(`${t.gw.url}/t/als/mcp`, token);
    const r = await client.callTool({ name: 'up__echo', arguments: { text: `n${i}` } });
    expect(r.content).toEqual([{ type: 'text', text: `up:n${i}` }]);
    await client.close();
  }
}

describe('async context', () => {
  it('the number of AsyncLocalStorage instances in use does not grow with sessions', async () => {
    await sessionsCallingUpstream(2);
    const afterTwo = used.size;
    expect(afterTwo).toBeGreaterThanOrEqual(1); // upstream forwarding does run in a scope
    await sessionsCallingUpstream(12);
    expect(used.size).toBe(afterTwo);
  });

  it('src/ creates exactly one AsyncLocalStorage (request-context.ts); request-scoped state adds a field there', () => {
    const root = path.resolve(import.meta.dirname, '../../src');
    const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.startsWith('generated'));
    const creators = files.filter((f) => /new AsyncLocalStorage\b/.test(readFileSync(path.join(root, f), 'utf8')));
    expect(creators).toEqual([path.join('observability', 'request-context.ts')]);
  });
});
