/**
 * The request metadata headers of a 2026-07-28 POST (basic/transports/streamable-http §Request Metadata):
 * `MCP-Protocol-Version` and `Mcp-Method` on every request, `Mcp-Name` mirroring `params.name` (`tools/call`,
 * `prompts/get`) or `params.uri` (`resources/read`), possibly in the `=?base64?…?=` sentinel form. A missing,
 * malformed or disagreeing header is refused with 400 and `-32020` (HeaderMismatch), so that an intermediary routing
 * on the headers and the gateway acting on the body can never see two different requests. The header/body
 * disagreements the era classifier already answers (`protocol-era.ts`) are not repeated here.
 */
import { MODERN_ERROR, type ModernMessage, type Refusal } from './protocol-era.js';

/** Which body field `Mcp-Name` mirrors, per method. */
const NAME_SOURCE: Readonly<Record<string, 'name' | 'uri'>> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };

const SENTINEL = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;

/** A header value in plain or sentinel form, decoded; undefined for a malformed sentinel. */
export function decodeHeaderValue(value: string): string | undefined {
  if (!value.startsWith('=?base64?')) return value;
  const m = SENTINEL.exec(value);
  if (!m || m[1]!.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(m[1]!, 'base64');
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  return Buffer.from(text, 'utf8').equals(bytes) ? text : undefined;
}

const mismatch = (detail: string): Refusal => ({
  kind: 'reject',
  status: 400,
  code: MODERN_ERROR.HEADER_MISMATCH,
  message: `Bad Request: the request headers and body disagree: ${detail}`,
});

/** The refusal for a request whose standard headers are missing or do not match its body; undefined when they do. */
export function checkStandardHeaders(headers: { protocolVersion?: string | undefined; method?: string | undefined; name?: string | undefined }, m: ModernMessage): Refusal | undefined {
  if (headers.protocolVersion === undefined) return mismatch('the required MCP-Protocol-Version header is absent');
  if (headers.method === undefined) return mismatch(`the body names method ${m.method} but the required Mcp-Method header is absent`);
  const field = Object.hasOwn(NAME_SOURCE, m.method) ? NAME_SOURCE[m.method] : undefined;
  if (field === undefined) return undefined;
  const value = m.params?.[field];
  const bodyValue = typeof value === 'string' ? value : undefined;
  if (headers.name === undefined) {
    return bodyValue === undefined ? undefined : mismatch(`the body carries params.${field} but the required Mcp-Name header is absent`);
  }
  const decoded = decodeHeaderValue(headers.name.trim());
  if (decoded === undefined) return mismatch('the Mcp-Name header carries an invalid Base64 sentinel value');
  if (bodyValue !== undefined && decoded !== bodyValue) return mismatch(`the body carries params.${field} ${JSON.stringify(bodyValue)} but the Mcp-Name header names ${JSON.stringify(decoded)}`);
  return undefined;
}
