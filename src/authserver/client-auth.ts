/**
 * Client authentication at the token and revocation endpoints (RFC 6749 §2.3): `client_secret_basic`,
 * `client_secret_post`, or `none` (public clients name themselves with `client_id`). A confidential client may use
 * either secret method — both prove the same secret — but never none; a public client may not present a secret.
 * Failures are `invalid_client` (401 with a Basic challenge).
 */
import type { Request, RequestHandler } from 'express';
import { hashSecret, safeEqual } from '../security/secret-box.js';
import type { ClientRecord } from './client-metadata.js';
import { findUsableClient, type ClientRegistry } from './client-registry.js';
import { InvalidClient, InvalidRequest } from './oauth-errors.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's own way to type `res.locals`
  namespace Express {
    interface Locals {
      /** The OAuth client of a `/token` or `/revoke` request, once authenticated (`authenticateClientStep`). */
      client?: ClientRecord;
      /** A form-encoded OAuth request's parameters, checked against its endpoint's schema (`parseFormParams`). */
      params?: unknown;
      /** The user a `/token` request is for, once its grant is loaded (its per-user rate limit keys on it). */
      userId?: string;
    }
  }
}

interface PresentedCredentials {
  clientId: string;
  secret: string | undefined;
}

/** RFC 6749 §2.3.1: the Basic user name and password are form-urlencoded before base64. */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

function presented(req: Request): PresentedCredentials {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const bodyId = typeof body.client_id === 'string' ? body.client_id : undefined;
  const bodySecret = typeof body.client_secret === 'string' && body.client_secret !== '' ? body.client_secret : undefined;
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header.trim());
    if (!match) throw new InvalidClient('The Authorization header is not HTTP Basic client authentication');
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new InvalidClient('The Basic credentials have no client secret');
    if (bodySecret !== undefined) throw new InvalidRequest('Use one client authentication method, not both Basic and client_secret');
    const clientId = formDecode(decoded.slice(0, colon));
    if (bodyId !== undefined && bodyId !== clientId) throw new InvalidRequest('client_id in the body differs from the Basic credentials');
    return { clientId, secret: formDecode(decoded.slice(colon + 1)) };
  }
  if (!bodyId) throw new InvalidClient('Client authentication is required: send client_id (and client_secret for a confidential client)');
  return { clientId: bodyId, secret: bodySecret };
}

/**
 * The authenticated client for this request; throws `InvalidClient` or `InvalidRequest`, and lets database faults
 * through (the endpoint answers them with `temporarily_unavailable`, never `invalid_client`).
 */
export async function authenticateClient(req: Request, clients: ClientRegistry): Promise<ClientRecord> {
  const creds = presented(req);
  const client = await findUsableClient(clients, creds.clientId);
  if (!client) throw new InvalidClient('Unknown client');
  if (client.authMethod === 'none') {
    if (creds.secret !== undefined) throw new InvalidClient('This is a public client; it has no client secret');
    return client;
  }
  if (creds.secret === undefined || client.secretHash === null) throw new InvalidClient('This client must authenticate with its client secret');
  if (!safeEqual(hashSecret(creds.secret), client.secretHash)) throw new InvalidClient('The client secret is wrong');
  return client;
}

/** The authenticate step of `/token` and `/revoke`: the authenticated client lands in `res.locals.client`. */
export function authenticateClientStep(clients: ClientRegistry): RequestHandler {
  return async (req, res, next) => {
    res.locals.client = await authenticateClient(req, clients);
    next();
  };
}
