/**
 * A failure inside the gateway while it serves an MCP request (a database error while storing the log level, say)
 * reaches the client as a generic JSON-RPC internal error and the log, never as the driver's text; JSON-RPC errors
 * of our own (an unknown tool) still say what was wrong. A real SDK client over the SDK's in-memory transport.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { createSessionServer } from '../../src/mcp/session-server.js';
import { createAggregator } from '../../src/toolservers/aggregator.js';
import { createLogger } from '../../src/observability/logger.js';

describe('errors inside session handlers', () => {
  it('an internal error is logged and answered generically; the client never sees its text', async () => {
    const logged: unknown[] = [];
    const aggregator = createAggregator([], { logger: createLogger({ level: 'silent' }), onFailure: () => undefined });
    const server = createSessionServer(aggregator, {
      onSetLevel: () => Promise.reject(new Error('invalid input value for enum log_level: "x" (PostgreSQL 22P02) at Prisma.updateMany')),
      onToolCall: () => undefined,
      onInternalError: (err) => logged.push(err),
    });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(a);
    const client = new Client({ name: 't', version: '1' });
    await client.connect(b);

    const err = await client.setLoggingLevel('debug').then(() => undefined, (e: unknown) => e as { code: number; message: string });
    expect(err?.code).toBe(-32603);
    expect(err?.message).not.toMatch(/22P02|Prisma|PostgreSQL|enum/);
    expect(logged).toHaveLength(1);

    const unknown = await client.callTool({ name: 'nope__tool', arguments: {} }).then((r) => r, (e: unknown) => e as { message: string });
    expect(JSON.stringify(unknown)).toContain('nope__tool');
    expect(logged).toHaveLength(1);
    await client.close();
  });
});
