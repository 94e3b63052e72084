/**
 * Tool parameters mirrored into HTTP headers (2026-07-28 basic/transports/streamable-http §Custom Headers from Tool
 * Parameters): a tool's `inputSchema` may mark primitive properties with `"x-mcp-header": "Region"`, and a client
 * then sends `Mcp-Param-Region: <value>` with every `tools/call` of that tool, so that a load balancer or policy
 * engine can act on the value without reading the body. The gateway is on both sides of this:
 *
 * - toward a 2026-07-28 upstream it is the client: tools whose annotations break the rules are left out of the
 *   upstream's list (with a warning), and each relayed call carries the headers of the upstream's own schema;
 * - toward a 2026-07-28 client it is the server that reads the body: the headers the client sent for the tool as the
 *   gateway listed it must match the arguments, else 400 with `-32020` (HeaderMismatch).
 *
 * The rules are the spec's: a non-empty HTTP token, case-insensitively unique within the schema, on a property of
 * type string, integer or boolean that is reached from the root through `properties` keys only (not `items`,
 * `anyOf`, `$ref`, …). Parsed schemas are remembered per schema object, so a listing shared by every session of the
 * process is parsed once, and a tool without annotations costs a map lookup per call.
 */
import type { Tool } from '@modelcontextprotocol/client';
import { decodeHeaderValue } from '../mcp/modern-headers.js';
import { headerValue } from './modern-upstream.js';

/** One annotated property: the header's name (lower case, as Node gives request headers) and where its value is. */
export interface ParamHeader {
  /** `x-mcp-header`'s value as the schema spells it (for messages). */
  readonly name: string;
  /** `mcp-param-<name>`, lower case. */
  readonly header: string;
  /** The chain of `properties` keys from the root to the property. */
  readonly path: readonly string[];
  readonly type: 'string' | 'integer' | 'boolean';
}

/** What a tool's annotations are: the headers it wants (often none), or why the tool must be left out. */
export type ParamHeaders = readonly ParamHeader[] | { readonly invalid: string };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PRIMITIVE = new Set(['string', 'integer', 'boolean']);
/** Keywords whose values are instance data, not schemas: an `x-mcp-header` key in them annotates nothing. */
const DATA_KEYWORDS = new Set(['const', 'default', 'enum', 'examples']);
const NONE: readonly ParamHeader[] = Object.freeze([]);

const parsed = new WeakMap<object, ParamHeaders>();

/** The headers `inputSchema` asks for, or why its annotations are invalid. */
export function paramHeadersOf(inputSchema: unknown): ParamHeaders {
  if (inputSchema === null || typeof inputSchema !== 'object') return NONE;
  let result = parsed.get(inputSchema);
  if (result === undefined) {
    result = parse(inputSchema as Record<string, unknown>);
    parsed.set(inputSchema, result);
  }
  return result;
}

function parse(root: Record<string, unknown>): ParamHeaders {
  const found: ParamHeader[] = [];
  const names = new Set<string>();
  let invalid: string | undefined;

  /** Visits a schema node; `path` is its chain of `properties` keys, undefined once any other keyword was crossed. */
  function visit(node: unknown, path: string[] | undefined): void {
    if (invalid !== undefined || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const item of node) visit(item, undefined);
      return;
    }
    const schema = node as Record<string, unknown>;
    if (Object.hasOwn(schema, 'x-mcp-header')) {
      const name = schema['x-mcp-header'];
      const where = path ? `property ${path.join('.') || '(root)'}` : 'a property not reached through properties alone';
      if (path === undefined || path.length === 0) invalid = `x-mcp-header on ${where}`;
      else if (typeof name !== 'string' || !TOKEN.test(name)) invalid = `x-mcp-header of ${where} is not an HTTP token`;
      else if (names.has(name.toLowerCase())) invalid = `x-mcp-header ${name} is used twice`;
      else if (typeof schema.type !== 'string' || !PRIMITIVE.has(schema.type)) invalid = `x-mcp-header ${name} is on ${where}, whose type is not string, integer or boolean`;
      else {
        names.add(name.toLowerCase());
        found.push({ name, header: `mcp-param-${name.toLowerCase()}`, path, type: schema.type as ParamHeader['type'] });
      }
      if (invalid !== undefined) return;
    }
    for (const [keyword, value] of Object.entries(schema)) {
      if (DATA_KEYWORDS.has(keyword) || keyword === 'x-mcp-header') continue;
      if (keyword === 'properties' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
        for (const [prop, sub] of Object.entries(value as Record<string, unknown>)) visit(sub, path ? [...path, prop] : undefined);
      } else {
        visit(value, undefined);
      }
    }
  }

  visit(root, []);
  if (invalid !== undefined) return { invalid };
  return found.length === 0 ? NONE : Object.freeze(found);
}

/** The annotated tools of a listing by name (tools without annotations are absent); remembered per listing. */
const indexes = new WeakMap<readonly Tool[], ReadonlyMap<string, readonly ParamHeader[]>>();
const EMPTY_INDEX: ReadonlyMap<string, readonly ParamHeader[]> = new Map();

export function paramIndex(tools: readonly Tool[]): ReadonlyMap<string, readonly ParamHeader[]> {
  let index = indexes.get(tools);
  if (index === undefined) {
    let built: Map<string, readonly ParamHeader[]> | undefined;
    for (const t of tools) {
      const headers = paramHeadersOf(t.inputSchema);
      if ('invalid' in headers || headers.length === 0) continue;
      (built ??= new Map()).set(t.name, headers);
    }
    index = built ?? EMPTY_INDEX;
    indexes.set(tools, index);
  }
  return index;
}

/**
 * An upstream's listing without the tools whose annotations break the rules (the spec has clients leave them out,
 * so one bad definition does not take the others down); `warn` is told each one left out and why.
 */
export function withoutInvalidAnnotations(tools: Tool[], warn: (tool: string, reason: string) => void): Tool[] {
  let kept: Tool[] | undefined;
  tools.forEach((t, i) => {
    const headers = paramHeadersOf(t.inputSchema);
    if (!('invalid' in headers)) {
      kept?.push(t);
      return;
    }
    warn(t.name, headers.invalid);
    kept ??= tools.slice(0, i);
  });
  return kept ?? tools;
}

/** The value at `path` in the call's arguments; undefined when any step is missing. */
function valueAt(args: unknown, path: readonly string[]): unknown {
  let v = args;
  for (const key of path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** A primitive as the spec writes it into a header (before encoding); undefined for anything else. */
function asText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** The `Mcp-Param-*` headers of a call with `args` (a missing or null value sends no header). */
export function mirroredHeaders(params: readonly ParamHeader[], args: unknown): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const p of params) {
    const text = asText(valueAt(args, p.path));
    if (text !== undefined) headers[p.header] = headerValue(text);
  }
  return headers;
}

/**
 * Why the `Mcp-Param-*` headers of a call do not match its arguments (`get` reads a request header by its lower-case
 * name); undefined when they match. Integers compare as numbers (`42.0` is `42`).
 */
export function paramHeaderMismatch(params: readonly ParamHeader[], args: unknown, get: (header: string) => string | undefined): string | undefined {
  for (const p of params) {
    const value = valueAt(args, p.path);
    const raw = get(p.header);
    const field = `arguments.${p.path.join('.')}`;
    const header = `Mcp-Param-${p.name}`;
    if (value === undefined || value === null) {
      if (raw !== undefined) return `the ${header} header is present but ${field} has no value`;
      continue;
    }
    if (raw === undefined) return `${field} is set but the required ${header} header is absent`;
    const decoded = decodeHeaderValue(raw.trim());
    if (decoded === undefined) return `the ${header} header carries an invalid Base64 sentinel value`;
    const same = p.type === 'integer' && typeof value === 'number' ? decoded.trim() !== '' && Number(decoded) === value : decoded === asText(value);
    if (!same) return `${field} is ${JSON.stringify(value)} but the ${header} header says ${JSON.stringify(decoded)}`;
  }
  return undefined;
}
