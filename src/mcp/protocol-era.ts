/**
 * Which protocol era one POST to the MCP endpoint belongs to, decided per request from its body and headers, with
 * the same rules as the MCP SDK v2's `isLegacyRequest` (and the 2026-07-28 spec, basic/versioning §Backward
 * Compatibility): a request whose `params._meta` carries `io.modelcontextprotocol/protocolVersion` (the envelope
 * claim) is modern, whatever revision it names; `initialize` without a valid modern claim, and anything without a
 * claim, is legacy — unless the `MCP-Protocol-Version` header names a modern revision, which is then refused rather
 * than served as legacy. Batches are legacy only when no element claims the envelope. The outcome is `legacy` (today's
 * sessionful endpoint serves it, unchanged), `modern` (the stateless front end, `modern-front.ts`), or a refusal the
 * modern front end answers with the spec's error. Checked against the SDK's own predicate in `protocol-era.test.ts`.
 *
 * Cheap on purpose: every POST passes here, so a legacy request costs a few property reads, never a schema parse.
 */
import { z } from 'zod';

/** The first (and so far only) modern revision; revisions compare as dates. */
export const MODERN_PROTOCOL_VERSION = '2026-07-28';
export const isModernVersion = (v: string): boolean => v >= MODERN_PROTOCOL_VERSION;

/** The reserved `_meta` keys of the per-request envelope (basic/index §_meta). */
export const META = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  logLevel: 'io.modelcontextprotocol/logLevel',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
} as const;

/** The error codes 2026-07-28 defines (basic/index §Error Codes), with the JSON-RPC ones the modern path uses. */
export const MODERN_ERROR = {
  HEADER_MISMATCH: -32020,
  MISSING_CLIENT_CAPABILITY: -32021,
  UNSUPPORTED_VERSION: -32022,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
} as const;

export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const json = z.record(z.string(), z.unknown());
const implementation = z.looseObject({
  name: z.string(),
  version: z.string(),
  title: z.string().optional(),
  websiteUrl: z.string().optional(),
  description: z.string().optional(),
  icons: z.array(z.looseObject({ src: z.string() })).optional(),
});
const clientCapabilities = z.looseObject({
  experimental: z.record(z.string(), json).optional(),
  sampling: json.optional(),
  elicitation: json.optional(),
  roots: z.looseObject({ listChanged: z.boolean().optional() }).optional(),
  extensions: z.record(z.string(), json).optional(),
});

/** The envelope every modern request carries in `params._meta` (protocol version and capabilities required). */
export const envelopeSchema = z.looseObject({
  progressToken: z.union([z.string(), z.number().int()]).optional(),
  [META.protocolVersion]: z.string(),
  [META.clientInfo]: implementation.optional(),
  [META.clientCapabilities]: clientCapabilities,
  [META.logLevel]: z.enum(LOG_LEVELS).optional(),
});
export type Envelope = z.infer<typeof envelopeSchema>;

/** A JSON-RPC message as the classifier has proven it: a request (with an id) or a notification. */
export interface ModernMessage {
  jsonrpc: '2.0';
  id?: string | number;
  method: string;
  params?: Record<string, unknown>;
}

export interface Refusal {
  kind: 'reject';
  status: number;
  code: number;
  message: string;
  data?: unknown;
}

export type EraOutcome =
  | { kind: 'legacy' }
  | { kind: 'modern'; message: ModernMessage; isRequest: boolean; version: string }
  | Refusal;

export interface EraInput {
  httpMethod: string;
  protocolVersionHeader: string | undefined;
  mcpMethodHeader: string | undefined;
  body: unknown;
}

const LEGACY = { kind: 'legacy' } as const;

const isPlain = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isId = (v: unknown) => typeof v === 'string' || (typeof v === 'number' && Number.isSafeInteger(v));
const onlyKeys = (m: Record<string, unknown>, allowed: readonly string[]) => Object.keys(m).every((k) => allowed.includes(k));

/** `params` as a JSON-RPC message may carry it: absent, or an object whose `_meta` (if any) is an object with a valid progress token. */
function paramsOk(p: unknown): boolean {
  if (p === undefined) return true;
  if (!isPlain(p)) return false;
  if (!('_meta' in p)) return true;
  const meta = p._meta;
  if (!isPlain(meta)) return false;
  if ('progressToken' in meta && !isId(meta.progressToken)) return false;
  const task = meta['io.modelcontextprotocol/related-task'];
  return task === undefined || (isPlain(task) && typeof task.taskId === 'string');
}

const REQUEST_KEYS = ['jsonrpc', 'id', 'method', 'params'] as const;
const NOTIFICATION_KEYS = ['jsonrpc', 'method', 'params'] as const;
function isRequest(m: Record<string, unknown>): boolean {
  return m.jsonrpc === '2.0' && typeof m.method === 'string' && isId(m.id) && onlyKeys(m, REQUEST_KEYS) && paramsOk(m.params);
}
function isNotification(m: Record<string, unknown>): boolean {
  return m.jsonrpc === '2.0' && typeof m.method === 'string' && onlyKeys(m, NOTIFICATION_KEYS) && paramsOk(m.params);
}
function isResponse(m: Record<string, unknown>): boolean {
  if (m.jsonrpc !== '2.0') return false;
  if ('result' in m) return onlyKeys(m, ['jsonrpc', 'id', 'result']) && isId(m.id) && isPlain(m.result) && (m.result._meta === undefined || isPlain(m.result._meta));
  const e = m.error;
  return onlyKeys(m, ['jsonrpc', 'id', 'error']) && isPlain(e) && Number.isSafeInteger(e.code) && typeof e.message === 'string' && (m.id === undefined || isId(m.id));
}

function metaOf(params: unknown): Record<string, unknown> | undefined {
  const meta = isPlain(params) ? params._meta : undefined;
  return isPlain(meta) ? meta : undefined;
}
const hasClaim = (params: unknown): boolean => {
  const meta = metaOf(params);
  return meta !== undefined && META.protocolVersion in meta;
};

/** The first thing wrong with an envelope, as `key: problem`; undefined when it is well-formed. */
export function envelopeProblem(meta: Record<string, unknown>): { key: string; problem: string } | undefined {
  for (const key of [META.protocolVersion, META.clientCapabilities]) if (!(key in meta)) return { key, problem: 'missing' };
  const parsed = envelopeSchema.safeParse(meta);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0]!;
  return { key: issue.path.map(String).join('.') || '_meta', problem: issue.message };
}

const refuse = (status: number, code: number, message: string, data?: unknown): Refusal => ({ kind: 'reject', status, code, message, ...(data !== undefined ? { data } : {}) });
const mismatch = (header: string, detail: string): Refusal =>
  refuse(400, MODERN_ERROR.HEADER_MISMATCH, `Bad Request: the request headers and body disagree: ${detail}`, { mismatch: { header } });

function classifyRequest(input: EraInput, m: ModernMessage): EraOutcome {
  const header = input.protocolVersionHeader;
  const headerModern = header !== undefined && isModernVersion(header);
  const meta = metaOf(m.params);
  if (m.method === 'initialize') {
    const claim = meta?.[META.protocolVersion];
    const validModernClaim = typeof claim === 'string' && isModernVersion(claim) && envelopeProblem(meta!) === undefined;
    if (!validModernClaim) {
      if (headerModern) return mismatch(header, `an initialize request (the legacy handshake) came with MCP-Protocol-Version ${header}`);
      return LEGACY;
    }
  }
  if (meta !== undefined && META.protocolVersion in meta) {
    const problem = envelopeProblem(meta);
    if (problem) return refuse(400, MODERN_ERROR.INVALID_PARAMS, `Invalid _meta envelope for protocol revision ${MODERN_PROTOCOL_VERSION}: ${problem.key}: ${problem.problem}`, { envelope: problem });
    const claimed = meta[META.protocolVersion] as string;
    if (header !== undefined && header !== claimed) return mismatch(header, `the body envelope names protocol version ${claimed} but the MCP-Protocol-Version header names ${header}`);
    if (input.mcpMethodHeader !== undefined && input.mcpMethodHeader !== m.method) {
      return mismatch(input.mcpMethodHeader, `the body names method ${m.method} but the Mcp-Method header names ${input.mcpMethodHeader}`);
    }
    return { kind: 'modern', message: m, isRequest: true, version: claimed };
  }
  if (headerModern) {
    const missing = meta === undefined ? ['_meta'] : [META.protocolVersion, META.clientCapabilities].filter((k) => !(k in meta));
    return refuse(
      400,
      MODERN_ERROR.INVALID_PARAMS,
      `Invalid params: the MCP-Protocol-Version header names protocol revision ${header}, but the request lacks the per-request envelope key(s): ${missing.join(', ')}`,
      { envelope: { missing } },
    );
  }
  return LEGACY;
}

function classifyNotification(input: EraInput, m: ModernMessage): EraOutcome {
  const header = input.protocolVersionHeader;
  const meta = metaOf(m.params);
  const methodMismatch = () =>
    input.mcpMethodHeader !== undefined && input.mcpMethodHeader !== m.method
      ? mismatch(input.mcpMethodHeader, `the notification names method ${m.method} but the Mcp-Method header names ${input.mcpMethodHeader}`)
      : undefined;
  if (meta !== undefined && META.protocolVersion in meta) {
    const claimed = meta[META.protocolVersion];
    if (typeof claimed !== 'string') {
      return refuse(400, MODERN_ERROR.INVALID_PARAMS, `Invalid _meta envelope for protocol revision ${MODERN_PROTOCOL_VERSION}: ${META.protocolVersion}: expected a protocol version string`);
    }
    if (header !== undefined && header !== claimed) return mismatch(header, `the notification envelope names protocol version ${claimed} but the MCP-Protocol-Version header names ${header}`);
    if (isModernVersion(claimed)) {
      const refused = methodMismatch();
      if (refused) return refused;
    }
    return { kind: 'modern', message: m, isRequest: false, version: claimed };
  }
  if (header !== undefined && isModernVersion(header)) return methodMismatch() ?? { kind: 'modern', message: m, isRequest: false, version: header };
  return LEGACY;
}

function classifyBatch(body: unknown[]): EraOutcome {
  if (body.length === 0) return refuse(400, MODERN_ERROR.INVALID_REQUEST, 'Bad Request: empty JSON-RPC batch');
  for (const m of body) {
    if (hasClaim(isPlain(m) ? m.params : undefined)) {
      return refuse(400, MODERN_ERROR.INVALID_REQUEST, `Bad Request: JSON-RPC batches may not contain requests for protocol revision ${MODERN_PROTOCOL_VERSION} or later`);
    }
    if (!isPlain(m) || !(isRequest(m) || isNotification(m) || isResponse(m))) return refuse(400, MODERN_ERROR.INVALID_REQUEST, 'Bad Request: JSON-RPC batch contains an invalid message');
  }
  return LEGACY;
}

/** The era of one request (see the top of this file). `body` is the parsed JSON body; undefined for none. */
export function classifyEra(input: EraInput): EraOutcome {
  if (input.httpMethod !== 'POST' || input.body === undefined) return LEGACY;
  const trimmed = {
    ...input,
    protocolVersionHeader: input.protocolVersionHeader?.trim(),
    mcpMethodHeader: input.mcpMethodHeader?.trim(),
  };
  const body = input.body;
  if (Array.isArray(body)) return classifyBatch(body);
  if (isPlain(body)) {
    if (isResponse(body)) return LEGACY;
    if (isRequest(body)) return classifyRequest(trimmed, body as unknown as ModernMessage);
    if (isNotification(body)) return classifyNotification(trimmed, body as unknown as ModernMessage);
  }
  return refuse(400, MODERN_ERROR.INVALID_REQUEST, 'Bad Request: the request body is not a valid JSON-RPC message');
}

/** The body's envelope, once `classifyEra` said modern (a request's envelope is validated there). */
export function envelopeOf(m: ModernMessage): Envelope | undefined {
  const meta = metaOf(m.params);
  return meta === undefined ? undefined : (meta as Envelope);
}
