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
import { IncomingMessage, type ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import type { Logger } from './logger.js';
import { runRequest } from './request-context.js';

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

/** What a request carries for its logger, in fields rather than a property defined per request with a closure. */
interface Logged {
  [BASE]?: Logger;
  [CHILD]?: Logger;
  [URL_AT_START]?: string;
  [STARTED]?: number;
}
const BASE = Symbol('logger');
const CHILD = Symbol('child logger');
const URL_AT_START = Symbol('url');
const STARTED = Symbol('started');

// `req.log`: one getter for all requests; the child logger is made on first use. Undefined for a request this
// middleware did not see (callers write `req.log ?? logger`).
Object.defineProperty(IncomingMessage.prototype, 'log', {
  configurable: true,
  get(this: IncomingMessage & Logged): Logger | undefined {
    const base = this[BASE];
    if (!base) return undefined;
    return (this[CHILD] ??= base.child({ req: { id: this.id, method: this.method, url: this[URL_AT_START]!.split('?')[0] } }));
  },
  set(this: IncomingMessage & Logged, value: Logger) {
    this[CHILD] = value;
  },
});

/** The access-log line, when the response is done (one function for all requests: no closure per request). */
function logEnd(this: ServerResponse & { req: IncomingMessage & Logged }) {
  const req = this.req;
  const finished = this.writableFinished;
  const level = !finished ? 'info' : this.statusCode >= 500 ? 'error' : this.statusCode >= 400 ? 'info' : 'debug';
  if (!req[BASE]!.isLevelEnabled(level)) return;
  req.log[level]({ res: { statusCode: this.statusCode }, responseTime: Math.round(performance.now() - req[STARTED]!) }, finished ? 'request completed' : 'request aborted');
}

export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && GIVEN_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', id);
    const r = req as typeof req & Logged;
    r.id = id;
    r[BASE] = logger;
    r[URL_AT_START] = req.url;
    const q = req.url.indexOf('?');
    if (!UNLOGGED.has(q < 0 ? req.url : req.url.slice(0, q))) {
      r[STARTED] = performance.now();
      res.on('close', logEnd);
    }
    runRequest(id, next);
  };
}
