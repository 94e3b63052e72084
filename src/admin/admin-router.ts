/**
 * `/admin/v1`: every admin route as a pipeline — authenticate → authorize → validate → act → render — built from
 * the route definitions in `routes/` and checked against the authorization table at start.
 */
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import type { z } from 'zod';
import type { TokenVerifier } from '../auth/token-verifier.js';
import { AdminAuthError, type AdminPrincipal } from './admin-principal.js';
import { ADMIN_AUTHORIZATION, mayCall, type AdminRouteKey } from './authorization.js';
import type { AdminDeps, AdminRoute } from './route.js';
import { unknownFields } from './unknown-fields.js';
import { ADMIN_ROUTES } from './routes/index.js';
import { DomainError, Unauthorized, Forbidden, Refused, type ErrorCode } from '../errors.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- Express's own way to type `res.locals`
  namespace Express {
    interface Locals {
      /** Who calls the admin API (`authenticate`). */
      admin?: AdminPrincipal;
    }
  }
}

export const ADMIN_REALM = 'switchboard-admin';
export const ADMIN_BODY_LIMIT = '64kb';

const ANONYMOUS: AdminPrincipal = { kind: 'user', platform: false, userId: null, email: null, adminTeams: new Map(), actor: 'anonymous' };

/** Fails fast when the routes and the authorization table disagree. */
export function checkAuthorizationTable(routes: readonly AdminRoute[]): void {
  const defined = new Set(routes.map((r) => r.key));
  const listed = Object.keys(ADMIN_AUTHORIZATION) as AdminRouteKey[];
  const missing = listed.filter((k) => !defined.has(k));
  if (missing.length) throw new Error(`admin routes listed in the authorization table but not defined: ${missing.join(', ')}`);
  if (defined.size !== routes.length) throw new Error('an admin route is defined twice');
}

/**
 * One entry per offending field; an unknown key becomes its own entry naming it, and a missing one says "is required"
 * (zod's own words, "Invalid input: expected string, received undefined", describe its internals, not the request).
 */
export function issueDetails(error: z.ZodError, input: unknown): { field: string; message: string }[] {
  return error.issues.flatMap((i) => {
    const at = i.path.map(String);
    if (i.code === 'unrecognized_keys') return i.keys.map((k) => ({ field: [...at, k].join('.'), message: 'unknown field' }));
    if (i.code === 'invalid_type' && valueAt(input, i.path) === undefined) return [{ field: at.join('.'), message: 'is required' }];
    return [{ field: at.join('.'), message: i.message }];
  });
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function validate<T>(schema: z.ZodType<T> | undefined, input: unknown, code: ErrorCode, what: string): T {
  if (!schema) return undefined as T;
  const parsed = schema.safeParse(input);
  const details = parsed.success ? unknownFields(input, parsed.data) : issueDetails(parsed.error, input);
  if (parsed.success && details.length === 0) return parsed.data;
  throw new DomainError(code, `Invalid ${what}: ${details.map((d) => `${d.field || '(root)'} ${d.message}`).join('; ')}`, details);
}

function expressPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}

export function adminRouter(deps: AdminDeps & { verifier: TokenVerifier }, routes: readonly AdminRoute[] = ADMIN_ROUTES): Router {
  checkAuthorizationTable(routes);
  const router = Router();
  const json = express.json({ limit: ADMIN_BODY_LIMIT });

  const authenticate =
    (route: AdminRoute): RequestHandler =>
    async (req, res, next) => {
      res.set('Cache-Control', 'no-store');
      if (ADMIN_AUTHORIZATION[route.key] === 'public') {
        res.locals.admin = ANONYMOUS;
        return next();
      }
      try {
        res.locals.admin = await deps.services.users.principalOfAuthorization(deps.verifier, req.headers.authorization);
      } catch (err) {
        if (!(err instanceof AdminAuthError)) throw err;
        const challenge = err.tokenGiven
          ? `Bearer realm="${ADMIN_REALM}", error="invalid_token", error_description="${err.message.replace(/["\\]/g, "'")}"`
          : `Bearer realm="${ADMIN_REALM}"`;
        res.set('WWW-Authenticate', challenge);
        throw new Unauthorized(err.message);
      }
      next();
    };

  const authorize =
    (route: AdminRoute): RequestHandler =>
    (req, res, next) => {
      const team = typeof req.params.team === 'string' ? req.params.team : undefined;
      if (!mayCall(res.locals.admin!, ADMIN_AUTHORIZATION[route.key], team)) {
        throw new Forbidden(team ? `You are not an admin of team ${team}` : 'This needs a platform admin (ADMIN_API_KEY or ADMIN_EMAILS)');
      }
      next();
    };

  const act =
    (route: AdminRoute): RequestHandler =>
    async (req: Request, res: Response) => {
      const params = validate(route.params, req.params, 'invalid_path', 'path');
      const query = validate(route.query, req.query, 'invalid_query', 'query');
      const body = route.body
        ? validate(route.body, req.body, 'invalid_body', 'body (send a JSON object with Content-Type: application/json)')
        : undefined;
      let status: number = route.success.status;
      const result = await route.handle({
        principal: res.locals.admin!,
        params,
        query,
        body,
        services: deps.services,
        config: deps.config,
        routes,
        status: (code) => {
          status = code;
        },
      });
      if (status === 204) res.status(204).end();
      else res.status(status).json(result);
    };

  const byPath = new Map<string, AdminRoute[]>();
  for (const route of routes) {
    const path = expressPath(route.path);
    byPath.set(path, [...(byPath.get(path) ?? []), route]);
    const steps = [authenticate(route), authorize(route), ...(route.body ? [json] : []), act(route)];
    router[route.method](path, ...steps);
  }
  for (const [path, list] of byPath) {
    const allow = [...new Set(list.flatMap((r) => (r.method === 'get' ? ['GET', 'HEAD'] : [r.method.toUpperCase()])))].join(', ');
    router.all(path, (req, res, next) => {
      res.set('Allow', allow);
      next(new Refused('method_not_allowed', `${req.method} is not supported here; allowed: ${allow}`));
    });
  }
  return router;
}
