/**
 * Clients of the built-in authorization server that the gateway registers for itself (the console): a row in
 * `oauth_clients` under an id no registration can take, written on first use and rewritten when it changed (a new
 * PUBLIC_URL). Two replicas writing it at the same moment is fine: the loser's unique violation means the row exists.
 */
import type { PrismaClient } from '../db/database.js';
import { Prisma } from '../generated/prisma/client.js';

/** The registration of a first-party client: what `oauth_clients` stores besides its id. */
export interface FirstPartyClient {
  name: string;
  redirectUris: string[];
  tokenEndpointAuthMethod: string;
  grantTypes: string[];
  scope: string;
  metadata: Record<string, unknown>;
}

/** A function that makes sure the client's row is there, once per process (again after a failure). */
export function ensureFirstPartyClient(prisma: PrismaClient, id: string, client: FirstPartyClient): () => Promise<void> {
  let done: Promise<void> | undefined;
  const data = { ...client, metadata: client.metadata as Prisma.InputJsonObject, secretHash: null, isMetadataDocument: false };
  const write = async () => {
    try {
      await prisma.oAuthClient.upsert({ where: { id }, create: { id, ...data }, update: data });
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
