/**
 * Auth mode `oauth` with a client registered at the upstream's authorization server beforehand (`auth.clientId`,
 * `auth.clientSecret`), against an AS that offers no dynamic registration: the gateway authenticates as that client
 * (`client_secret_basic`) for the code exchange, the refresh and the revocation, and registers nothing.
 */
import { describe, expect, it } from 'vitest';
import { connectLinkIn, connectViaFetch, memberClient, useOAuthUpstreamGateway } from '../../fixtures/oauth-upstream.js';

const CLIENT_ID = 'switchboard-preregistered';
const CLIENT_SECRET = 'preregistered-secret-0123456789abcdef';

const t = useOAuthUpstreamGateway('prereg', {
  upstream: (gatewayUrl) => ({
    dynamicRegistration: false,
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${gatewayUrl}/oauth/upstream/callback`],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
  }),
  auth: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
});

describe('a pre-registered upstream client', () => {
  it('connects, refreshes and is revoked as that client; nothing is registered', async () => {
    const { token, userId, client, whoami: call } = await memberClient(t.gw, 'prereg', 'pat@example.com');

    const callback = await connectViaFetch(connectLinkIn((await call()).text), 'pat-upstream');
    expect(callback.status).toBe(200);
    expect((await call()).text).toBe('sub=pat-upstream');
    const registration = await t.tdb.db.prisma.upstreamOAuthClient.findFirstOrThrow({ where: { teamId: t.teamId } });
    expect({ registration: registration.registration, clientId: registration.clientId, secret: registration.clientSecretEncrypted }).toEqual({
      registration: 'preregistered',
      clientId: CLIENT_ID,
      secret: null, // the secret stays the tool server's (sealed there), not copied
    });

    // The upstream stops taking the access token (401): the gateway refreshes it, as the pre-registered client, and
    // sends the call again with the new one.
    const first = await t.tdb.db.prisma.upstreamConnection.findFirstOrThrow({ where: { userId } });
    t.up.rejectToken(t.gw.app.box.open(first.accessTokenEncrypted));
    expect((await call()).text).toBe('sub=pat-upstream');
    const refreshed = await t.tdb.db.prisma.upstreamConnection.findFirstOrThrow({ where: { userId } });
    expect(t.gw.app.box.open(refreshed.accessTokenEncrypted)).not.toBe(t.gw.app.box.open(first.accessTokenEncrypted));
    expect(t.up.calls.at(-1)?.token).toBe(t.gw.app.box.open(refreshed.accessTokenEncrypted));

    const refreshToken = t.gw.app.box.open(refreshed.refreshTokenEncrypted!);
    expect(await t.up.refreshTokenActive(refreshToken)).toBe(true);
    const removed = await fetch(`${t.gw.url}/t/prereg/connections/gh`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(removed.status).toBe(204);
    expect(await t.up.refreshTokenActive(refreshToken)).toBe(false);
    await client.close();
  });
});
