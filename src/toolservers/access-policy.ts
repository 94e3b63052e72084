/**
 * A tool server's access policy: which members of the team may see and use which of its tools, prompts and
 * resources. Stored with the tool server (`tool_servers.policy`), validated here for every edge (admin API, CLI,
 * console), compiled once per session into the few names the session's member may not use — so a tool server
 * without a policy costs a call nothing, and one with a policy costs a map lookup.
 *
 * ```json
 * { "tools": { "create_issue": { "roles": ["admin"] }, "delete_repo": { "hidden": true },
 *              "deploy": { "members": ["ada@example.com"], "roles": ["admin"] } },
 *   "prompts": { "triage": { "roles": ["admin"] } },
 *   "resources": { "file:///secrets.md": { "hidden": true } } }
 * ```
 *
 * Keys are names as the tool server itself lists them (no `{server}__` prefix; resources by their URI, resource
 * templates by their URI template). A name without a rule is open to every member, as is everything of a tool
 * server without a policy. A rule either hides the item from everyone (`hidden`), or restricts it to the members
 * whose role is listed (`roles`, taken literally: `["member"]` excludes admins) or who are named (`members`: e-mail
 * addresses, case-insensitive, or user ids) — either suffices. Names the tool server does not (yet) have are allowed,
 * so a policy can be written before an upstream adds the tool.
 */
import { z } from 'zod';
import { McpError } from '../mcp/mcp-error.js';

/**
 * The JSON-RPC error code of a request the policy refuses: in the range JSON-RPC leaves to servers, next to the
 * SDK's own -32000/-32001 and MCP's -32002 (resource not found). Not -32602 (invalid params): the request is valid,
 * the caller is not allowed (docs/interface.md §4).
 */
export const POLICY_DENIED = -32003;

export const POLICY_KINDS = ['tools', 'prompts', 'resources'] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];
const SINGULAR: Record<PolicyKind, string> = { tools: 'tool', prompts: 'prompt', resources: 'resource' };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

const memberRef = z
  .string()
  .trim()
  .max(320)
  .refine((v) => UUID.test(v) || EMAIL.test(v), { message: 'must be an e-mail address or a user id' })
  .meta({ description: 'An e-mail address (case-insensitive) or a user id' });

export const accessRule = z
  .strictObject({
    hidden: z.literal(true).optional().meta({ description: 'Absent from every member’s lists; calls are refused' }),
    roles: z
      .array(z.enum(['member', 'admin'], { message: 'must be member or admin' }))
      .min(1, { message: 'must name at least one role (use hidden to hide it from everyone)' })
      .max(2)
      .optional()
      .meta({ description: 'Members with one of these roles may use it (taken literally: ["member"] excludes admins)' }),
    members: z
      .array(memberRef)
      .min(1, { message: 'must name at least one member (use hidden to hide it from everyone)' })
      .max(1000)
      .optional()
      .meta({ description: 'These members may use it, whatever their role' }),
  })
  .refine((r) => r.hidden === undefined || (r.roles === undefined && r.members === undefined), { message: 'hidden cannot be combined with roles or members' })
  .refine((r) => r.hidden !== undefined || r.roles !== undefined || r.members !== undefined, { message: 'a rule needs hidden, roles or members' })
  .meta({ id: 'AccessRule', description: 'Either `hidden: true`, or who may use the item: `roles` and/or `members` (either suffices)' });

/** Keys: names (or URIs) as the tool server lists them; unknown ones are allowed (an upstream may add them later). */
const rules = (what: string, maxKey: number) =>
  z
    .record(
      z
        .string()
        .min(1, { message: 'must not be empty' })
        .max(maxKey)
        .refine((k) => ![...k].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f), { message: 'must not contain control characters' }),
      accessRule,
    )
    .refine((r) => Object.keys(r).length <= 1000, { message: 'at most 1000 rules' })
    .optional()
    .meta({ description: `Rules by ${what} as the tool server lists it (without the \`{server}__\` prefix)` });

export const accessPolicy = z
  .strictObject({
    tools: rules('tool name', 256),
    prompts: rules('prompt name', 256),
    resources: rules('resource URI or resource-template URI template', 2048),
  })
  .meta({
    id: 'AccessPolicy',
    description:
      'Who may see and use which tools, prompts and resources of this tool server. Items without a rule are open to every member. Disallowed items are absent from the member’s lists; requests for them are refused with JSON-RPC error -32003 and audited as `denied`.',
    example: { tools: { create_issue: { roles: ['admin'] }, delete_repo: { hidden: true } } },
  });

export type AccessPolicy = z.output<typeof accessPolicy>;
export type AccessRule = z.output<typeof accessRule>;

/** The policy as stored; `undefined` for an empty one (nothing restricted: the common case costs nothing). */
export function normalizePolicy(p: AccessPolicy): AccessPolicy | undefined {
  const out: AccessPolicy = {};
  for (const kind of POLICY_KINDS) {
    const r = p[kind];
    if (r && Object.keys(r).length > 0) out[kind] = r;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A stored policy read back: one that no longer parses (edited by hand) hides everything of the tool server. */
export type StoredPolicy = AccessPolicy | 'invalid' | undefined;

export function readStoredPolicy(raw: unknown): StoredPolicy {
  if (raw === null || raw === undefined) return undefined;
  const parsed = accessPolicy.safeParse(raw);
  return parsed.success ? normalizePolicy(parsed.data) : 'invalid';
}

/** Who a session's member is, as a policy sees them. */
export interface PolicySubject {
  readonly role: 'member' | 'admin';
  readonly user: { readonly id: string; readonly email: string | null };
}

/** What one member may not use of one tool server: the refusal message by name, per kind. */
export interface ServerDenials {
  readonly tools?: ReadonlyMap<string, string>;
  readonly prompts?: ReadonlyMap<string, string>;
  readonly resources?: ReadonlyMap<string, string>;
  /** The stored policy could not be read: everything of the tool server is refused (fail closed). */
  readonly all?: string;
}

/** Tool server name → what the member may not use there. Only tool servers with a policy have an entry. */
export type SessionAccess = ReadonlyMap<string, ServerDenials>;

function allows(rule: AccessRule, who: PolicySubject): boolean {
  if (rule.hidden) return false;
  if (rule.roles?.includes(who.role)) return true;
  if (!rule.members) return false;
  const email = who.user.email?.toLowerCase();
  return rule.members.some((m) => m === who.user.id || (email !== undefined && m.toLowerCase() === email));
}

function plural(role: string): string {
  return `${role}s`;
}

/** The refusal as the client reads it: what, why, and whose policy (the team's, for which tool server). */
export function denialMessage(kind: PolicyKind, name: string, server: string, rule: AccessRule | undefined): string {
  const what = `${SINGULAR[kind]} ${name}`;
  const whose = `by the team's policy for tool server ${server}`;
  if (!rule) return `${what} is not available: the team's policy for tool server ${server} could not be read`;
  if (rule.hidden) return `${what} is hidden ${whose}`;
  const who = [...(rule.roles ?? []).map(plural), ...(rule.members ? ['named members'] : [])].join(' and ');
  return `${what} is restricted to ${who} ${whose}`;
}

/** What `who` may not use of each tool server: computed once per session (and again when its member's role changes). */
export function accessFor(defs: readonly { name: string; policy?: StoredPolicy }[], who: PolicySubject): SessionAccess | undefined {
  let out: Map<string, ServerDenials> | undefined;
  for (const def of defs) {
    if (def.policy === undefined) continue;
    out ??= new Map();
    if (def.policy === 'invalid') {
      out.set(def.name, { all: `tool server ${def.name} is not available: the team's policy for it could not be read` });
      continue;
    }
    const denials: { -readonly [K in PolicyKind]?: Map<string, string> } = {};
    for (const kind of POLICY_KINDS) {
      for (const [name, rule] of Object.entries(def.policy[kind] ?? {})) {
        if (allows(rule, who)) continue;
        (denials[kind] ??= new Map()).set(name, denialMessage(kind, name, def.name, rule));
      }
    }
    if (denials.tools || denials.prompts || denials.resources) out.set(def.name, denials);
  }
  return out?.size ? out : undefined;
}

/** Why `who` may not use `name` of `server`, if they may not. */
export function denialOf(access: SessionAccess | undefined, server: string, kind: PolicyKind, name: string): string | undefined {
  if (access === undefined) return undefined;
  const d = access.get(server);
  if (d === undefined) return undefined;
  return d.all ?? d[kind]?.get(name);
}

/** A request refused by a tool server's policy: a JSON-RPC error naming the policy (audited as `denied`). */
export class PolicyDeniedError extends McpError {
  constructor(message: string, data: { toolServer: string; kind: PolicyKind; name: string }) {
    super(POLICY_DENIED, message, { reason: 'policy', ...data });
    // The SDK prefixes "MCP error -32003: "; the client reads the sentence alone.
    this.message = message;
    this.name = 'PolicyDeniedError';
  }
}
