/**
 * A ChatGPT-shaped connection, driven with fetch as ChatGPT's backend does it: discovery from the 401, DCR with
 * its `https://chatgpt.com/connector/oauth/{id}` redirect, `resource` sent verbatim, the browser part (login,
 * Allow) ending at ChatGPT's redirect (not followed), `iss` on it, the code exchanged with HTTP Basic client
 * authentication, MCP used with the token, refresh.
 */
import { describe, expect, it } from 'vitest';
import { useTestGateway } from '../helpers/gateway.js';
import { rawPost, INIT } from '../helpers/mcp-client.js';
import { authorizeInBrowser, authorizeUrl, basicAuth, newPkce, registerClient, tokenRequest } from '../helpers/oauth-client.js';


const t = useTestGateway();

describe('ChatGPT-shaped connector', () => {
  it('discovers, registers, authorizes with iss, exchanges, calls MCP, refreshes', async () => {
    const endpoint = `${t.gw.url}/t/demo/mcp`;
    const challenge = await rawPost(endpoint, INIT);
    expect(challenge.status).toBe(401);
    const prmUrl = /resource_metadata="([^"]+)"/.exec(challenge.headers.get('www-authenticate')!)![1]!;
    const prm = (await (await fetch(prmUrl)).json()) as { resource: string; authorization_servers: string[] };
    expect(prm.resource).toBe(endpoint);
    const as = (await (await fetch(`${prm.authorization_servers[0]}/.well-known/oauth-authorization-server`)).json()) as Record<string, string>;

    const redirect = 'https://chatgpt.com/connector/oauth/Zx81-abc_d9';
    const reg = await registerClient(t.gw.url, {
      client_name: 'ChatGPT',
      redirect_uris: [redirect, 'https://chatgpt.com/connector_platform_oauth_redirect'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    expect(reg.status).toBe(201);
    expect(reg.body).toMatchObject({ client_secret_expires_at: 0, token_endpoint_auth_method: 'client_secret_basic' });
    const clientId = reg.body.client_id as string;
    const secret = reg.body.client_secret as string;

    const pkce = newPkce();
    const url = authorizeUrl(t.gw.url, { client_id: clientId, redirect_uri: redirect, state: 'chatgpt-state-1', code_challenge: pkce.challenge, resource: prm.resource });
    expect(url.origin + url.pathname).toBe(as.authorization_endpoint);
    const response = await authorizeInBrowser(url, redirect, { email: 'gpt-user@example.com' });
    expect(response.origin + response.pathname).toBe(redirect);
    expect(response.searchParams.get('iss')).toBe(t.gw.url);
    expect(response.searchParams.get('state')).toBe('chatgpt-state-1');

    const tokens = await tokenRequest(
      t.gw.url,
      { grant_type: 'authorization_code', code: response.searchParams.get('code')!, redirect_uri: redirect, code_verifier: pkce.verifier, resource: prm.resource },
      basicAuth(clientId, secret),
    );
    expect(tokens.status).toBe(200);
    expect(tokens.headers.get('cache-control')).toBe('no-store');
    expect(tokens.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'mcp' });

    // ChatGPT sends no Origin; the token opens a session.
    const init = await rawPost(endpoint, INIT, { authorization: `Bearer ${tokens.body.access_token as string}` });
    expect(init.status).toBe(200);
    expect(init.headers.get('mcp-session-id')).toBeTruthy();
    await init.text();

    const refreshed = await tokenRequest(t.gw.url, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string, resource: prm.resource }, basicAuth(clientId, secret));
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(tokens.body.refresh_token);
    const again = await rawPost(endpoint, INIT, { authorization: `Bearer ${refreshed.body.access_token as string}` });
    expect(again.status).toBe(200);
    await again.text();

    // No secret of the dance ever reaches the log.
    const logs = t.gw.logs.text();
    for (const secretValue of [secret, response.searchParams.get('code')!, pkce.verifier, tokens.body.refresh_token, refreshed.body.refresh_token, tokens.body.access_token]) {
      expect(logs).not.toContain(secretValue as string);
    }
  });

  it('the legacy connector_platform_oauth_redirect gets iss too, on errors as well', async () => {
    const redirect = 'https://chatgpt.com/connector_platform_oauth_redirect';
    const reg = await registerClient(t.gw.url, { client_name: 'ChatGPT legacy', redirect_uris: [redirect], token_endpoint_auth_method: 'none' });
    const pkce = newPkce();
    const res = await fetch(authorizeUrl(t.gw.url, { client_id: reg.body.client_id as string, redirect_uri: redirect, state: 's', code_challenge: pkce.challenge, resource: `${t.gw.url}/t/nope/mcp` }), { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(redirect);
    expect(Object.fromEntries(location.searchParams)).toMatchObject({ error: 'invalid_target', state: 's', iss: t.gw.url });
  });
});
