/**
 * RFC 8252 §7.1: native apps such as Cursor receive the authorization response on a private-use URI scheme
 * (`cursor://anysphere.cursor-mcp/oauth/callback`). Such clients register, see their scheme on the consent page,
 * and get their code there — with PKCE, so another app claiming the scheme gets no token.
 */
import { describe, expect, it } from 'vitest';
import { useTestGateway } from '../helpers/gateway.js';
import { authorizeInBrowser, authorizeUrl, FetchBrowser, newPkce, registerClient, tokenRequest } from '../helpers/oauth-client.js';

const CURSOR = 'cursor://anysphere.cursor-mcp/oauth/callback';

const t = useTestGateway();

describe('private-use redirect schemes', () => {
  it('a Cursor-style client registers, consents and receives code, state and iss on its own scheme', async () => {
    const reg = await registerClient(t.gw.url, { client_name: 'Cursor', redirect_uris: [CURSOR], token_endpoint_auth_method: 'none' });
    expect(reg.status).toBe(201);
    const clientId = reg.body.client_id as string;
    const pkce = newPkce();
    const url = authorizeUrl(t.gw.url, { client_id: clientId, redirect_uri: CURSOR, state: 'cs', code_challenge: pkce.challenge, resource: `${t.gw.url}/t/demo/mcp` });

    // The consent page names the scheme and lets its form end at that scheme (CSP form-action).
    const browser = new FetchBrowser((u) => u.protocol === 'cursor:');
    const login = await browser.navigate(url);
    expect('redirect' in login).toBe(false);
    if ('redirect' in login) return;
    expect(login.headers.get('content-security-policy')).toMatch(/form-action 'self' cursor:/);

    const back = await authorizeInBrowser(url, CURSOR, { email: 'cursor@example.com' }, browser);
    expect(back.protocol).toBe('cursor:');
    expect(back.searchParams.get('state')).toBe('cs');
    expect(back.searchParams.get('iss')).toBe(t.gw.url);
    const code = back.searchParams.get('code')!;
    const token = await tokenRequest(t.gw.url, { grant_type: 'authorization_code', code, code_verifier: pkce.verifier, redirect_uri: CURSOR, client_id: clientId, resource: `${t.gw.url}/t/demo/mcp` });
    expect(token.status).toBe(200);
    expect(token.body.access_token).toEqual(expect.any(String));
  });

  it('another redirect URI on the same scheme does not match', async () => {
    const reg = await registerClient(t.gw.url, { client_name: 'Cursor', redirect_uris: [CURSOR], token_endpoint_auth_method: 'none' });
    const url = authorizeUrl(t.gw.url, { client_id: reg.body.client_id as string, redirect_uri: 'cursor://anysphere.cursor-mcp/other', state: 's', code_challenge: newPkce().challenge, resource: `${t.gw.url}/t/demo/mcp` });
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });
});
