/**
 * The admin API's response shapes (and the error envelope with the whole error catalogue), for the OpenAPI document
 * and for tests that check every answer against them. Strict, so an undocumented field fails those tests.
 */
import 'zod-openapi';
import { z } from 'zod';
import type { SessionJson } from '../sessions/session-json.js';
import type { ToolServerJson } from '../toolservers/tool-server-config.js';
import type { ConnectionJson } from '../toolservers/oauth/connections-service.js';
import { accessPolicy } from '../toolservers/access-policy.js';
import { EXAMPLE_SESSION_ID, EXAMPLE_USER_ID, memberRole } from './request-schemas.js';
import { ERROR_CODES, type ErrorCode } from '../errors.js';

const EXAMPLE_TEAM_ID = '0b7d5a43-5c1e-4f7e-9a51-3f2b8c6d9e10';
const timestamp = z.iso.datetime().meta({ example: '2026-05-04T09:30:00.000Z' });

export const teamJson = z
  .strictObject({
    id: z.uuid(),
    slug: z.string(),
    name: z.string(),
    joinPolicy: z.enum(['open', 'invite']),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({
    id: 'Team',
    example: { id: EXAMPLE_TEAM_ID, slug: 'acme', name: 'Acme Inc.', joinPolicy: 'invite', createdAt: '2026-05-04T09:30:00.000Z', updatedAt: '2026-05-04T09:30:00.000Z' },
  });

export const memberJson = z
  .strictObject({ userId: z.uuid(), email: z.string().nullable(), name: z.string().nullable(), role: memberRole, createdAt: timestamp })
  .meta({ id: 'Member', example: { userId: EXAMPLE_USER_ID, email: 'grace@example.com', name: null, role: 'admin', createdAt: '2026-05-04T09:30:00.000Z' } });

export const invitationJson = z
  .strictObject({
    team: z.string(),
    email: z.string().meta({ description: 'Normalised: trimmed, lower case' }),
    role: memberRole,
    createdAt: timestamp,
  })
  .meta({
    id: 'Invitation',
    description: 'A pending membership: it takes effect when a user with this verified e-mail address signs in.',
    example: { team: 'acme', email: 'grace@example.com', role: 'member', createdAt: '2026-05-04T09:30:00.000Z' },
  });

export const invitationCreated = z.strictObject({ invitation: invitationJson }).meta({ id: 'InvitationCreated' });

export const toolServerJson = z
  .strictObject({
    name: z.string(),
    kind: z.enum(['builtin', 'remote']),
    pack: z.string().exactOptional(),
    url: z.string().exactOptional(),
    auth: z
      .strictObject({
        mode: z.string(),
        header: z.string().exactOptional(),
        secretSet: z.boolean().exactOptional(),
        clientId: z.string().exactOptional().meta({ description: 'Mode `oauth`: the pre-registered client id, if any' }),
        scopes: z.array(z.string()).exactOptional().meta({ description: 'Mode `oauth`: the scopes asked for' }),
      })
      .exactOptional()
      .meta({ description: 'Remote servers only. Secrets (a static secret, an `oauth` client secret) are never returned; `secretSet` says whether one is stored.' }),
    prefix: z.boolean(),
    enabled: z.boolean(),
    policy: accessPolicy,
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({
    id: 'ToolServer',
    example: {
      name: 'github',
      kind: 'remote',
      url: 'https://mcp.example.com/mcp',
      auth: { mode: 'static', header: 'Authorization', secretSet: true },
      prefix: true,
      enabled: true,
      policy: { tools: { create_issue: { roles: ['admin'] }, delete_repo: { hidden: true } } },
      createdAt: '2026-05-04T09:30:00.000Z',
      updatedAt: '2026-05-04T09:30:00.000Z',
    },
  });

export const sessionJson = z
  .strictObject({
    id: z.string(),
    team: z.string(),
    userId: z.uuid(),
    userEmail: z.string().nullable(),
    chatId: z.string().nullable(),
    clientId: z.string(),
    clientName: z.string().nullable(),
    clientVersion: z.string().nullable(),
    protocolVersion: z.string(),
    status: z.enum(['active', 'closed']),
    createdAt: timestamp,
    lastSeenAt: timestamp.meta({
      description:
        'When the session last served a request. Refreshed at most every 15 seconds (each refresh is a database write), so it may lag the latest request by up to 15 s.',
    }),
    closedAt: timestamp.nullable(),
    closeReason: z.string().nullable().meta({ description: 'client_delete, expired, admin, team_deleted, user_removed or superseded (a newer initialize of the same user, client and chat replaced it)' }),
  })
  .meta({
    id: 'Session',
    example: {
      id: EXAMPLE_SESSION_ID,
      team: 'acme',
      userId: EXAMPLE_USER_ID,
      userEmail: 'ada@example.com',
      chatId: 'chat-42',
      clientId: 'https://claude.ai/oauth/mcp-oauth-client-metadata',
      clientName: 'claude-ai',
      clientVersion: '0.1.0',
      protocolVersion: '2025-11-25',
      status: 'active',
      createdAt: '2026-05-04T09:30:00.000Z',
      lastSeenAt: '2026-05-04T09:41:12.000Z',
      closedAt: null,
      closeReason: null,
    },
  });

export const auditRecordJson = z
  .strictObject({
    id: z.string().meta({ description: 'Increasing with the order records were written (a record held through a database outage may carry an earlier `at`)' }),
    at: timestamp.meta({ description: 'When the call ended' }),
    team: z.string(),
    userId: z.uuid().nullable(),
    userEmail: z.string().nullable(),
    sessionId: z.string().nullable(),
    chatId: z.string().nullable(),
    clientId: z.string().nullable().meta({ description: 'The OAuth client of the session (null for records written before the gateway recorded it)' }),
    tool: z.string(),
    outcome: z.string().meta({ description: 'ok, tool_error (the tool answered isError), upstream_error (the tool server failed), error (the gateway failed) or denied (refused by policy)' }),
    durationMs: z.number().int().nullable(),
  })
  .meta({
    id: 'AuditRecord',
    description: 'One tool call. Arguments and results are never recorded.',
    example: {
      id: '1042',
      at: '2026-05-04T09:41:12.000Z',
      team: 'acme',
      userId: EXAMPLE_USER_ID,
      userEmail: 'ada@example.com',
      sessionId: EXAMPLE_SESSION_ID,
      chatId: 'chat-42',
      clientId: 'https://claude.ai/oauth/mcp-oauth-client-metadata',
      tool: 'github__create_issue',
      outcome: 'ok',
      durationMs: 412,
    },
  });

export const userJson = z
  .strictObject({
    id: z.uuid(),
    email: z.string().nullable(),
    name: z.string().nullable(),
    issuer: z.string(),
    subject: z.string(),
    createdAt: timestamp,
    memberships: z.array(z.strictObject({ team: z.string(), role: memberRole })),
  })
  .meta({
    id: 'User',
    example: {
      id: EXAMPLE_USER_ID,
      email: 'ada@example.com',
      name: null,
      issuer: 'urn:switchboard:local',
      subject: 'ada@example.com',
      createdAt: '2026-05-04T09:30:00.000Z',
      memberships: [{ team: 'acme', role: 'member' }],
    },
  });

export const connectionJson = z
  .strictObject({
    id: z.string(),
    team: z.string(),
    toolServer: z.string(),
    userId: z.string(),
    scope: z.string().nullable(),
    expiresAt: timestamp.nullable().meta({ description: 'When the current upstream access token expires (it is refreshed before); null when the upstream did not say' }),
    refreshable: z.boolean().meta({ description: 'Whether the gateway holds a refresh token' }),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({
    id: 'Connection',
    description: 'A user’s own account at a tool server with auth mode `oauth`. The tokens are never returned.',
    example: {
      id: '0b8f5a51-7c1e-4f0e-9d5e-3c2a1b0f9e8d',
      team: 'acme',
      toolServer: 'github',
      userId: '7d3c1f0e-5b2a-4c8d-9e6f-1a2b3c4d5e6f',
      scope: 'repo',
      expiresAt: '2026-05-04T10:30:00.000Z',
      refreshable: true,
      createdAt: '2026-05-04T09:30:00.000Z',
      updatedAt: '2026-05-04T09:30:00.000Z',
    },
  });

export function listOf<T extends z.ZodType>(item: T, id: string) {
  return z
    .strictObject({
      items: z.array(item),
      nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last page' }),
    })
    .meta({ id });
}

const errorCode = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]).meta({
  id: 'ErrorCode',
  description: Object.entries(ERROR_CODES)
    .map(([code, e]) => `- \`${code}\` (${e.status}): ${e.description}`)
    .join('\n'),
});

export const errorJson = z
  .strictObject({
    error: z.strictObject({
      code: errorCode,
      message: z.string(),
      details: z
        .array(z.strictObject({ field: z.string(), message: z.string() }))
        .optional()
        .meta({ description: 'For invalid bodies, queries and path parameters: one entry per offending field' }),
    }),
  })
  .meta({ id: 'Error', example: { error: { code: 'invalid_body', message: 'Invalid body', details: [{ field: 'slug', message: 'must be 1–63 lowercase letters, digits or dashes' }] } } });

// Compile-time proof that the response schemas describe what the code returns.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sessionShapeMatches: Same<z.infer<typeof sessionJson>, SessionJson> = true;
const toolServerShapeMatches: Same<Omit<z.infer<typeof toolServerJson>, 'auth'>, Omit<ToolServerJson, 'auth'>> = true;
const connectionShapeMatches: Same<z.infer<typeof connectionJson>, ConnectionJson> = true;
void connectionShapeMatches;
void sessionShapeMatches;
void toolServerShapeMatches;
