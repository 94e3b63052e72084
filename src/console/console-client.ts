/**
 * The console's registration with the gateway's authorization server: a public client (no secret: the code is
 * redeemed inside the gateway, and PKCE binds it to the browser that started the sign-in) with one redirect URI,
 * PUBLIC_URL/console/callback. Written on first use and rewritten when PUBLIC_URL changed. Its id is not of the form
 * DCR hands out (`sb-…`) nor a URL (metadata documents), so no registration can take it.
 */
import type { PrismaClient } from '../db/database.js';
import { Prisma } from '../generated/prisma/client.js';

export const CONSOLE_CLIENT_ID = 'switchboard-console';
export const CONSOLE_CLIENT_NAME = 'Switchboard console';

export function consoleRedirectUri(publicUrl: string): string {
  return `${publicUrl}/console/callback`;
}

/**
 * A function that makes sure the console's client row is there, once per process (again after a failure). Two
 * replicas creating it at the same moment is fine: the loser's unique violation means the row exists.
 */
export function ensureConsoleClient(prisma: PrismaClient, publicUrl: string): () => Promise<void> {
  let done: Promise<void> | undefined;
  const data = {
    name: CONSOLE_CLIENT_NAME,
    redirectUris: [consoleRedirectUri(publicUrl)],
    tokenEndpointAuthMethod: 'none',
    grantTypes: ['authorization_code'],
    scope: 'mcp',
    secretHash: null,
    isMetadataDocument: false,
    metadata: {
      client_name: CONSOLE_CLIENT_NAME,
      redirect_uris: [consoleRedirectUri(publicUrl)],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  };
  const write = async () => {
    try {
      await prisma.oAuthClient.upsert({ where: { id: CONSOLE_CLIENT_ID }, create: { id: CONSOLE_CLIENT_ID, ...data }, update: data });
    } catch (err) {
      if (!(err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002')) throw err;
    }
  };
  return () => {
    done ??= write().catch((err: unknown) => {
      done = undefined;
      throw err;
    });
    return done;
  };
}
