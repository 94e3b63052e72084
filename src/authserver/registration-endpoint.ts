/**
 * `POST /register` (RFC 7591 dynamic client registration), open to anyone as MCP clients expect: per-IP limit →
 * parse JSON → per-software limit → validate → store → 201 with the client's id, its secret for confidential
 * clients (`client_secret_expires_at: 0` — it never expires; stored only as a hash) and the accepted metadata.
 */
import express, { Router, type RequestHandler } from 'express';
import type { ClientRegistry } from './client-registry.js';
import { InvalidClientMetadata } from './oauth-errors.js';
import type { Limiters } from './rate-limits.js';

export const REGISTRATION_BODY_LIMIT = '32kb';

function register(clients: ClientRegistry): RequestHandler {
  return async (req, res) => {
    if (!req.is('application/json')) throw new InvalidClientMetadata('Send the client metadata as application/json');
    const { record, secret, issuedAt } = await clients.register(req.body);
    res
      .status(201)
      .set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' })
      .json({
        client_id: record.id,
        client_id_issued_at: Math.floor(issuedAt.getTime() / 1000),
        ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
        ...record.metadata,
      });
  };
}

export function registrationRouter(deps: { clients: ClientRegistry; limiters: Limiters }): Router {
  const router = Router();
  const json = express.json({ limit: REGISTRATION_BODY_LIMIT, type: () => true });
  router.post('/register', deps.limiters.registrationPerIp, json, deps.limiters.registrationPerSoftware, register(deps.clients));
  return router;
}
