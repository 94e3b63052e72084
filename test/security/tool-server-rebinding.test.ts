/**
 * DNS rebinding of tool-server URLs, through the whole gateway: a URL a team admin saved is checked again at every
 * connection, so once its name resolves to a private address (here `localhost`, as a rebound name would) the
 * connection is refused — nothing reaches the private address, the other tool servers keep working, the refusal is
 * logged, and the client sees no error. A URL a platform admin approved still connects; a platform admin approves a
 * URL by sending it, toggling approves nothing, and a team admin's new URL is not approved.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFor } from '../helpers/gateway.js';
import { connectClient } from '../helpers/mcp-client.js';
import { startUpstream, type UpstreamFixture } from '../fixtures/upstream-server.js';
import { startAdminFixture, type AdminFixture } from '../admin/admin-fixture.js';
import { addToolServer } from '../../src/toolservers/tool-server-config.js';

let f: AdminFixture;
let good: UpstreamFixture;
let rebound: UpstreamFixture;
let approved: UpstreamFixture;
/** `http://localhost:<port>/mcp` for a fixture listening on 127.0.0.1. */
const viaLocalhost = (u: UpstreamFixture) => u.url.replace('127.0.0.1', 'localhost');
const TEAM_ADMIN = { approvesPrivateAddresses: false };

beforeAll(async () => {
  f = await startAdminFixture();
  [good, rebound, approved] = await Promise.all([startUpstream('good'), startUpstream('rebound'), startUpstream('approved')]);
  const prisma = f.tdb.db.prisma;
  await addToolServer(prisma, f.gw.app.box, f.acme.id, { name: 'good', kind: 'remote', url: good.url, auth: { mode: 'none' } });
  // Saved as the admin API saves a team admin's URL (its name was public then); it now resolves to loopback.
  await addToolServer(prisma, f.gw.app.box, f.acme.id, { name: 'rebound', kind: 'remote', url: viaLocalhost(rebound), auth: { mode: 'none' } }, TEAM_ADMIN);
  const res = await f.call('POST', '/teams/acme/tool-servers', { as: 'platform', body: { name: 'approved', kind: 'remote', url: viaLocalhost(approved), auth: { mode: 'none' } } });
  expect(res.status).toBe(201);
});
afterAll(async () => {
  await f?.close();
  await Promise.all([good?.close(), rebound?.close(), approved?.close()]);
});

const stored = (name: string) => f.tdb.db.prisma.toolServer.findUniqueOrThrow({ where: { teamId_name: { teamId: f.acme.id, name } } });

async function toolNames(): Promise<string[]> {
  const { token } = await tokenFor(f.gw, { email: 'carol@example.com', team: 'acme' });
  const { client } = await connectClient(`${f.gw.url}/t/acme/mcp`, token);
  try {
    const { tools } = await client.listTools();
    const echoed = await client.callTool({ name: 'good__echo', arguments: { text: 'hi' } });
    expect(echoed.content).toEqual([{ type: 'text', text: 'good:hi' }]);
    return tools.map((t) => t.name);
  } finally {
    await client.close();
  }
}

describe('tool-server addresses are checked at connect time', () => {
  it('a team admin’s URL whose name now resolves to loopback is refused, isolated and logged; an approved one connects', async () => {
    const names = await toolNames();
    expect(names).toContain('good__echo');
    expect(names).toContain('approved__echo');
    expect(names.filter((n) => n.startsWith('rebound__'))).toEqual([]);
    expect(rebound.requests).toEqual([]);
    expect(f.gw.logs.text()).toMatch(/connection to a tool server refused: The host localhost resolves to a non-public address \((127\.0\.0\.1|::1)\)/);
  });

  it('the approval follows who sent the URL: a platform admin approves it, a team admin’s new URL is not approved', async () => {
    expect((await stored('approved')).allowPrivateAddresses).toBe(true);
    expect((await stored('rebound')).allowPrivateAddresses).toBe(false);

    // A team admin may still toggle a tool server without touching its approval…
    const toggled = await f.call('PATCH', '/teams/acme/tool-servers/approved', { as: 'teamAdmin', body: { prefix: true } });
    expect(toggled.status).toBe(200);
    expect((await stored('approved')).allowPrivateAddresses).toBe(true);
    // …a platform admin's toggle approves nothing, but sending the URL again approves it.
    const toggledByPlatform = await f.call('PATCH', '/teams/acme/tool-servers/rebound', { as: 'platform', body: { enabled: true } });
    expect(toggledByPlatform.status).toBe(200);
    expect((await stored('rebound')).allowPrivateAddresses).toBe(false);
    const byPlatform = await f.call('PATCH', '/teams/acme/tool-servers/rebound', { as: 'platform', body: { url: viaLocalhost(rebound) } });
    expect(byPlatform.status).toBe(200);
    expect((await stored('rebound')).allowPrivateAddresses).toBe(true);
    expect(await toolNames()).toContain('rebound__echo');

    // A new URL from a team admin (public when saved) is not approved.
    const moved = await f.call('PATCH', '/teams/acme/tool-servers/rebound', { as: 'teamAdmin', body: { url: 'https://93.184.215.14/mcp' } });
    expect(moved.status).toBe(200);
    expect((await stored('rebound')).allowPrivateAddresses).toBe(false);
  });
});
