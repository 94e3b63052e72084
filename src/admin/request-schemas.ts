/**
 * The admin API's request schemas: path parameters, queries and bodies. Requests are validated with them and the
 * OpenAPI document is generated from them (`openapi.ts`), so the two cannot drift apart. Bodies and queries are
 * strict: an unknown field is a 400, not silently dropped. Response shapes are in `response-schemas.ts`.
 */
import 'zod-openapi';
import { z } from 'zod';
import { TEAM_SLUG } from '../teams/team-directory.js';
import { teamInput } from '../teams/team-admin.js';
import { sessionListQuery } from '../sessions/session-list.js';
import { TOOL_SERVER_NAME, toolServerInput } from '../toolservers/tool-server-config.js';
import { accessPolicy } from '../toolservers/access-policy.js';
import type { ToolCallOutcome } from '../mcp/session-server.js';

export const EXAMPLE_USER_ID = '5f0c8e2a-1d3b-4c6e-8f7a-9b0c1d2e3f40';
export const EXAMPLE_SESSION_ID = 'a3c1e5f7-2b4d-4e6f-8a0c-1e3f5a7c9e2b';

// ---- path parameters -------------------------------------------------------------------------------------------

export const teamSlugParam = z
  .string()
  .regex(TEAM_SLUG, { message: 'must be a team slug (1–63 lowercase letters, digits or dashes)' })
  .meta({ description: 'The team slug', example: 'acme' });
export const userIdParam = z.uuid({ message: 'must be a UUID' }).meta({ description: 'A user id', example: EXAMPLE_USER_ID });
export const sessionIdParam = z.uuid({ message: 'must be a session id (a UUID)' }).meta({ description: 'A session id (Mcp-Session-Id)', example: EXAMPLE_SESSION_ID });
export const toolServerNameParam = z
  .string()
  .regex(TOOL_SERVER_NAME, { message: 'must be 1–32 of a-z, 0-9, _ and -' })
  .meta({ description: 'The tool server name', example: 'github' });

const emailAddress = z
  .string()
  .trim()
  .min(3)
  .max(320)
  .regex(/^[^\s@]+@[^\s@]+$/, { message: 'must be an e-mail address' });

export const teamPath = z.strictObject({ team: teamSlugParam });
export const invitationPath = z.strictObject({
  team: teamSlugParam,
  email: emailAddress.meta({ description: 'The invited e-mail address (case-insensitive; percent-encode it)', example: 'grace@example.com' }),
});
export const memberPath = z.strictObject({ team: teamSlugParam, userId: userIdParam });
export const toolServerPath = z.strictObject({ team: teamSlugParam, name: toolServerNameParam });
export const userPath = z.strictObject({ userId: userIdParam });
export const sessionPath = z.strictObject({ sessionId: sessionIdParam });

// ---- queries ---------------------------------------------------------------------------------------------------

const limit = z.coerce.number().int().min(1).max(200).default(50).meta({ description: 'Page size (1–200)', example: 50 });
const cursor = z.string().min(1).max(500).optional().meta({ description: 'The `nextCursor` of the previous page (opaque)' });

export const noQuery = z.strictObject({});
export const listQuery = z.strictObject({ cursor, limit });
export const sessionsQuery = sessionListQuery.strict().extend({
  chat: sessionListQuery.shape.chat.meta({ description: 'Only sessions of this chat (the `x-chat-id` value)', example: 'chat-42' }),
  status: sessionListQuery.shape.status.meta({ description: '`active`, `closed` or `all`' }),
  client: sessionListQuery.shape.client.meta({ description: 'Only sessions of this OAuth client id' }),
  since: sessionListQuery.shape.since.meta({ description: 'Only sessions created at or after this time (RFC 3339)' }),
  cursor,
  limit,
});
/** Filters of the gateway-wide lists (`GET /sessions`, `GET /audit`); they narrow the caller's scope, never widen it. */
const teamFilter = teamSlugParam.optional().meta({ description: 'Only this team (team admins: one they administer, else 403)', example: 'acme' });
const userFilter = emailAddress.optional().meta({
  description: 'Only this user’s, by e-mail address: exact match on the normalised address (trimmed, case-insensitive)',
  example: 'ada@example.com',
});

export const allSessionsQuery = sessionsQuery.extend({ team: teamFilter, user: userFilter });

/**
 * Outcomes of a tool call as the audit trail records them. `denied` is a call refused by the tool server's policy.
 * The check below fails to compile when the MCP layer gains an outcome this list does not know.
 */
export const TOOL_CALL_OUTCOMES = ['ok', 'tool_error', 'upstream_error', 'error', 'denied'] as const;
const outcomesCovered: ToolCallOutcome extends (typeof TOOL_CALL_OUTCOMES)[number] ? true : false = true;
void outcomesCovered;

const instant = (description: string) =>
  z.iso
    .datetime({ offset: true, message: 'must be an RFC 3339 date-time, e.g. 2026-05-04T09:30:00Z' })
    .optional()
    .meta({ description, example: '2026-05-04T09:30:00Z' });

export const auditQuery = z
  .strictObject({
    team: teamFilter,
    user: userFilter,
    tool: z.string().min(1).max(200).optional().meta({ description: 'Only calls of this tool (its name as the client saw it, e.g. `github__create_issue`)' }),
    outcome: z.enum(TOOL_CALL_OUTCOMES).optional().meta({ description: 'Only calls with this outcome' }),
    from: instant('Only calls at or after this time (RFC 3339)'),
    to: instant('Only calls before this time (RFC 3339; exclusive)'),
    cursor,
    limit,
  })
  .refine((q) => q.from === undefined || q.to === undefined || Date.parse(q.from) < Date.parse(q.to), { message: 'must be later than from', path: ['to'] });

export const usersQuery = z.strictObject({
  email: emailAddress.meta({ description: 'E-mail address: exact match, case-insensitive (`_` and `%` are ordinary characters)', example: 'ada@example.com' }),
  cursor,
  limit,
});

// ---- bodies ----------------------------------------------------------------------------------------------------

export const teamCreateBody = teamInput.strict().meta({
  id: 'TeamCreate',
  description: 'A new team. `packs` adds built-in tool servers of those names.',
  example: { slug: 'acme', name: 'Acme Inc.', joinPolicy: 'invite', packs: ['demo'] },
});

export const teamPatchBody = z
  .strictObject({
    slug: z.string().optional().meta({ description: 'Immutable: accepted only when unchanged (otherwise 422)' }),
    name: teamInput.shape.name.optional(),
    joinPolicy: teamInput.shape.joinPolicy.removeDefault().optional(),
  })
  .meta({ id: 'TeamPatch', example: { name: 'Acme Corporation', joinPolicy: 'open' } });

export const memberRole = z.enum(['member', 'admin']).meta({ description: 'Team admins may manage the team through this API' });

export const memberAddBody = z
  .strictObject({
    email: z.email({ message: 'must be an e-mail address' }).max(320).optional(),
    userId: userIdParam.optional(),
    role: memberRole.default('member'),
  })
  .refine((b) => (b.email === undefined) !== (b.userId === undefined), { message: 'give exactly one of email or userId', path: ['email'] })
  .meta({
    id: 'MemberAdd',
    description: 'Adds a user (or changes their role), or invites an e-mail address. Give `email` or `userId`.',
    example: { email: 'grace@example.com', role: 'admin' },
  });

export const toolServerCreateBody = toolServerInput.meta({
  id: 'ToolServerCreate',
  description: 'A built-in pack or a remote MCP server. A static secret is write-only.',
  example: {
    name: 'github',
    kind: 'remote',
    url: 'https://mcp.example.com/mcp',
    auth: { mode: 'static', header: 'Authorization', secret: 'Bearer s3cr3t' },
    policy: { tools: { create_issue: { roles: ['admin'] }, delete_repo: { hidden: true } } },
  },
});

export const toolServerPatchBody = z
  .strictObject({
    name: z.string().optional().meta({ description: 'Immutable: accepted only when unchanged (otherwise 422)' }),
    kind: z.enum(['builtin', 'remote']).optional().meta({ description: 'Immutable: accepted only when unchanged (otherwise 422)' }),
    pack: z.string().optional(),
    url: z.string().optional(),
    auth: z
      .looseObject({ mode: z.enum(['exchange', 'passthrough', 'static', 'none', 'oauth']) })
      .optional()
      .meta({ description: 'Replaces the auth settings. For `static`, omit `secret` to keep the stored one; for `oauth`, omit `clientSecret` to keep the stored one (same `clientId` and URL).' }),
    prefix: z.boolean().optional(),
    enabled: z.boolean().optional(),
    policy: accessPolicy.optional().meta({ description: 'Replaces the access policy as a whole; `{}` clears it' }),
  })
  .meta({
    id: 'ToolServerPatch',
    description: 'Changes some settings; the result is validated like a new tool server.',
    example: { enabled: false },
  });
