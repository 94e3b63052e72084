/**
 * The dev login and `/dev/token` serve connections from this machine only. The gateway is also served on 0.0.0.0
 * and reached through this machine's own non-loopback address: the request is local to the test but its socket
 * address is not loopback, exactly what another host reaching a published port looks like — even when it sends the
 * Host header of the loopback PUBLIC_URL.
 */
import http from 'node:http';
import { networkInterfaces } from 'node:os';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestGateway } from '../helpers/gateway.js';
import { authorizeUrl, FetchBrowser, hiddenField, newPkce, registerClient } from '../helpers/oauth-client.js';
import { isLoopbackAddress } from '../../src/http/loopback-socket.js';

/** An IPv4 address of this machine that is not loopback (the test only ever connects to this machine). */
const ownAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a?.family === 'IPv4' && !a.internal)?.address;

const REDIRECT = 'https://app.example.com/cb';
const t = useTestGateway();

interface Reply {
  status: number;
  body: string;
}

/** One request over a real TCP connection to `address:port`, with the Host header of the gateway's PUBLIC_URL. */
function send(address: string, port: number, req: { method: string; path: string; headers?: Record<string, string>; body?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: address, port, method: req.method, path: req.path, headers: { host: new URL(t.gw.url).host, ...req.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    r.on('error', reject);
    r.end(req.body);
  });
}

describe.skipIf(!ownAddress)('the dev login answers loopback connections only (needs a non-loopback address on this machine)', () => {
  let everywhere: http.Server;
  let port: number;
  beforeAll(async () => {
    everywhere = http.createServer(t.gw.app.express);
    await new Promise<void>((r) => everywhere.listen(0, '0.0.0.0', () => r()));
    port = (everywhere.address() as AddressInfo).port;
  });
  afterAll(async () => {
    everywhere?.closeAllConnections();
    await new Promise((r) => everywhere?.close(r));
  });

  /** A sign-in started by a real client: the login transaction cookie and the login form's CSRF token. */
  async function startSignIn(): Promise<{ cookie: string; csrf: string }> {
    const reg = await registerClient(t.gw.url, { client_name: 'Remote', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
    const browser = new FetchBrowser(() => false);
    const page = await browser.navigate(authorizeUrl(t.gw.url, { client_id: reg.body.client_id as string, redirect_uri: REDIRECT, code_challenge: newPkce().challenge, resource: `${t.gw.url}/t/demo/mcp` }));
    if ('redirect' in page) throw new Error('no login page');
    return { cookie: browser.jar.header(), csrf: hiddenField(page.body, 'csrf')! };
  }

  const postLogin = (address: string, at: number, s: { cookie: string; csrf: string }, extra: Record<string, string> = {}) =>
    send(address, at, {
      method: 'POST',
      path: '/login',
      headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded', ...extra },
      body: new URLSearchParams({ csrf: s.csrf, email: 'intruder@example.com' }).toString(),
    });

  it('GET and POST /login from a non-loopback address get 403, with the loopback Host header', async () => {
    const s = await startSignIn();
    const page = await send(ownAddress!, port, { method: 'GET', path: '/login', headers: { cookie: s.cookie } });
    expect(page.status).toBe(403);
    expect(page.body).toContain('only serves the machine the gateway runs on');
    expect(page.body).not.toContain('type="email"');
    const post = await postLogin(ownAddress!, port, s);
    expect(post.status).toBe(403);
    expect(await t.tdb.db.prisma.user.count({ where: { email: 'intruder@example.com' } })).toBe(0);
  });

  it('the same sign-in from loopback goes on to consent; relayed through a local proxy it is refused', async () => {
    const s = await startSignIn();
    expect((await postLogin('127.0.0.1', port, s, { 'x-forwarded-for': '198.51.100.7' })).status).toBe(403);
    expect((await postLogin('127.0.0.1', port, s, { forwarded: 'for=198.51.100.7' })).status).toBe(403);
    const ok = await postLogin('127.0.0.1', port, s);
    expect(ok.status).toBe(303);
  });

  it('/dev/token from a non-loopback address gets 403; from loopback a token', async () => {
    const req = { method: 'POST', path: '/dev/token', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'me@example.com' }) };
    const remote = await send(ownAddress!, port, req);
    expect(remote.status).toBe(403);
    expect(JSON.parse(remote.body).error.code).toBe('forbidden');
    const local = await send('127.0.0.1', port, req);
    expect(local.status).toBe(200);
    expect(JSON.parse(local.body).access_token).toBeTruthy();
  });

  it('the CLI\'s read endpoints (/dev/teams…) from a non-loopback address get 403; from loopback the data', async () => {
    for (const path of ['/dev/teams', '/dev/teams/demo/members', '/dev/teams/demo/tool-servers']) {
      const remote = await send(ownAddress!, port, { method: 'GET', path, headers: {} });
      expect(remote.status, path).toBe(403);
      expect(JSON.parse(remote.body).error.code).toBe('forbidden');
      const local = await send('127.0.0.1', port, { method: 'GET', path, headers: {} });
      expect(local.status, path).toBe(200);
      expect(JSON.parse(local.body).items).toBeInstanceOf(Array);
    }
  });
});

describe('isLoopbackAddress', () => {
  it('is true for 127.0.0.0/8, ::1 and IPv4-mapped loopback; false for anything else', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1', '::ffff:127.1.2.3']) expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of [undefined, '', '192.0.2.2', '::ffff:192.0.2.2', '10.0.0.1', 'fd00::2', '0.0.0.0', '::', 'localhost']) expect(isLoopbackAddress(a), String(a)).toBe(false);
  });
});
