/**
 * The relay's HTTP exchange with an upstream (`toolservers/upstream-exchange.ts`), against a real server through a
 * real undici Agent: the body in order with backpressure (a reader that waits holds the connection, and the upstream
 * feels it), the end after the last chunk, the request's errors — an abort before and after the headers, a reader
 * that throws — and the connection reused after a body read to its end.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import { send } from '../../src/toolservers/upstream-exchange.js';
import { listenOnLoopback, type LoopbackServer } from '../helpers/loopback-server.js';

let server: LoopbackServer;
let agent: Agent;
const sockets = new Set<unknown>();
/** How many bytes the `big` response's writer has written so far. */
let bigWritten = 0;
const BIG = 32 * 1024 * 1024;

beforeAll(async () => {
  server = await listenOnLoopback(
    http.createServer((req, res) => {
      sockets.add(req.socket);
      const path = req.url ?? '/';
      if (path === '/chunks') {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        let i = 0;
        const next = () => {
          if (i === 5) return void res.end();
          res.write(`c${i++};`);
          setTimeout(next, 5);
        };
        return next();
      }
      if (path === '/big') {
        // 32 MB in 64 KB pieces, as fast as the socket takes them.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        bigWritten = 0;
        const piece = Buffer.alloc(64 * 1024, 97);
        const pump = () => {
          while (bigWritten < BIG) {
            bigWritten += piece.length;
            if (!res.write(piece)) return void res.once('drain', pump);
          }
          res.end();
        };
        return pump();
      }
      if (path === '/never') return void res.writeHead(200, { 'content-type': 'text/event-stream' }).write(': open\n\n');
      if (path === '/info') {
        res.writeProcessing();
        return void res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"ok":true}');
      }
      res.writeHead(404).end('no');
    }),
  );
  agent = new Agent();
});
afterAll(async () => {
  await agent?.close();
  await server?.close();
});

const url = () => new URL(server.url);
const get = (path: string, signal?: AbortSignal) => send(agent, { origin: url().origin, path, method: 'GET', headersTimeout: 0, bodyTimeout: 0 }, signal);

describe('an upstream exchange', () => {
  it('gives the status, the content type, and the body in order to the end', async () => {
    const res = await get('/chunks');
    expect(res.status).toBe(200);
    expect(res.contentType).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe('c0;c1;c2;c3;c4;');
    const missing = await get('/nope');
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe('no');
  });

  it('skips 1xx answers and finds the content type in any letter case', async () => {
    const res = await get('/info');
    expect(res.status).toBe(201);
    expect(res.contentType).toBe('application/json');
    expect(await res.text()).toBe('{"ok":true}');
  });

  it('holds the connection while the reader waits: no chunk meanwhile, and the upstream is held back', async () => {
    const res = await get('/big');
    let reading = false;
    let overlapped = false;
    let received = 0;
    let waits = 0;
    let writtenWhileWaiting = 0;
    await res.read(async (chunk) => {
      if (reading) overlapped = true;
      reading = true;
      received += chunk.length;
      if (waits === 0) {
        // One long wait: the socket's buffers fill and the upstream can write no more until the reader goes on.
        await new Promise((r) => setTimeout(r, 300));
        writtenWhileWaiting = bigWritten;
      }
      // Then short ones, then none (a promise that is already settled).
      if (waits++ < 20) await new Promise((r) => setTimeout(r, 1));
      reading = false;
    });
    expect(overlapped).toBe(false);
    expect(received).toBe(BIG);
    expect(writtenWhileWaiting).toBeLessThan(BIG / 2);
  });

  it('rejects when aborted before the headers, and the reader when aborted after them', async () => {
    const early = new AbortController();
    early.abort(new Error('gone early'));
    await expect(get('/chunks', early.signal)).rejects.toThrow('gone early');

    const late = new AbortController();
    const res = await get('/never', late.signal);
    const reading = res.read(() => undefined);
    late.abort(new Error('gone late'));
    await expect(reading).rejects.toThrow('gone late');
  });

  it('ends the request when the reader throws, with the reader’s error', async () => {
    const res = await get('/never');
    await expect(
      res.read(() => {
        throw new Error('not for me');
      }),
    ).rejects.toThrow('not for me');
    const next = await get('/chunks'); // the agent serves the next request (on another connection)
    expect(await next.text()).toBe('c0;c1;c2;c3;c4;');
  });

  it('reuses the connection once a body was read to its end', async () => {
    const own = new Agent();
    try {
      sockets.clear();
      for (let i = 0; i < 10; i++) {
        const res = await send(own, { origin: url().origin, path: i % 2 ? '/chunks' : '/nope', method: 'GET' });
        if (i % 2) await res.dump();
        else expect(await res.text()).toBe('no');
      }
      // Not one per request: each connection went back to the pool (undici's own `request` used 2 for this too).
      expect(sockets.size).toBeLessThanOrEqual(2);
    } finally {
      await own.close();
    }
  });
});
