/**
 * `sendWebResponse` respects backpressure: a client that does not read holds the producing stream back (it is not
 * read while the socket's buffer is full), the gateway's buffer stays bounded, a client that reads late still gets
 * every byte, and a client that goes away cancels the stream.
 *
 * Deterministic, not timed: the producer records, each time it is asked for more, whether the response was still
 * waiting for `drain` and how many bytes the response held — with backpressure it is never asked while the
 * response needs draining.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import express, { type Response as ExpressResponse } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { needsDrain, sendWebResponse } from '../../src/mcp/http-bridge.js';
import { listenOnLoopback, type LoopbackServer } from '../helpers/loopback-server.js';

const CHUNK_BYTES = 1 << 20;
/** Far more than loopback socket buffers hold, so a client that does not read makes the response wait. */
const CHUNKS = 128;

interface Producer {
  pulls: number;
  pullsWhileFull: number;
  maxBuffered: number;
  cancelled: boolean;
  res: ExpressResponse | undefined;
  done: Promise<void> | undefined;
}

/** A gateway-like server whose one route streams CHUNKS × 1 MiB of SSE through `sendWebResponse`. */
async function startStreamingServer(): Promise<{ server: LoopbackServer; producer: Producer }> {
  const producer: Producer = { pulls: 0, pullsWhileFull: 0, maxBuffered: 0, cancelled: false, res: undefined, done: undefined };
  const event = new TextEncoder().encode(`data: ${'x'.repeat(CHUNK_BYTES - 8)}\n\n`);
  const app = express();
  app.get('/stream', (_req, res) => {
    producer.res = res;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          producer.pulls++;
          if (needsDrain(res)) producer.pullsWhileFull++;
          producer.maxBuffered = Math.max(producer.maxBuffered, res.writableLength);
          if (producer.pulls > CHUNKS) controller.close();
          else controller.enqueue(event);
        },
        cancel() {
          producer.cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    producer.done = sendWebResponse(res, new Response(body, { headers: { 'content-type': 'text/event-stream' } }));
  });
  return { server: await listenOnLoopback(http.createServer(app)), producer };
}

let server: LoopbackServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('response bridge backpressure', () => {
  it('stops reading the stream while a client does not read, and cancels it when the client goes away', async () => {
    const started = await startStreamingServer();
    server = started.server;
    const { producer } = started;
    const socket = net.connect((server.server.address() as AddressInfo).port, '127.0.0.1');
    socket.pause();
    socket.write('GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');

    // The client reads nothing: the kernel's buffers fill, then the response's own (without backpressure the
    // whole stream is read into the gateway's memory instead).
    await expect.poll(() => (producer.res !== undefined && needsDrain(producer.res)) || producer.pulls > CHUNKS, { timeout: 10_000 }).toBe(true);
    expect(producer.pullsWhileFull).toBe(0);
    expect(producer.pulls).toBeLessThan(CHUNKS);
    // What the gateway holds for this client is at most the chunk in flight, not everything produced.
    expect(producer.maxBuffered).toBeLessThanOrEqual(2 * CHUNK_BYTES);

    socket.destroy();
    await expect.poll(() => producer.cancelled).toBe(true);
    await producer.done;
  });

  it('a client that reads late still receives every byte', async () => {
    const started = await startStreamingServer();
    server = started.server;
    const { producer } = started;
    const received = await new Promise<number>((resolve, reject) => {
      const req = http.get(`${server!.url}/stream`, (res) => {
        res.pause();
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve(bytes));
        res.on('error', reject);
        void expect
          .poll(() => (producer.res !== undefined && needsDrain(producer.res)) || producer.pulls > CHUNKS, { timeout: 10_000 })
          .toBe(true)
          .then(() => res.resume(), reject);
      });
      req.on('error', reject);
    });
    expect(received).toBe(CHUNKS * CHUNK_BYTES);
    expect(producer.pullsWhileFull).toBe(0);
    expect(producer.cancelled).toBe(false);
  });
});
