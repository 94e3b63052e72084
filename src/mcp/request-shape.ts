/**
 * What kind of legacy-era POST the MCP endpoint received, decided before anything is looked up or stored: an
 * `initialize`, a request that still looks modern (a `server/discover` without the 2026-07-28 envelope, or a
 * protocol version neither era serves: refused, so clients fall back), or a legacy message. Requests with the
 * envelope never get here (`protocol-era.ts` sends them to the modern front end). Bodies that
 * are valid JSON but not JSON-RPC, and `initialize` params that PostgreSQL cannot store, are refused here with a
 * clear error, so no session row or server is ever created for them.
 */
import { JSONRPCMessageSchema } from '@modelcontextprotocol/core';
import { SUPPORTED_PROTOCOL_VERSIONS, isInitializeRequest, isJSONRPCRequest, type InitializeRequest } from '@modelcontextprotocol/server';

/** The `_meta` key that carries the protocol version in every 2026-07-28 request. */
export const MODERN_VERSION_KEY = 'io.modelcontextprotocol/protocolVersion';

/** The most messages a batch may hold (the SDK's transport's limit, which clients may know). */
export const MAX_BATCH = 100;

export type RequestShape =
  | { kind: 'initialize'; init: InitializeRequest }
  | { kind: 'modern' }
  | { kind: 'legacy'; protocolVersion: string | undefined }
  | { kind: 'invalid'; message: string };

const wellFormed = (s: string) => (s as string & { isWellFormed(): boolean }).isWellFormed();

/**
 * The path of the first string or key that cannot be stored, if any: PostgreSQL refuses NUL and unpaired
 * surrogates in text, and Prisma's JSON writer fails (with a TypeError, not an error about the value) on an own
 * property named `__proto__`, which `JSON.parse` creates.
 */
export function unstorableTextAt(value: unknown, path = 'params', depth = 0): string | undefined {
  if (depth > 64) return path;
  if (typeof value === 'string') return value.includes('\u0000') || !wellFormed(value) ? path : undefined;
  if (!value || typeof value !== 'object') return undefined;
  for (const [k, v] of Object.entries(value)) {
    const at = `${path}.${k}`;
    if (k.includes('\u0000') || !wellFormed(k) || k === '__proto__') return at;
    const found = unstorableTextAt(v, at, depth + 1);
    if (found) return found;
  }
  return undefined;
}

function claimsModern(m: { method?: unknown; params?: unknown }, headerVersion: string | undefined): boolean {
  if (m.method === 'server/discover') return true;
  if (headerVersion !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(headerVersion)) return true;
  const meta = (m.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
  return meta !== undefined && typeof meta === 'object' && MODERN_VERSION_KEY in meta;
}

const MESSAGE_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);

/**
 * A request or notification that `JSONRPCMessageSchema` certainly accepts, told without zod: nearly every message is
 * one, and the schema's union walked every key of the params (~2 % of a forwarded call's CPU, bench profile). Only
 * the plainest shape passes — no keys but `jsonrpc`, `id`, `method` and `params`, params without `_meta` — and
 * anything else is left to the schema, so this can only ever agree with it.
 */
export function surelyValidMessage(m: unknown): boolean {
  if (!m || typeof m !== 'object' || Array.isArray(m)) return false;
  const { jsonrpc, id, method, params } = m as Record<string, unknown>;
  if (jsonrpc !== '2.0' || typeof method !== 'string') return false;
  if (id !== undefined && typeof id !== 'string' && !Number.isSafeInteger(id)) return false;
  if (params !== undefined && (!params || typeof params !== 'object' || Array.isArray(params) || Object.hasOwn(params, '_meta'))) return false;
  for (const key in m) if (!MESSAGE_KEYS.has(key)) return false;
  return true;
}

/** Classifies a parsed POST body; `headerVersion` is the `MCP-Protocol-Version` header. */
export function requestShape(body: unknown, headerVersion: string | undefined): RequestShape {
  const messages: unknown[] = Array.isArray(body) ? body : [body];
  if (messages.length === 0) return { kind: 'invalid', message: 'Invalid Request: an empty batch' };
  if (messages.length > MAX_BATCH) return { kind: 'invalid', message: `Invalid Request: Batch must not exceed ${MAX_BATCH} messages` };
  for (const m of messages) {
    if (!surelyValidMessage(m) && !JSONRPCMessageSchema.safeParse(m).success) {
      return { kind: 'invalid', message: 'Invalid Request: the body is JSON but not a JSON-RPC 2.0 request, notification or response' };
    }
  }
  const init = messages.find((m) => (m as { method?: unknown }).method === 'initialize');
  if (init !== undefined) {
    // The SDK's `isInitializeRequest` accepts a notification too; an `initialize` without an id gets no answer and
    // so no session id: refuse it rather than store a session nobody can reach.
    if (!isInitializeRequest(init) || !isJSONRPCRequest(init)) {
      return { kind: 'invalid', message: 'Invalid Request: initialize must be a request with an id and params (protocolVersion, capabilities, clientInfo)' };
    }
    if (messages.length > 1) return { kind: 'invalid', message: 'Invalid Request: initialize must be sent on its own, not in a batch' };
    const bad = unstorableTextAt(init, 'initialize');
    if (bad) return { kind: 'invalid', message: `Invalid params: ${bad} cannot be stored (a NUL character, an unpaired surrogate or a key named __proto__)` };
    return { kind: 'initialize', init };
  }
  if (messages.some((m) => claimsModern(m as { method?: unknown; params?: unknown }, headerVersion))) return { kind: 'modern' };
  return { kind: 'legacy', protocolVersion: headerVersion };
}
