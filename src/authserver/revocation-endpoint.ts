/**
 * `POST /revoke` (RFC 7009): parse → authenticate the client → revoke → 200. Revoking a refresh token revokes its
 * whole family. Access tokens are self-contained JWTs that expire within the hour; there is nothing to delete for
 * them, so they (like unknown tokens and other clients' tokens) get the same 200 — the answer reveals nothing.
 */
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { authenticateClientStep } from './client-auth.js';
import { parseFormParams } from './form-params.js';
import type { ClientRegistry } from './client-registry.js';
import type { Limiters } from './rate-limits.js';
import type { RefreshTokens } from './refresh-tokens.js';

const revokeParams = z.object({
  token: z.string({ error: 'token is required' }).min(1, { message: 'token is required' }),
  token_type_hint: z.string().optional(),
});

export interface RevocationDeps {
  clients: ClientRegistry;
  refreshTokens: RefreshTokens;
  limiters: Limiters;
}

function revoke(refreshTokens: RefreshTokens): RequestHandler {
  return async (_req, res) => {
    const { token } = res.locals.params as z.infer<typeof revokeParams>;
    await refreshTokens.revoke(token, res.locals.client!.id);
    res.set('Cache-Control', 'no-store').status(200).end();
  };
}

export function revocationRouter(deps: RevocationDeps, form: RequestHandler): Router {
  const router = Router();
  router.post('/revoke', deps.limiters.tokenPerIp, form, parseFormParams(revokeParams), authenticateClientStep(deps.clients), deps.limiters.tokenPerClient, revoke(deps.refreshTokens));
  return router;
}
