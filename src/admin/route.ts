/**
 * What an admin route is: its place in the authorization table, its zod schemas (which validate the request and
 * generate the OpenAPI document), the errors it may answer, and the action itself — which gets parsed, typed input
 * and never sees Express or the database.
 */
import type { z } from 'zod';
import type { Config } from '../config/config.js';
import type { Services } from '../services.js';
import type { AdminPrincipal } from './admin-principal.js';
import type { AdminRouteKey } from './authorization.js';
import { type ErrorCode } from '../errors.js';

/** What the admin router is built on: the services (never the database) and the configuration. */
export interface AdminDeps {
  config: Config;
  services: Services;
}

export interface RouteContext<P, Q, B> {
  principal: AdminPrincipal;
  params: P;
  query: Q;
  body: B;
  /** The services the route acts through (`src/services.ts`): routes never touch the database. */
  services: Services;
  config: Config;
  /** Every admin route (for the OpenAPI document). */
  routes: readonly AdminRoute[];
  /** Overrides the route's success status for this response (e.g. 200 instead of 201 when nothing was created). */
  status(code: number): void;
}

export interface SuccessResponse {
  status: 200 | 201 | 202 | 204;
  description: string;
  schema?: z.ZodType;
}

export interface AdminRouteDef<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType | undefined> {
  key: AdminRouteKey;
  operationId: string;
  tag: 'Teams' | 'Members' | 'Tool servers' | 'Sessions' | 'Users' | 'Audit' | 'Meta';
  summary: string;
  description?: string;
  params?: P;
  query?: Q;
  body?: B;
  /** The success response; `alternatives` are other 2xx the route may answer. */
  success: SuccessResponse;
  alternatives?: SuccessResponse[];
  /** Error codes besides those every protected route may answer (400 invalid_query/path, 401, 403). */
  errors: ErrorCode[];
  handle(ctx: RouteContext<z.output<P>, z.output<Q>, B extends z.ZodType ? z.output<B> : undefined>): Promise<unknown>;
}

export interface AdminRoute {
  key: AdminRouteKey;
  method: 'get' | 'post' | 'patch' | 'delete';
  /** OpenAPI-style path below `/admin/v1`, e.g. `/teams/{team}`. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description: string | undefined;
  params: z.ZodType | undefined;
  query: z.ZodType | undefined;
  body: z.ZodType | undefined;
  success: SuccessResponse;
  alternatives: SuccessResponse[];
  errors: ErrorCode[];
  handle(ctx: RouteContext<unknown, unknown, unknown>): Promise<unknown>;
}

/** Types a route's handler from its schemas and derives method and path from its authorization-table key. */
export function defineRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType | undefined = undefined>(
  def: AdminRouteDef<P, Q, B>,
): AdminRoute {
  const [method, path] = def.key.split(' ') as [string, string];
  return {
    key: def.key,
    method: method.toLowerCase() as AdminRoute['method'],
    path,
    operationId: def.operationId,
    tag: def.tag,
    summary: def.summary,
    description: def.description,
    params: def.params,
    query: def.query,
    body: def.body,
    success: def.success,
    alternatives: def.alternatives ?? [],
    errors: def.errors,
    handle: def.handle as AdminRoute['handle'],
  };
}
