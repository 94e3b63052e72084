/**
 * The console's registration with the gateway's authorization server: a public client (no secret: the code is
 * redeemed inside the gateway, and PKCE binds it to the browser that started the sign-in) with one redirect URI,
 * PUBLIC_URL/console/callback. Written on first use and rewritten when PUBLIC_URL changed
 * (`authserver/first-party-client.ts`, through the services' `keys.ensureConsoleClient`). Its id is not of the form
 * DCR hands out (`sb-…`) nor a URL (metadata documents), so no registration can take it.
 */
import type { FirstPartyClient } from '../authserver/first-party-client.js';

export const CONSOLE_CLIENT_ID = 'switchboard-console';
export const CONSOLE_CLIENT_NAME = 'Switchboard console';

export function consoleRedirectUri(publicUrl: string): string {
  return `${publicUrl}/console/callback`;
}

/** The console's client registration for this PUBLIC_URL. */
export function consoleClient(publicUrl: string): FirstPartyClient {
  return {
    name: CONSOLE_CLIENT_NAME,
    redirectUris: [consoleRedirectUri(publicUrl)],
    tokenEndpointAuthMethod: 'none',
    grantTypes: ['authorization_code'],
    scope: 'mcp',
    metadata: {
      client_name: CONSOLE_CLIENT_NAME,
      redirect_uris: [consoleRedirectUri(publicUrl)],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  };
}
