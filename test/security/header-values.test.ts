/**
 * Issue #9 item 4: values that end up in an HTTP header toward a tool server (the static header name and secret)
 * and the tool server's URL are refused at validation when they hold CR, LF or other characters a header or a URL
 * cannot carry, with a 400 naming the field — on POST and on PATCH — and nothing is stored. A row stored before
 * this validation existed leaves its tool server out without putting the secret in the log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenFor } from '../helpers/gateway.js';
import { connectClient } from '../helpers/mcp-client.js';
import { startUpstream } from '../fixtures/upstream-server.js';
import { startAdminFixture, type AdminFixture } from '../admin/admin-fixture.js';

let f: AdminFixture;
beforeAll(async () => {
  f = await startAdminFixture();
  const res = await f.call('POST', '/teams/acme/tool-servers', {
    as: 'apiKey',
    body: { name: 'keyed', kind: 'remote', url: 'https://mcp.example.com/mcp', auth: { mode: 'static', header: 'X-Api-Key', secret: 'original-secret' } },
  });
  expect(res.status).toBe(201);
});
afterAll(async () => {
  await f?.close();
});

const URL_OK = 'https://mcp.example.com/mcp';
const fields = (body: { error: { details?: { field: string }[] } }) => (body.error.details ?? []).map((d) => d.field).sort();
const stat = (auth: Record<string, string>) => ({ mode: 'static', ...auth });

describe('POST /teams/{team}/tool-servers refuses what cannot go into a header or a URL', () => {
  it.each([
    ['a secret with CR LF (header injection)', { url: URL_OK, auth: stat({ secret: 'token\r\nX-Injected: 1' }) }, 'auth.secret'],
    ['a secret with a bare LF', { url: URL_OK, auth: stat({ secret: 'token\nmore' }) }, 'auth.secret'],
    ['a secret with a NUL', { url: URL_OK, auth: stat({ secret: 'tok\u0000en' }) }, 'auth.secret'],
    ['a secret with a tab or DEL', { url: URL_OK, auth: stat({ secret: 'tok\ten\u007f' }) }, 'auth.secret'],
    ['a secret with a leading space', { url: URL_OK, auth: stat({ secret: ' Bearer x' }) }, 'auth.secret'],
    ['a secret with non-ASCII characters', { url: URL_OK, auth: stat({ secret: 'Bearer p\u00e4ss\u20ac' }) }, 'auth.secret'],
    ['a header name with CR LF', { url: URL_OK, auth: stat({ header: 'X-Key\r\nX-Injected', secret: 'ok' }) }, 'auth.header'],
    ['a header name with a colon', { url: URL_OK, auth: stat({ header: 'X-Key: 1', secret: 'ok' }) }, 'auth.header'],
    ['a header the transport sets (Host)', { url: URL_OK, auth: stat({ header: 'Host', secret: 'evil.internal' }) }, 'auth.header'],
    ['a header the transport sets (Mcp-Session-Id)', { url: URL_OK, auth: stat({ header: 'mcp-session-id', secret: 'x' }) }, 'auth.header'],
    ['a URL with CR LF (silently dropped by the URL parser)', { url: 'https://mcp.exa\r\nmple.com/mcp' }, 'url'],
    ['a URL with a tab', { url: 'https://mcp.example.com/m\tcp' }, 'url'],
    ['a URL with a space', { url: 'https://mcp.example.com/m cp' }, 'url'],
    ['a URL with a trailing space', { url: `${URL_OK} ` }, 'url'],
    ['an overlong URL', { url: `${URL_OK}?${'a'.repeat(2100)}` }, 'url'],
  ])('%s → 400 invalid_body naming %s; nothing stored', async (_what, settings, field) => {
    const before = await f.tdb.db.prisma.toolServer.count();
    const res = await f.call('POST', '/teams/acme/tool-servers', { as: 'teamAdmin', body: { name: 'bad', kind: 'remote', ...settings } });
    expect([res.status, res.body.error.code, fields(res.body)]).toEqual([400, 'invalid_body', [field]]);
    expect(res.body.error.message).toContain(field);
    expect(await f.tdb.db.prisma.toolServer.count()).toBe(before);
  });

  it('an ordinary secret with spaces inside (e.g. "Bearer …") and an X- header are accepted', async () => {
    const res = await f.call('POST', '/teams/acme/tool-servers', {
      as: 'apiKey',
      body: { name: 'fine', kind: 'remote', url: URL_OK, auth: stat({ header: 'X-Custom-Auth', secret: 'Bearer abc.DEF-123_~+/=' }) },
    });
    expect(res.status).toBe(201);
    expect(res.body.auth).toEqual({ mode: 'static', header: 'X-Custom-Auth', secretSet: true });
  });
});

describe('PATCH refuses them too and keeps what was stored', () => {
  it.each([
    ['a new secret with CR LF', { auth: stat({ secret: 'rotated\r\nX-Injected: 1' }) }, 'auth.secret'],
    ['a new header name with CR LF (keeping the secret)', { auth: stat({ header: 'X-Api-Key\r\nX-Injected' }) }, 'auth.header'],
    ['a reserved header name (keeping the secret)', { auth: stat({ header: 'Content-Length' }) }, 'auth.header'],
    ['a URL with a line break', { url: 'https://mcp.example.com/\nmcp', auth: stat({ secret: 'new-secret' }) }, 'url'],
  ])('%s → 400 naming %s', async (_what, patch, field) => {
    const before = await f.tdb.db.prisma.toolServer.findFirstOrThrow({ where: { teamId: f.acme.id, name: 'keyed' } });
    const res = await f.call('PATCH', '/teams/acme/tool-servers/keyed', { as: 'apiKey', body: patch });
    expect([res.status, res.body.error.code, fields(res.body)]).toEqual([400, 'invalid_body', [field]]);
    expect(await f.tdb.db.prisma.toolServer.findFirstOrThrow({ where: { teamId: f.acme.id, name: 'keyed' } })).toEqual(before);
  });

  it('a PATCH that keeps the stored secret still works (the secret is not re-validated as a placeholder)', async () => {
    const res = await f.call('PATCH', '/teams/acme/tool-servers/keyed', { as: 'apiKey', body: { auth: stat({ header: 'Authorization' }) } });
    expect([res.status, res.body.auth]).toEqual([200, { mode: 'static', header: 'Authorization', secretSet: true }]);
    const row = await f.tdb.db.prisma.toolServer.findFirstOrThrow({ where: { teamId: f.acme.id, name: 'keyed' } });
    expect(f.gw.app.box.open(row.secretEncrypted!)).toBe('original-secret');
  });

  it('no refused secret was echoed, and nothing answered 500', () => {
    const everything = f.seen.join('\n');
    expect(everything).not.toContain('X-Injected: 1');
    expect(everything).not.toContain('original-secret');
    expect(f.seen.filter((r) => r.startsWith('5'))).toEqual([]);
  });
});

describe('a tool server stored before this validation existed', () => {
  it('is left out of the session with a log line that does not quote the secret', async () => {
    const up = await startUpstream('legacy');
    try {
      const prisma = f.tdb.db.prisma;
      await prisma.toolServer.create({
        data: { teamId: f.acme.id, name: 'legacy', kind: 'remote', url: up.url, authMode: 'static', authHeader: 'X-Api-Key', secretEncrypted: f.gw.app.box.seal('legacy-SECRET\r\nX-Smuggled: 1') },
      });
      const { token } = await tokenFor(f.gw, { email: 'carol@example.com', team: 'acme' });
      const { client } = await connectClient(`${f.gw.url}/t/acme/mcp`, token);
      try {
        const names = (await client.listTools()).tools.map((t) => t.name);
        expect(names.some((n) => n.startsWith('demo__'))).toBe(true);
        expect(names.some((n) => n.startsWith('legacy__'))).toBe(false);
      } finally {
        await client.close();
      }
      expect(up.requests).toEqual([]);
      const logs = f.gw.logs.text();
      expect(logs).not.toContain('legacy-SECRET');
      expect(logs).toContain('the stored static secret is not a valid HTTP header value');
    } finally {
      await up.close();
    }
  });
});
