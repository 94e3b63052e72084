/**
 * The whole OAuth flow driven by an SDK v2 client (`@modelcontextprotocol/client`), as `sdk-auth-flow.test.ts` does
 * with v1: 401 → protected-resource metadata → authorization-server metadata → dynamic registration → authorize
 * with PKCE → dev login → consent → token (the `iss` of the authorization response checked by the SDK) → a tool
 * call as the person who logged in. In both of the client's modes: `legacy` (initialize, a session id) and `auto`
 * (probes with `server/discover`, stays on 2026-07-28 and never sends `initialize`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, StreamableHTTPClientTransport, UnauthorizedError, type OAuthDiscoveryState, type VersionNegotiationMode } from '@modelcontextprotocol/client';
import { decodeJwt } from 'jose';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startOAuthGateway, TestOAuthProvider } from '../helpers/oauth-client.js';
import type { TestGateway } from '../helpers/gateway.js';
import { LOCAL_ISSUER } from '../../src/teams/users.js';

let tdb: TestDatabase;
let gw: TestGateway;
let endpoint: string;

const REDIRECT = 'http://localhost:6274/oauth/callback';

beforeAll(async () => {
  tdb = await createTestDatabase();
  gw = await startOAuthGateway(tdb.db);
  endpoint = `${gw.url}/t/demo/mcp`;
});
afterAll(async () => {
  await gw?.close();
  await tdb?.drop();
});

/**
 * The shared test provider, plus what v2 asks of a provider that v1 did not: the discovery state kept from the
 * redirect to the callback, so the SDK binds the code exchange to the authorization server it discovered (SEP-2352).
 */
class V2OAuthProvider extends TestOAuthProvider {
  discovery: OAuthDiscoveryState | undefined;
  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.discovery = state;
  }
  discoveryState(): OAuthDiscoveryState | undefined {
    return this.discovery;
  }
}

interface Sent {
  method: string | undefined;
  sessionId: string | null;
  authorized: boolean;
}

/** The MCP requests the client sent (not the OAuth ones): method, session header, whether it carried a token. */
function recordingFetch(sent: Sent[]): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.pathname === new URL(endpoint).pathname && typeof init?.body === 'string') {
      const body = JSON.parse(init.body) as { method?: string };
      const headers = new Headers(init.headers);
      sent.push({ method: body.method, sessionId: headers.get('mcp-session-id'), authorized: headers.has('authorization') });
    }
    return fetch(input, init);
  };
}

/** What a v2 client does: connect → 401 → auth() in the "browser" → finishAuth with the callback → connect again. */
async function connectWithOAuth(provider: V2OAuthProvider, mode: VersionNegotiationMode, sent: Sent[]): Promise<Client> {
  const transportOpts = { authProvider: provider, fetch: recordingFetch(sent) };
  const first = new Client({ name: `sdk-v2-${String(mode)}`, version: '2.4.0' }, { versionNegotiation: { mode } });
  await expect(first.connect(new StreamableHTTPClientTransport(new URL(endpoint), transportOpts))).rejects.toBeInstanceOf(UnauthorizedError);
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), transportOpts);
  // The whole callback: v2 checks its `iss` against the authorization server (RFC 9207) and its `state`.
  await transport.finishAuth(new URLSearchParams(provider.lastResponse!.search));
  const client = new Client({ name: `sdk-v2-${String(mode)}`, version: '2.4.0' }, { versionNegotiation: { mode } });
  await client.connect(transport);
  return client;
}

function whoami(result: unknown): Record<string, unknown> {
  const r = result as { structuredContent?: Record<string, unknown>; content: { type: string; text: string }[] };
  return r.structuredContent ?? JSON.parse(r.content[0]!.text);
}

async function localUserId(email: string): Promise<string> {
  const u = await tdb.db.prisma.user.findUniqueOrThrow({ where: { issuer_subject: { issuer: LOCAL_ISSUER, subject: email } } });
  return u.id;
}

describe.each([
  { mode: 'legacy' as const, email: 'legacy-v2@example.com', era: 'legacy', protocolVersion: '2025-11-25' },
  { mode: 'auto' as const, email: 'auto-v2@example.com', era: 'modern', protocolVersion: '2026-07-28' },
])('an SDK v2 client in $mode mode', ({ mode, email, era, protocolVersion }) => {
  it('registers, authorizes with PKCE through the dev login, gets a token and calls a tool as the person who logged in', async () => {
    const provider = new V2OAuthProvider({ redirectUrl: REDIRECT, user: { email } });
    const sent: Sent[] = [];
    const client = await connectWithOAuth(provider, mode, sent);
    expect(client.getProtocolEra()).toBe(era);

    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('demo__whoami');
    const who = whoami(await client.callTool({ name: 'demo__whoami', arguments: {} }));
    const userId = await localUserId(email);
    expect(who).toMatchObject({ email, team: 'demo', userId });
    await client.close();

    // What the SDK saw and sent on the way.
    const authz = provider.lastAuthorizationUrl!;
    expect(authz.origin + authz.pathname).toBe(`${gw.url}/authorize`);
    expect(authz.searchParams.get('resource')).toBe(endpoint);
    expect(authz.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authz.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(provider.lastResponse!.searchParams.get('iss')).toBe(gw.url);
    expect(provider.discovery).toMatchObject({ authorizationServerUrl: expect.stringMatching(new RegExp(`^${gw.url}/?$`)), resourceMetadata: { resource: endpoint } });
    expect(provider.client!.client_id).toMatch(/^sb-/);
    const registered = await tdb.db.prisma.oAuthClient.findUniqueOrThrow({ where: { id: provider.client!.client_id } });
    expect(registered).toMatchObject({ tokenEndpointAuthMethod: 'none', secretHash: null, redirectUris: [REDIRECT] });
    const claims = decodeJwt(provider.savedTokens!.access_token);
    expect(claims).toMatchObject({ iss: gw.url, aud: endpoint, client_id: provider.client!.client_id, sub: userId });

    // The first attempt went out without a token and was refused; every request after the flow carried it.
    expect(sent[0]!.authorized).toBe(false);
    const afterAuth = sent.slice(1);
    expect(afterAuth.length).toBeGreaterThan(0);
    expect(afterAuth.every((s) => s.authorized)).toBe(true);
    if (era === 'modern') {
      // A modern client never falls back: no initialize, no session id; discover first.
      expect(sent.map((s) => s.method)).not.toContain('initialize');
      expect(afterAuth[0]!.method).toBe('server/discover');
      expect(afterAuth.every((s) => s.sessionId === null)).toBe(true);
    } else {
      expect(afterAuth[0]!.method).toBe('initialize');
      expect(afterAuth.slice(1).every((s) => s.sessionId !== null)).toBe(true);
    }
    const rows = await tdb.db.prisma.session.findMany({ where: { userId } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ protocolVersion, clientId: provider.client!.client_id, clientName: `sdk-v2-${mode}`, clientVersion: '2.4.0' });
  });

  it('a token of another resource is refused with a challenge the v2 client turns into a new authorization', async () => {
    const provider = new V2OAuthProvider({ redirectUrl: REDIRECT, user: { email } });
    // A token the client kept from elsewhere: not a JWT of this gateway.
    provider.savedTokens = { access_token: 'not-a-token-of-this-gateway', token_type: 'Bearer' };
    const sent: Sent[] = [];
    const client = new Client({ name: `sdk-v2-${mode}`, version: '2.4.0' }, { versionNegotiation: { mode } });
    await expect(client.connect(new StreamableHTTPClientTransport(new URL(endpoint), { authProvider: provider, fetch: recordingFetch(sent) }))).rejects.toBeInstanceOf(UnauthorizedError);
    expect(sent[0]!.authorized).toBe(true);
    // The refusal sent the person through the authorization again, and a fresh code came back.
    expect(provider.lastAuthorizationUrl).toBeDefined();
    expect(provider.code).toMatch(/.+/);
  });
});
