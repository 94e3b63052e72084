/** `/.well-known/jwks.json`: the built-in issuer's public keys (also used to verify tool-server exchange tokens). */
import { Router } from 'express';
import type { KeyStore } from './signing-keys.js';

export function jwksRouter(keys: KeyStore): Router {
  const router = Router();
  router.get('/.well-known/jwks.json', async (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(await keys.jwks());
  });
  return router;
}
