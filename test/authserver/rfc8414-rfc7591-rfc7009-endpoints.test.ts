/**
 * The plain protocol endpoints: RFC 8414 metadata (and its OpenID-style twin), RFC 7591 registration with the
 * redirect URIs real clients use and secrets that never expire, and RFC 7009 revocation.
 */
import { describe, expect, it } from 'vitest';
import { useTestGateway } from '../helpers/gateway.js';
import { authorizeInBrowser, authorizeUrl, basicAuth, newPkce, registerClient, tokenRequest } from '../helpers/oauth-client.js';


const t = useTestGateway();

describe('RFC 8414 authorization server metadata', () => {
  it.each(['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'])('%s', async (path) => {
    const res = await fetch(`${t.gw.url}${path}`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc).toMatchObject({
      issuer: t.gw.url,
      authorization_endpoint: `${t.gw.url}/authorize`,
      token_endpoint: `${t.gw.url}/token`,
      registration_endpoint: `${t.gw.url}/register`,
      revocation_endpoint: `${t.gw.url}/revoke`,
      jwks_uri: `${t.gw.url}/.well-known/jwks.json`,
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_methods_supported: ['none', 'client_secret_post', 'client_secret_basic'],
      scopes_supported: ['mcp', 'offline_access'],
      client_id_metadata_document_supported: true,
      authorization_response_iss_parameter_supported: true,
    });
    // It used to link service_documentation to PUBLIC_URL + "/", a 404.
    expect(doc).not.toHaveProperty('service_documentation');
    const jwks = (await (await fetch(doc.jwks_uri as string)).json()) as { keys: { alg: string }[] };
    expect(jwks.keys[0]!.alg).toBe('ES256');
  });
});

describe('RFC 7591 dynamic client registration', () => {
  const realRedirects = [
    'https://chatgpt.com/connector_platform_oauth_redirect',
    'https://chatgpt.com/connector/oauth/abc-123_XYZ',
    'https://claude.ai/api/mcp/auth_callback',
    'https://claude.com/api/mcp/auth_callback',
    'http://localhost:6274/oauth/callback',
    'http://127.0.0.1:33418/',
    'http://[::1]:8080/cb',
  ];
  it.each(realRedirects)('accepts %s without setup', async (uri) => {
    const res = await registerClient(t.gw.url, { client_name: 'Real client', redirect_uris: [uri], token_endpoint_auth_method: 'none' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ redirect_uris: [uri], token_endpoint_auth_method: 'none' });
    expect(res.body.client_secret).toBeUndefined();
  });

  it('defaults to a confidential client_secret_basic client whose secret never expires and is stored hashed', async () => {
    const res = await registerClient(t.gw.url, { redirect_uris: ['https://app.example.com/cb'], client_name: 'Confidential', software_id: 'x', unknown_field: 1 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ token_endpoint_auth_method: 'client_secret_basic', client_secret_expires_at: 0, grant_types: ['authorization_code', 'refresh_token'], software_id: 'x' });
    expect(res.body.unknown_field).toBeUndefined();
    expect(typeof res.body.client_id_issued_at).toBe('number');
    const row = await t.tdb.db.prisma.oAuthClient.findUniqueOrThrow({ where: { id: res.body.client_id as string } });
    expect(JSON.stringify(row)).not.toContain(res.body.client_secret as string);
  });

  it.each([
    [{ redirect_uris: ['https://a.example/cb'], grant_types: ['client_credentials'] }, 'invalid_client_metadata'],
    [{ redirect_uris: ['https://a.example/cb'], grant_types: ['refresh_token'] }, 'invalid_client_metadata'],
    [{ redirect_uris: ['https://a.example/cb'], response_types: ['token'] }, 'invalid_client_metadata'],
    [{ redirect_uris: ['https://a.example/cb'], token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata'],
    [{ redirect_uris: 'https://a.example/cb' }, 'invalid_client_metadata'],
    [{ redirect_uris: [] }, 'invalid_redirect_uri'],
  ])('refuses %j with %s', async (metadata, error) => {
    const res = await registerClient(t.gw.url, metadata);
    expect(res).toMatchObject({ status: 400, body: { error } });
    expect(typeof res.body.error_description).toBe('string');
  });

  it('refuses a body that is not JSON as invalid_request', async () => {
    const res = await fetch(`${t.gw.url}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });
});

describe('RFC 7009 revocation', () => {
  it('revoking a refresh token revokes its family; unknown tokens get 200 too; bad client auth is 401', async () => {
    const redirect = 'https://app.example.com/cb';
    const reg = await registerClient(t.gw.url, { redirect_uris: [redirect], token_endpoint_auth_method: 'client_secret_basic' });
    const clientId = reg.body.client_id as string;
    const secret = reg.body.client_secret as string;
    const pkce = newPkce();
    const response = await authorizeInBrowser(
      authorizeUrl(t.gw.url, { client_id: clientId, redirect_uri: redirect, code_challenge: pkce.challenge, resource: `${t.gw.url}/t/demo/mcp` }),
      redirect,
      { email: 'revoker@example.com' },
    );
    const tokens = await tokenRequest(t.gw.url, { grant_type: 'authorization_code', code: response.searchParams.get('code')!, code_verifier: pkce.verifier, redirect_uri: redirect }, basicAuth(clientId, secret));
    expect(tokens.status).toBe(200);
    const rotated = await tokenRequest(t.gw.url, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string }, basicAuth(clientId, secret));
    expect(rotated.status).toBe(200);

    const revoke = (token: string, headers: Record<string, string>) =>
      fetch(`${t.gw.url}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ token, token_type_hint: 'refresh_token' }) });
    const bad = await revoke(rotated.body.refresh_token as string, basicAuth(clientId, 'wrong'));
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect((await revoke('not-a-token', basicAuth(clientId, secret))).status).toBe(200);
    expect((await revoke(tokens.body.access_token as string, basicAuth(clientId, secret))).status).toBe(200);
    expect((await revoke(rotated.body.refresh_token as string, basicAuth(clientId, secret))).status).toBe(200);
    const after = await tokenRequest(t.gw.url, { grant_type: 'refresh_token', refresh_token: rotated.body.refresh_token as string }, basicAuth(clientId, secret));
    expect(after).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });

    const missing = await fetch(`${t.gw.url}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...basicAuth(clientId, secret) }, body: '' });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: 'invalid_request' });

    // RFC 6749 §3.1: a parameter given twice is refused, as at the token endpoint.
    const repeated = await fetch(`${t.gw.url}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...basicAuth(clientId, secret) }, body: 'token=a&token=b' });
    expect(repeated.status).toBe(400);
    expect(await repeated.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('must not repeat: token') });
  });

  it('the token endpoint names unsupported grants and malformed requests with their RFC codes', async () => {
    const reg = await registerClient(t.gw.url, { redirect_uris: ['https://app.example.com/cb'], token_endpoint_auth_method: 'none' });
    const clientId = reg.body.client_id as string;
    expect(await tokenRequest(t.gw.url, { grant_type: 'client_credentials', client_id: clientId })).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
    expect(await tokenRequest(t.gw.url, { client_id: clientId })).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    const res = await fetch(`${t.gw.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=refresh_token&client_id=${clientId}&refresh_token=a&refresh_token=b` });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    // A public client presenting a secret, and a confidential one presenting none, both fail client authentication.
    expect(await tokenRequest(t.gw.url, { grant_type: 'refresh_token', refresh_token: 'x', client_id: clientId, client_secret: 's' })).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });
});
