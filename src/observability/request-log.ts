/**
 * Request ids and the access log: every request gets an id (`X-Request-Id`, taken from the request when well-formed),
 * `req.log` logs with it, and one line per request says how it ended — at `debug` for 2xx/3xx, `info` for 4xx and
 * aborted requests, `error` for 5xx (README §Operations).
 *
 * Written here rather than with pino-http, whose shape the lines keep (`req: {id, method, url}`, `res: {statusCode}`,
 * `responseTime`): pino-http builds a child logger and serialises its bindings for every request, whether anything
 * logs or not, which was about 5 % of the gateway's CPU per forwarded MCP call (bench profile). Here the child logger
 * exists only once something logs through `req.log`, and the line is built only when its level is enabled.
 */
import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from './logger.js';

declare module 'http' {
  interface IncomingMessage {
    /** This request's id (`X-Request-Id`). */
    id: string;
    /** The logger of this request: its lines carry the request id. */
    log: Logger;
  }
}

const GIVEN_ID = /^[\w.-]{1,128}$/;
const UNLOGGED = new Set(['/health', '/ready', '/metrics']);

export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && GIVEN_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', id);
    req.id = id;
    const url = req.url;
    let child: Logger | undefined;
    Object.defineProperty(req, 'log', {
      configurable: true,
      get: () => (child ??= logger.child({ req: { id, method: req.method, url: url.split('?')[0] } })),
    });
    if (!UNLOGGED.has(url)) {
      const started = performance.now();
      res.once('close', () => {
        const finished = res.writableFinished;
        const level = !finished ? 'info' : res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug';
        if (!logger.isLevelEnabled(level)) return;
        req.log[level]({ res: { statusCode: res.statusCode }, responseTime: Math.round(performance.now() - started) }, finished ? 'request completed' : 'request aborted');
      });
    }
    next();
  };
}
