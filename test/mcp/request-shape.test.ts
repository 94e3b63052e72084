/**
 * The plain-shape check that spares most requests the SDK's JSON-RPC schema (`surelyValidMessage` in
 * `mcp/request-shape.ts`) never accepts what the schema refuses, and does accept the everyday request.
 */
import { describe, expect, it } from 'vitest';
import { JSONRPCMessageSchema } from '@modelcontextprotocol/core';
import { requestShape, surelyValidMessage } from '../../src/mcp/request-shape.js';

/** A small deterministic generator (mulberry32): the same cases on every run. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALUES: unknown[] = ['2.0', '1.0', 2, 1, -1, 1.5, 2 ** 53, '', 'tools/call', null, true, [], [1], {}, { a: 1 }, { _meta: {} }, { _meta: { progressToken: 1 } }, { _meta: 'x' }, { _meta: { progressToken: {} } }];
const KEYS = ['jsonrpc', 'id', 'method', 'params', 'result', 'error', 'extra', '__proto__'];

describe('surelyValidMessage', () => {
  it('accepts only what the SDK’s schema accepts (20,000 generated messages)', () => {
    const next = random(42);
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const m: Record<string, unknown> = {};
      // Mostly near-valid messages, with one or two keys changed, dropped or added.
      if (next() < 0.8) Object.assign(m, { jsonrpc: '2.0', method: 'tools/call' }, next() < 0.7 ? { id: Math.floor(next() * 100) } : {}, next() < 0.7 ? { params: { name: 'x' } } : {});
      for (let k = Math.floor(next() * 3); k > 0; k--) {
        const key = KEYS[Math.floor(next() * KEYS.length)]!;
        if (next() < 0.3) delete m[key];
        else Object.defineProperty(m, key, { value: VALUES[Math.floor(next() * VALUES.length)], enumerable: true, configurable: true, writable: true });
      }
      const message = JSON.parse(JSON.stringify(m)) as unknown; // as it arrives: own `__proto__` keys and all
      if (surelyValidMessage(message)) {
        accepted++;
        expect(JSONRPCMessageSchema.safeParse(message).success, JSON.stringify(message)).toBe(true);
      }
    }
    expect(accepted).toBeGreaterThan(1_000);
  });

  it('takes the everyday request and notification, and leaves the rest to the schema', () => {
    expect(surelyValidMessage({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } })).toBe(true);
    expect(surelyValidMessage({ jsonrpc: '2.0', method: 'notifications/initialized' })).toBe(true);
    expect(surelyValidMessage({ jsonrpc: '2.0', id: 7, result: {} })).toBe(false);
    expect(surelyValidMessage({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { _meta: { progressToken: 1 } } })).toBe(false);
    // …which still takes them.
    expect(requestShape({ jsonrpc: '2.0', id: 7, result: {} }, undefined).kind).toBe('legacy');
    expect(requestShape({ jsonrpc: '2.0', id: 1.5, method: 'tools/call' }, undefined).kind).toBe('invalid');
    expect(requestShape({ jsonrpc: '2.0', id: 1, method: 'tools/call', extra: 1 }, undefined).kind).toBe('invalid');
  });
});
