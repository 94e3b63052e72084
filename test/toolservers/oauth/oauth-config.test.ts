/**
 * Configuring auth mode `oauth` through the admin API: a pre-registered client secret is write-only (sealed at
 * rest, never answered or logged) and kept by changes that do not resend it — unless the client or the URL changes;
 * bad settings are 400s naming the field. Also the gateway's Client ID Metadata Document.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolServerJson } from '../../../src/admin/response-schemas.js';
import { startAdminFixture, type AdminFixture } from '../../admin/admin-fixture.js';

const SECRET = 'oauth-client-secret-DO-NOT-LEAK-1234';
let f: AdminFixture;
beforeAll(async () => {
  f = await startAdminFixture();
  await f.call('POST', '/teams', { body: { slug: 'oauthcfg', name: 'OAuth config' } });
});
afterAll(async () => {
  await f?.close();
});

const row = (name: string) => f.tdb.db.prisma.toolServer.findFirstOrThrow({ where: { name, team: { slug: 'oauthcfg' } } });
const fields = (body: { error: { details?: { field: string }[] } }) => (body.error.details ?? []).map((d) => d.field).sort();

describe('auth mode oauth', () => {
  it('stores a pre-registered client with its secret sealed and write-only; changes without the secret keep it', async () => {
    const body = { name: 'github', kind: 'remote', url: 'https://mcp.example.com/mcp', auth: { mode: 'oauth', clientId: 'sb-client', clientSecret: SECRET, scopes: ['repo', 'read:org'] } };
    const res = await f.call('POST', '/teams/oauthcfg/tool-servers', { body });
    expect(res.status).toBe(201);
    expect(res.body.auth).toEqual({ mode: 'oauth', clientId: 'sb-client', scopes: ['repo', 'read:org'], secretSet: true });
    toolServerJson.parse(res.body);
    const stored = await row('github');
    expect(stored.secretEncrypted).toMatch(/^v1\./);
    expect(f.gw.app.box.open(stored.secretEncrypted!)).toBe(SECRET);

    expect((await f.call('PATCH', '/teams/oauthcfg/tool-servers/github', { body: { enabled: false } })).body.auth).toMatchObject({ secretSet: true, clientId: 'sb-client' });
    expect((await f.call('PATCH', '/teams/oauthcfg/tool-servers/github', { body: { auth: { mode: 'oauth', clientId: 'sb-client', scopes: ['repo'] } } })).body.auth).toEqual({
      mode: 'oauth',
      clientId: 'sb-client',
      scopes: ['repo'],
      secretSet: true,
    });
    expect(f.gw.app.box.open((await row('github')).secretEncrypted!)).toBe(SECRET);
    // Another client or another URL: the old secret is not carried along.
    expect((await f.call('PATCH', '/teams/oauthcfg/tool-servers/github', { body: { url: 'https://other.example.com/mcp' } })).body.auth).toMatchObject({ secretSet: false });

    const everything = JSON.stringify((await f.call('GET', '/teams/oauthcfg/tool-servers')).body) + f.gw.logs.text();
    expect(everything).not.toContain(SECRET);
  });

  it('refuses a secret without a client id, bad scopes and unknown fields, naming each', async () => {
    const post = (auth: unknown) => f.call('POST', '/teams/oauthcfg/tool-servers', { body: { name: 'bad', kind: 'remote', url: 'https://mcp.example.com/mcp', auth } });
    const noId = await post({ mode: 'oauth', clientSecret: 'x' });
    expect(noId.status).toBe(400);
    expect(fields(noId.body)).toEqual(['auth.clientSecret']);
    const badScope = await post({ mode: 'oauth', scopes: ['has space'] });
    expect(badScope.status).toBe(400);
    expect(fields(badScope.body)).toEqual(['auth.scopes.0']);
    const unknown = await post({ mode: 'oauth', header: 'X-Key' });
    expect(unknown.status).toBe(400);
    expect(await f.tdb.db.prisma.toolServer.count({ where: { name: 'bad' } })).toBe(0);
  });

  it('serves the gateway’s Client ID Metadata Document at a stable URL, its URL being its client id', async () => {
    const res = await fetch(`${f.gw.url}/oauth/upstream/client-metadata.json`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      client_id: `${f.gw.url}/oauth/upstream/client-metadata.json`,
      redirect_uris: [`${f.gw.url}/oauth/upstream/callback`],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
    });
  });
});
