/**
 * A failure inside the gateway while the session front end serves an MCP request (a database error while storing the
 * log level, say) reaches the client as a generic JSON-RPC internal error and the log, never as the driver's text;
 * JSON-RPC errors of our own (an unknown tool) still say what was wrong — alone or in a batch. The front end over a
 * real HTTP server, its hooks made to fail.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionFront, type FrontSession } from '../../src/mcp/session-front.js';
import { ResponseStream } from '../../src/cluster/response-stream.js';
import type { ResumableStreams } from '../../src/cluster/resumable-streams.js';
import type { SessionStream } from '../../src/mcp/session-stream.js';
import { createAggregator } from '../../src/toolservers/aggregator.js';
import { createLogger } from '../../src/observability/logger.js';
import { listenOnLoopback, type LoopbackServer } from '../helpers/loopback-server.js';

const logged: unknown[] = [];
let server: LoopbackServer;

beforeAll(async () => {
  const logger = createLogger({ level: 'silent' });
  logger.error = ((obj: unknown) => void logged.push(obj)) as typeof logger.error;
  const aggregator = createAggregator([], { logger, onFailure: () => undefined });
  // Streams that are never resumable: enough for requests answered at once.
  const streams = { start: (res, sessionId, requestId, headers) => new ResponseStream(res, undefined, sessionId, requestId, headers) } as Pick<ResumableStreams, 'start'> as ResumableStreams;
  const session: FrontSession = { id: 'sid', streams, resumable: false, initialized: true, shutdown: async () => undefined, cancelElsewhere: () => undefined };
  const front = new SessionFront(session, {} as SessionStream, {
    aggregator,
    logger,
    onSetLevel: () => Promise.reject(new Error('invalid input value for enum log_level: "x" (PostgreSQL 22P02) at Prisma.updateMany')),
    onToolCall: () => undefined,
  });
  server = await listenOnLoopback(
    http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        void (Array.isArray(body) ? front.batch(body as never, res, {} as never) : front.serve(body as never, res, {} as never));
      });
    }),
  );
});
afterAll(() => server?.close());

/** The JSON-RPC messages of an event-stream answer, by id. */
async function answers(body: unknown): Promise<Map<unknown, { error?: { code: number; message: string } }>> {
  const res = await fetch(server.url, { method: 'POST', body: JSON.stringify(body) });
  const text = await res.text();
  return new Map([...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as { id: unknown; error?: { code: number; message: string } }).map((m) => [m.id, m]));
}

describe('errors inside the session front end', () => {
  it('an internal error is logged and answered generically; the client never sees its text; ours say what was wrong', async () => {
    const setLevel = { jsonrpc: '2.0', id: 1, method: 'logging/setLevel', params: { level: 'debug' } };
    const unknownTool = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'nope__tool', arguments: {} } };
    for (const got of [new Map([...(await answers(setLevel)), ...(await answers(unknownTool))]), await answers([setLevel, unknownTool])]) {
      const internal = got.get(1)?.error;
      expect(internal?.code).toBe(-32603);
      expect(internal?.message).not.toMatch(/22P02|Prisma|PostgreSQL|enum/);
      expect(JSON.stringify(got.get(2))).toContain('nope__tool');
    }
    expect(logged).toHaveLength(2);
  });
});
