/**
 * The parse step of the form-encoded OAuth endpoints (`/token`, `/revoke`): parameters must not repeat
 * (RFC 6749 §3.1) and must match the endpoint's schema; the result lands in `res.locals.params`.
 */
import type { RequestHandler } from 'express';
import type { z } from 'zod';
import { InvalidRequest } from './oauth-errors.js';

export function parseFormParams(schema: z.ZodType): RequestHandler {
  return (req, res, next) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const repeated = Object.keys(body).filter((k) => Array.isArray(body[k]));
    if (repeated.length) throw new InvalidRequest(`Parameters must not repeat: ${repeated.join(', ')}`);
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new InvalidRequest(parsed.error.issues.map((i) => i.message).join('; '));
    res.locals.params = parsed.data;
    next();
  };
}
