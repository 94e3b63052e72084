/**
 * `protocol-era.ts` tells the eras apart exactly as the MCP SDK v2 does: for generated bodies and headers (valid,
 * malformed and hostile envelopes, initialize, batches, responses, notifications), `classifyEra` agrees with the
 * SDK's `isLegacyRequest` on legacy-or-not and with its `classifyInboundRequest` on the outcome (legacy, modern, or
 * refused with which HTTP status and JSON-RPC code).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { classifyInboundRequest, isLegacyRequest } from '@modelcontextprotocol/server';
import { classifyEra, type EraOutcome } from '../../src/mcp/protocol-era.js';

const V = 'io.modelcontextprotocol/protocolVersion';
const C = 'io.modelcontextprotocol/clientCapabilities';
const I = 'io.modelcontextprotocol/clientInfo';
const L = 'io.modelcontextprotocol/logLevel';

const version = fc.constantFrom('2026-07-28', '2025-11-25', '2025-06-18', '2099-01-01', '', 'garbage');
const anything = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.constant(null), fc.boolean(), fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }));
const envelope = fc.record(
  {
    [V]: fc.oneof(version, anything),
    [C]: fc.oneof(fc.constant({}), fc.constant({ sampling: {}, roots: { listChanged: true } }), fc.constant({ roots: { listChanged: 'yes' } }), anything),
    [I]: fc.oneof(fc.constant({ name: 'c', version: '1' }), fc.constant({ name: 'c' }), anything),
    [L]: fc.oneof(fc.constantFrom('info', 'debug', 'loud'), anything),
    progressToken: fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.double(), fc.constant(null)),
    'openai/session': fc.string({ maxLength: 6 }),
  },
  { requiredKeys: [] },
);
const params = fc.oneof(
  fc.constant(undefined),
  fc.record({ _meta: envelope }, { requiredKeys: [] }),
  fc.record({ name: fc.string({ maxLength: 6 }), _meta: fc.oneof(envelope, anything) }, { requiredKeys: [] }),
  fc.record({ protocolVersion: version, capabilities: fc.constant({}), clientInfo: fc.constant({ name: 'x', version: '1' }), _meta: envelope }, { requiredKeys: ['protocolVersion'] }),
  anything,
);
const method = fc.constantFrom('initialize', 'server/discover', 'tools/list', 'tools/call', 'notifications/initialized', 'notifications/cancelled', 'subscriptions/listen');
const request = fc.record({ jsonrpc: fc.constant('2.0'), id: fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.double(), fc.constant(null)), method, params }, { requiredKeys: ['jsonrpc', 'method'] });
const response = fc.oneof(
  fc.record({ jsonrpc: fc.constant('2.0'), id: fc.integer(), result: fc.oneof(fc.constant({}), anything) }),
  fc.record({ jsonrpc: fc.constant('2.0'), id: fc.integer(), error: fc.record({ code: fc.oneof(fc.integer(), fc.double()), message: fc.string() }) }),
);
const message = fc.oneof(request, request, request, response, fc.record({ jsonrpc: fc.constantFrom('1.0', '2.0'), id: fc.integer(), method, extra: fc.integer() }), anything);
const body = fc.oneof(message, message, message, fc.array(message, { maxLength: 3 }), fc.constant(undefined));
const header = fc.option(fc.oneof(version, fc.constant(' 2026-07-28 ')), { nil: undefined });
const methodHeader = fc.option(fc.oneof(method, fc.constant('other')), { nil: undefined });

/** What the SDK says, in the shape `classifyEra` answers. */
function sdkOutcome(o: ReturnType<typeof classifyInboundRequest>): { kind: string; status?: number; code?: number } {
  return o.kind === 'reject' ? { kind: 'reject', status: o.httpStatus, code: o.code } : { kind: o.kind };
}
function ours(o: EraOutcome): { kind: string; status?: number; code?: number } {
  return o.kind === 'reject' ? { kind: 'reject', status: o.status, code: o.code } : { kind: o.kind };
}

describe('the era of a request, as the SDK v2 decides it', () => {
  it('agrees with isLegacyRequest and classifyInboundRequest on generated requests', async () => {
    await fc.assert(
      fc.asyncProperty(body, header, methodHeader, async (b, versionHeader, mcpMethod) => {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (versionHeader !== undefined) headers['mcp-protocol-version'] = versionHeader;
        if (mcpMethod !== undefined) headers['mcp-method'] = mcpMethod;
        const text = b === undefined ? '' : JSON.stringify(b);
        const parsed: unknown = text === '' ? undefined : JSON.parse(text);
        const outcome = classifyEra({ httpMethod: 'POST', protocolVersionHeader: versionHeader, mcpMethodHeader: mcpMethod, body: parsed });
        const request = new Request('http://gateway.test/mcp', { method: 'POST', headers, body: text });
        expect(outcome.kind === 'legacy', text).toBe(await isLegacyRequest(request));
        if (parsed !== undefined) {
          const sdk = classifyInboundRequest({ httpMethod: 'POST', body: parsed, ...(versionHeader !== undefined ? { protocolVersionHeader: versionHeader.trim() } : {}), ...(mcpMethod !== undefined ? { mcpMethodHeader: mcpMethod } : {}) });
          expect(ours(outcome), `${text} ${versionHeader} ${mcpMethod}`).toEqual(sdkOutcome(sdk));
        }
      }),
      { numRuns: 2000, seed: 20261201 },
    );
  });

  it('a modern request carries the version its envelope names; GET and DELETE are always legacy', () => {
    const env = { [V]: '2026-07-28', [C]: {} };
    const outcome = classifyEra({ httpMethod: 'POST', protocolVersionHeader: '2026-07-28', mcpMethodHeader: 'tools/list', body: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: env } } });
    expect(outcome).toMatchObject({ kind: 'modern', isRequest: true, version: '2026-07-28' });
    for (const httpMethod of ['GET', 'DELETE']) expect(classifyEra({ httpMethod, protocolVersionHeader: '2026-07-28', mcpMethodHeader: undefined, body: undefined }).kind).toBe('legacy');
  });
});
