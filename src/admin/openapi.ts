/**
 * The OpenAPI 3.1 document of `/admin/v1`, generated from the same route definitions and zod schemas that validate
 * requests — including the whole error catalogue (`ERROR_CODES`), which the tests check is fully documented.
 */
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiResponsesObject } from 'zod-openapi';
import { ADMIN_AUTHORIZATION, type Permission } from './authorization.js';
import type { AdminRoute } from './route.js';
import { errorJson } from './response-schemas.js';
import { ERROR_CODES, type ErrorCode } from '../errors.js';

const PERMISSION_TEXT: Record<Permission, string> = {
  public: 'Anyone (no credentials needed).',
  platform: 'Platform admins: `ADMIN_API_KEY`, or an admin-API access token of a user listed in `ADMIN_EMAILS`.',
  team: 'Platform admins, and admins of `{team}` (membership role `admin`) with an admin-API access token.',
  session: 'Platform admins, and admins of the session’s team (sessions of other teams answer 404).',
  teams: 'Platform admins see every team; team admins see only the teams they administer (a `team` filter naming another team answers 403).',
};

/** The error codes a route may answer: its own plus those that follow from how it is called. */
export function errorCodesOf(route: AdminRoute): ErrorCode[] {
  const codes: ErrorCode[] = [];
  if (ADMIN_AUTHORIZATION[route.key] !== 'public') codes.push('unauthorized', 'forbidden');
  if (route.params) codes.push('invalid_path');
  if (route.query) codes.push('invalid_query');
  if (route.body) codes.push('bad_request', 'invalid_body', 'payload_too_large');
  codes.push(...route.errors, 'internal');
  return [...new Set(codes)];
}

function errorResponses(codes: ErrorCode[]): ZodOpenApiResponsesObject {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(ERROR_CODES[code].status, [...(byStatus.get(ERROR_CODES[code].status) ?? []), code]);
  const out: ZodOpenApiResponsesObject = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[String(status) as `${1 | 2 | 3 | 4 | 5}${string}`] = {
      description: list.map((c) => `\`${c}\`: ${ERROR_CODES[c].description}`).join(' '),
      ...(status === 401
        ? { headers: { 'WWW-Authenticate': { description: '`Bearer realm="switchboard-admin"`, plus `error="invalid_token"` when a token was sent but refused', schema: { type: 'string' } } } }
        : {}),
      content: {
        'application/json': {
          schema: errorJson,
          examples: Object.fromEntries(list.map((c) => [c, { value: { error: { code: c, message: ERROR_CODES[c].description } } }])),
        },
      },
    };
  }
  return out;
}

function operation(route: AdminRoute): ZodOpenApiOperationObject {
  const permission = ADMIN_AUTHORIZATION[route.key];
  const responses: ZodOpenApiResponsesObject = {};
  for (const s of [route.success, ...route.alternatives]) {
    responses[String(s.status) as `2${string}`] = {
      description: s.description,
      ...(s.schema ? { content: { 'application/json': { schema: s.schema } } } : {}),
    };
  }
  return {
    operationId: route.operationId,
    tags: [route.tag],
    summary: route.summary,
    description: [route.description, `**Who may call it:** ${PERMISSION_TEXT[permission]}`].filter(Boolean).join('\n\n'),
    'x-permission': permission,
    security: permission === 'public' ? [] : [{ adminBearer: [] }],
    requestParams: { ...(route.params ? { path: route.params as never } : {}), ...(route.query ? { query: route.query as never } : {}) },
    ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: route.body } } } } : {}),
    responses: { ...responses, ...errorResponses(errorCodesOf(route)) },
  };
}

const catalogue = Object.entries(ERROR_CODES)
  .map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.description} |`)
  .join('\n');

export function buildOpenApiDocument(routes: readonly AdminRoute[], publicUrl: string) {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of routes) paths[route.path] = { ...paths[route.path], [route.method]: operation(route) };
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Switchboard admin API',
      version: '1.0.0',
      description: [
        'Teams, members, tool servers, every user’s MCP sessions and the audit trail of tool calls. JSON in and out; lists are `{ items, nextCursor }` with opaque cursors and `limit` 1–200.',
        'Authenticate with `Authorization: Bearer $ADMIN_API_KEY`, or with an OAuth access token whose audience is `PUBLIC_URL/admin` (`switchboard token --admin --email you@example.com` mints one locally).',
        'Errors are `{"error": {"code", "message", "details"?}}`. The catalogue:\n\n| code | status | meaning |\n|---|---|---|\n' + catalogue,
      ].join('\n\n'),
    },
    servers: [{ url: `${publicUrl}/admin/v1` }],
    tags: [
      { name: 'Teams' },
      { name: 'Members' },
      { name: 'Tool servers' },
      { name: 'Sessions' },
      { name: 'Users' },
      { name: 'Audit' },
      { name: 'Meta' },
    ],
    paths,
    components: {
      securitySchemes: {
        adminBearer: {
          type: 'http',
          scheme: 'bearer',
          description: '`ADMIN_API_KEY`, or an access token for the resource `PUBLIC_URL/admin` from the gateway’s issuer.',
        },
      },
    },
  });
}
