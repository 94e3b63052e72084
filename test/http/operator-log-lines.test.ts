/**
 * At the default log level (info) an operator sees each login, consent decision, token grant (code and refresh)
 * and tool call: who, team, client, tool, outcome and duration — and never a token, a code or a tool's arguments.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { connectClient } from '../helpers/mcp-client.js';
import { authorizeInBrowser, authorizeUrl, newPkce, registerClient, tokenRequest } from '../helpers/oauth-client.js';

let tdb: TestDatabase;
let gw: TestGateway;
const REDIRECT = 'https://app.example.com/cb';
const SECRET_ARGUMENT = 'do-not-log-this-argument';

beforeAll(async () => {
  tdb = await createTestDatabase();
  gw = await startTestGateway(tdb.db, { env: { LOG_LEVEL: 'info' } });
});
afterAll(async () => {
  await gw?.close();
  await tdb?.drop();
});

type Line = Record<string, unknown> & { msg: string; level: number };
const lines = (): Line[] => gw.logs.lines.map((l) => JSON.parse(l) as Line);
const INFO = 30;

describe('operator log lines at the default level', () => {
  it('login, consent, code and refresh grants, and a tool call each leave one info line without secrets', async () => {
    const reg = await registerClient(gw.url, { client_name: 'Log Watcher', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] });
    const clientId = reg.body.client_id as string;
    const resource = `${gw.url}/t/demo/mcp`;
    const pkce = newPkce();
    const url = authorizeUrl(gw.url, { client_id: clientId, redirect_uri: REDIRECT, state: 'st', code_challenge: pkce.challenge, resource, scope: 'mcp offline_access' });
    const code = (await authorizeInBrowser(url, REDIRECT, { email: 'watcher@example.com' })).searchParams.get('code')!;
    const tokens = await tokenRequest(gw.url, { grant_type: 'authorization_code', code, code_verifier: pkce.verifier, redirect_uri: REDIRECT, client_id: clientId });
    expect(tokens.status).toBe(200);
    const refreshed = await tokenRequest(gw.url, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string, client_id: clientId });
    expect(refreshed.status).toBe(200);

    const { client } = await connectClient(resource, refreshed.body.access_token as string);
    await client.callTool({ name: 'demo__echo', arguments: { text: SECRET_ARGUMENT } });
    await client.callTool({ name: 'demo__nope', arguments: {} }).catch(() => undefined);
    await client.close();

    const user = await tdb.db.prisma.user.findFirstOrThrow({ where: { email: 'watcher@example.com' } });
    const info = lines().filter((l) => l.level === INFO);
    expect(info.filter((l) => l.msg === 'login')).toEqual([expect.objectContaining({ userId: user.id, login: 'dev', clientId, team: 'demo' })]);
    expect(info.filter((l) => l.msg === 'consent')).toEqual([expect.objectContaining({ userId: user.id, clientId, team: 'demo', outcome: 'granted' })]);
    expect(info.filter((l) => l.msg === 'token granted')).toEqual([
      expect.objectContaining({ grant: 'authorization_code', userId: user.id, clientId, resource }),
      expect.objectContaining({ grant: 'refresh_token', userId: user.id, clientId, resource }),
    ]);
    const calls = info.filter((l) => l.msg === 'tool call');
    expect(calls[0]).toMatchObject({ userId: user.id, team: 'demo', clientId, tool: 'demo__echo', outcome: 'ok', durationMs: expect.any(Number) });
    expect(calls.map((c) => c.tool)).toContain('demo__echo');

    const everything = gw.logs.text();
    for (const secret of [code, pkce.verifier, tokens.body.access_token, tokens.body.refresh_token, refreshed.body.access_token, refreshed.body.refresh_token, SECRET_ARGUMENT]) {
      expect(everything).not.toContain(secret as string);
    }
  });
});
