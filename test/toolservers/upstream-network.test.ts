/**
 * The upstream network's connect-time address check, with a resolver injected so a name can change its answer
 * between the check made when a URL was saved and the connection (a real DNS rebinding), against a real upstream
 * MCP server reached through the gateway's `UpstreamClient` (the SDK client over the network's fetch).
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListToolsResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { LogCapture } from '../helpers/gateway.js';
import { listenOnLoopback, type LoopbackServer } from '../helpers/loopback-server.js';
import { startUpstream, type UpstreamFixture } from '../fixtures/upstream-server.js';
import { createLogger } from '../../src/observability/logger.js';
import { resolveChecked, type ResolveHost, type ResolvedAddress } from '../../src/security/address-policy.js';
import { createUpstreamNetwork, type UpstreamNetwork } from '../../src/toolservers/upstream-network.js';
import { UpstreamClient, DEFAULT_UPSTREAM_TIMEOUTS } from '../../src/toolservers/upstream-client.js';
import type { SessionDownstream } from '../../src/toolservers/types.js';

const PUBLIC: ResolvedAddress = { address: '93.184.215.14', family: 4 };
const LOOPBACK: ResolvedAddress = { address: '127.0.0.1', family: 4 };

/** `rebind.example` answers public first, loopback ever after; `pinned.example` is always loopback. */
function rebindingResolver(): { resolve: ResolveHost; lookups: string[] } {
  const lookups: string[] = [];
  const resolve: ResolveHost = async (host) => {
    lookups.push(host);
    if (host === 'rebind.example') return lookups.filter((h) => h === host).length === 1 ? [PUBLIC] : [LOOPBACK];
    if (host === 'pinned.example') return [LOOPBACK];
    throw new Error(`ENOTFOUND ${host}`);
  };
  return { resolve, lookups };
}

const downstream: SessionDownstream = {
  notify: async () => undefined,
  request: async () => ({}),
  clientCapabilities: () => undefined,
  logLevel: () => undefined,
  listChanged: () => undefined,
  resourceUpdated: () => undefined,
};

let up: UpstreamFixture;
/** A plain server on loopback that counts the connections it accepts. */
let probe: LoopbackServer & { connections: number };
const logs = new LogCapture();
const logger = createLogger({ level: 'debug', destination: logs });
const networks: UpstreamNetwork[] = [];

function network(resolve: ResolveHost): UpstreamNetwork {
  const n = createUpstreamNetwork({ logger, resolve });
  networks.push(n);
  return n;
}

function client(url: string, fetch: ReturnType<UpstreamNetwork['fetchFor']>): UpstreamClient {
  return new UpstreamClient({
    name: 'up',
    url,
    credentials: { mode: 'none', headers: async () => ({}) },
    sessions: { load: async () => undefined, save: async () => undefined, forget: async () => undefined },
    downstream,
    logger,
    timeouts: DEFAULT_UPSTREAM_TIMEOUTS,
    fetch,
  });
}

const listTools = (c: UpstreamClient) => c.run({ auth: undefined, downstream: undefined }, (cl) => cl.request({ method: 'tools/list', params: {} }, ListToolsResultSchema));

beforeAll(async () => {
  up = await startUpstream('up');
  const server = http.createServer((_req, res) => res.end('reached'));
  const counted = Object.assign(await listenOnLoopback(server), { connections: 0 });
  server.on('connection', () => counted.connections++);
  probe = counted;
});
afterAll(async () => {
  await Promise.all(networks.map((n) => n.close()));
  await Promise.all([up?.close(), probe?.close()]);
});

const port = (url: string) => new URL(url).port;

describe('upstream network: addresses checked at connect time', () => {
  it('a name that was public when checked and resolves to loopback at connect time is refused; nothing reaches loopback', async () => {
    const { resolve, lookups } = rebindingResolver();
    // The check made when a team admin saved the URL: public then.
    await expect(resolveChecked('rebind.example', { allowPrivate: false, resolve })).resolves.toEqual([PUBLIC]);
    const fetch = network(resolve).fetchFor({ allowPrivateAddresses: false });
    await expect(fetch(`http://rebind.example:${port(probe.url)}/`)).rejects.toMatchObject({
      cause: { code: 'ERR_ADDRESS_REFUSED', address: '127.0.0.1' },
    });
    expect(lookups).toEqual(['rebind.example', 'rebind.example']);
    expect(probe.connections).toBe(0);
    expect(logs.text()).toContain('connection to a tool server refused: The host rebind.example resolves to a non-public address (127.0.0.1)');

    // Through the SDK client as a session uses it: the tool server fails, with no request reaching it.
    const before = up.requests.length;
    const refused = client(`http://rebind.example:${port(up.url)}/mcp`, fetch);
    await expect(listTools(refused)).rejects.toThrow();
    expect(up.requests.length).toBe(before);
    await refused.close();
  });

  it('IP literals are checked too (net.connect never looks them up)', async () => {
    const fetch = network(rebindingResolver().resolve).fetchFor({ allowPrivateAddresses: false });
    for (const url of [probe.url, probe.url.replace('127.0.0.1', '[::1]'), probe.url.replace('127.0.0.1', '[::ffff:127.0.0.1]')]) {
      await expect(fetch(url), url).rejects.toMatchObject({ cause: { code: 'ERR_ADDRESS_REFUSED' } });
    }
    expect(probe.connections).toBe(0);
  });

  it('an approved URL reaches a private address, over the address the resolver checked (pinned, not resolved again)', async () => {
    const { resolve, lookups } = rebindingResolver();
    const approved = client(`http://pinned.example:${port(up.url)}/mcp`, network(resolve).fetchFor({ allowPrivateAddresses: true }));
    const { tools } = await listTools(approved);
    expect(tools.map((t) => t.name)).toContain('echo');
    // The operating system cannot resolve pinned.example: the connection went to the address our lookup returned.
    expect(lookups.every((h) => h === 'pinned.example')).toBe(true);
    await approved.close();
  });
});
