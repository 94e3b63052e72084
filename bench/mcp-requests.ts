/**
 * What the load generator sends, per protocol era, built once so the measured loop only splices a request id in:
 * - legacy (2025-11-25): `initialize` + `notifications/initialized`, then requests on the `Mcp-Session-Id`;
 * - modern (2026-07-28): no handshake; every request a POST carrying the `_meta` envelope and the
 *   `MCP-Protocol-Version` / `Mcp-Method` / `Mcp-Name` headers, a "session" being the chat its `x-chat-id` names.
 * Also the one answer parser both eras share (a JSON body, or the `data:` lines of an event stream).
 */

export type BenchEra = 'legacy' | 'modern';

export const LEGACY_PROTOCOL = '2025-11-25';
export const MODERN_PROTOCOL = '2026-07-28';

/** `BENCH_CLIENT_ERA` / `BENCH_UPSTREAM_ERA`: legacy (the default) or modern; anything else stops the bench. */
export function benchEra(name: string, value: string | undefined): BenchEra {
  if (value === undefined || value === '' || value === 'legacy') return 'legacy';
  if (value === 'modern') return 'modern';
  throw new Error(`${name} must be legacy or modern, not ${JSON.stringify(value)}`);
}

const ENVELOPE = JSON.stringify({
  'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL,
  'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
});

export const INIT_BODY = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: LEGACY_PROTOCOL, capabilities: {}, clientInfo: { name: 'bench', version: '1' } } });
export const INITIALIZED_BODY = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });
export const DISCOVER_BODY = `{"jsonrpc":"2.0","id":0,"method":"server/discover","params":{"_meta":${ENVELOPE}}}`;

/** The `tools/list` request (id 1) of an era. */
export function listBody(era: BenchEra): string {
  return era === 'legacy' ? JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) : `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":${ENVELOPE}}}`;
}

const CALL_HEAD = '{"jsonrpc":"2.0","id":';
const CALL_TAIL: Record<BenchEra, string> = {
  legacy: ',"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}',
  modern: `,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"},"_meta":${ENVELOPE}}}`,
};

/** The `tools/call echo` request with id `id`. */
export function callBody(era: BenchEra, id: number): string {
  return CALL_HEAD + id + CALL_TAIL[era];
}

/** The headers a modern request for `method` (naming `name`) carries on top of `base`. */
export function modernHeaders(base: Record<string, string>, method: string, name?: string): Record<string, string> {
  return { ...base, 'mcp-protocol-version': MODERN_PROTOCOL, 'mcp-method': method, ...(name !== undefined ? { 'mcp-name': name } : {}) };
}

export interface Reply {
  status: number;
  sid: string | undefined;
  body: string;
}

/** The JSON-RPC response with this id, from a JSON body or from the `data:` lines of an SSE body. */
export function answer(reply: Reply, id: number): { result?: { isError?: boolean; resultType?: string }; error?: unknown } {
  if (reply.status !== 200) throw new Error(`HTTP ${reply.status}: ${reply.body.slice(0, 200)}`);
  // An event stream may open with a priming event (an id, a retry hint and empty data: 2025-11-25 SSE polling).
  const candidates = reply.body.startsWith('{') ? [reply.body] : reply.body.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).filter(Boolean);
  for (const c of candidates) {
    const m = JSON.parse(c) as { id?: unknown; result?: { isError?: boolean; resultType?: string }; error?: unknown };
    if (m.id === id) {
      if (m.error !== undefined || !m.result) throw new Error(`JSON-RPC error: ${c.slice(0, 200)}`);
      if (m.result.resultType !== undefined && m.result.resultType !== 'complete') throw new Error(`result of type ${m.result.resultType}: ${c.slice(0, 200)}`);
      return m;
    }
  }
  throw new Error(`no answer to request ${id}: ${reply.body.slice(0, 200)}`);
}

/**
 * The events phase's call (legacy): `tools/call stream` with id `id`, asking the upstream for `count` progress
 * notifications (`upstream-process.ts`), the rest after the first once `token` is released.
 */
export function streamBody(id: number, count: number, token: string): string {
  return `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"stream","arguments":{"count":${count}},"_meta":{"progressToken":${JSON.stringify(token)}}}}`;
}

/** The complete events of an SSE text so far (up to its last blank line): their ids and data (`data:` lines joined). */
export function sseEvents(text: string): { id: string | undefined; data: string }[] {
  const end = text.lastIndexOf('\n\n');
  if (end < 0) return [];
  return text
    .slice(0, end)
    .split('\n\n')
    .map((block) => {
      let id: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('id:')) id = line.slice(3).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      return { id, data: data.join('\n') };
    });
}

/** The id of the first event with data (not the priming event) in an SSE text so far, once it is complete. */
export function firstEventId(text: string): string | undefined {
  return sseEvents(text).find((e) => e.id !== undefined && e.data !== '')?.id;
}

/** Progress notifications in a resumed stream's text, and whether it ends with the answer to `id` (throws if not). */
export function resumedStream(reply: Reply, id: number): { progress: number } {
  // An empty resumed stream: the call was answered before the gateway saw its stream dropped, so nothing was stored.
  if (reply.status === 200 && !reply.body.includes('data:')) throw new Error(`resumed stream of request ${id} was empty: answered before the gateway saw the drop`);
  answer(reply, id);
  const progress = sseEvents(reply.body).filter((e) => e.data.includes('"notifications/progress"')).length;
  return { progress };
}
