/**
 * The gateway's domain errors: what went wrong, in the terms of the domain (not found, conflict, forbidden,
 * invalid, unavailable, …), raised by any area and imported from here — a leaf module that imports nothing. Each
 * edge maps them to its own wire shape: the JSON APIs to `{"error": {"code", "message", "details"}}`
 * (`http/errors.ts`), the MCP endpoint to JSON-RPC error bodies (`mcp/jsonrpc-errors.ts`), the console to an error
 * page, the CLI to a message on stderr. The code says which catalogue entry an error is, and so its HTTP status.
 */

/** Every error code the gateway reports, with its HTTP status and what it means (the JSON API documents these). */
export const ERROR_CODES = {
  bad_request: { status: 400, description: 'The request is malformed (invalid JSON, wrong content type).' },
  invalid_body: { status: 400, description: 'The JSON body failed validation; `details` lists each field.' },
  invalid_query: { status: 400, description: 'A query parameter failed validation; `details` lists each.' },
  unauthorized: { status: 401, description: 'No valid credentials were presented.' },
  forbidden: { status: 403, description: 'The credentials are valid but may not do this.' },
  not_found: { status: 404, description: 'No such resource (or it belongs to someone else).' },
  invalid_path: { status: 400, description: 'A path parameter is malformed (e.g. not a UUID, not a valid slug or name).' },
  team_not_found: { status: 404, description: 'No team has this slug.' },
  user_not_found: { status: 404, description: 'No user has this id (for a team admin: among the members of the teams they administer).' },
  member_not_found: { status: 404, description: 'The user is not a member of this team.' },
  invitation_not_found: { status: 404, description: 'The team has no pending invitation for this e-mail address.' },
  tool_server_not_found: { status: 404, description: 'The team has no tool server with this name.' },
  connection_not_found: { status: 404, description: 'The user has no such connection to an `oauth` tool server (or it is outside the teams you administer).' },
  session_not_found: { status: 404, description: 'No session has this id (or it is outside the teams you administer).' },
  method_not_allowed: { status: 405, description: 'The path does not support this method.' },
  conflict: { status: 409, description: 'The resource already exists or changed meanwhile.' },
  session_closed: { status: 409, description: 'The session is already closed; `closeReason` in the session says why.' },
  payload_too_large: { status: 413, description: 'The body exceeds the size limit.' },
  unprocessable: { status: 422, description: 'The request is well-formed but breaks a rule (e.g. a name clash).' },
  rate_limited: { status: 429, description: 'Too many requests; retry after the `Retry-After` seconds.' },
  internal: { status: 500, description: 'An unexpected fault; the log has details under the request id.' },
  unavailable: { status: 503, description: 'A dependency (the database) is unavailable; retry later.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

type CodeWithStatus<S extends number> = { [C in ErrorCode]: (typeof ERROR_CODES)[C]['status'] extends S ? C : never }[ErrorCode];

/** A domain error: its catalogue code (and so its status), a message for the caller, optional structured details. */
export class DomainError extends Error {
  readonly status: number;
  /** Says "a domain error" to code that must not import this module (the CLI's entry point loads nothing else). */
  readonly domain = true;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
    this.status = ERROR_CODES[code].status;
  }
}

/** The request is malformed or a value in it is not acceptable (400). */
export class Invalid extends DomainError {
  constructor(code: CodeWithStatus<400>, message: string, details?: unknown) {
    super(code, message, details);
  }
}

/** No credentials, or none that hold (401). */
export class Unauthorized extends DomainError {
  constructor(message: string) {
    super('unauthorized', message);
  }
}

/** Valid credentials that may not do this (403). */
export class Forbidden extends DomainError {
  constructor(message: string) {
    super('forbidden', message);
  }
}

/** No such thing, or not the caller's to see (404). */
export class NotFound extends DomainError {
  constructor(code: CodeWithStatus<404>, message: string) {
    super(code, message);
  }
}

/** The thing exists already, or changed meanwhile (409). */
export class Conflict extends DomainError {
  constructor(code: CodeWithStatus<409>, message: string) {
    super(code, message);
  }
}

/** Well-formed, but it breaks a rule (422), or is too large (413), or the method does not apply (405). */
export class Refused extends DomainError {
  constructor(code: 'unprocessable' | 'payload_too_large' | 'method_not_allowed', message: string, details?: unknown) {
    super(code, message, details);
  }
}

/** Too many requests (429). */
export class RateLimited extends DomainError {
  constructor(message: string) {
    super('rate_limited', message);
  }
}

/** A dependency (the database, a key source) cannot be had right now; retry (503). */
export class Unavailable extends DomainError {
  constructor(message: string, options?: ErrorOptions) {
    super('unavailable', message, undefined, options);
  }
}

/** A fault of the gateway's own (500); the message names the request id, never the cause. */
export class Internal extends DomainError {
  constructor(message: string) {
    super('internal', message);
  }
}

/**
 * Seconds a client is told to wait (`Retry-After`) when a dependency such as the database is down: long enough for
 * a blip to pass, short enough that a person retrying by hand does not notice. Every edge (JSON API, OAuth, bearer
 * challenge, pages) says the same.
 */
export const RETRY_AFTER_SECONDS = 5;

/**
 * True when PostgreSQL refused a value with a class 22 "data exception" (NUL byte in text, date/time out of range,
 * malformed uuid): such values come from the request, so they are the client's fault, not a fault of the gateway.
 */
export function isDataException(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 5) return false;
  const e = err as { code?: unknown; originalCode?: unknown; cause?: unknown; meta?: { driverAdapterError?: unknown } };
  if ([e.code, e.originalCode].some((c) => typeof c === 'string' && /^22[0-9A-Z]{3}$/.test(c))) return true;
  return [e.cause, e.meta?.driverAdapterError].some((c) => isDataException(c, depth + 1));
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '53300', 'P1001', 'P1002', 'P1017', 'P2024']);
const UNREACHABLE_MESSAGE = /Connection terminated|connection timeout|timeout exceeded when trying to connect|Can't reach database|ECONNREFUSED/i;

/** True when `err` (or anything in its cause chain) says the database cannot be reached right now. */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 5) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; meta?: { driverAdapterError?: unknown }; errors?: unknown[] };
  if (typeof e.code === 'string' && UNREACHABLE_CODES.has(e.code)) return true;
  if (typeof e.message === 'string' && UNREACHABLE_MESSAGE.test(e.message)) return true;
  return [e.cause, e.meta?.driverAdapterError, ...(Array.isArray(e.errors) ? e.errors : [])].some((c) => isDatabaseUnavailable(c, depth + 1));
}

/**
 * What `err` is in the domain's terms, if it is anything the caller caused or can retry: a domain error as it is;
 * the database out of reach → `Unavailable`; what body parsing and routing raise for a bad request (body-parser's
 * and http-errors' typed errors, a path with broken percent-encoding) and a value PostgreSQL refuses as a data
 * exception → `Invalid` or `Refused`. Undefined: a fault of the gateway's own. Every edge's renderer starts here.
 */
export function asDomainError(err: unknown): DomainError | undefined {
  if (err instanceof DomainError) return err;
  if (isDatabaseUnavailable(err)) return new Unavailable('The database is unavailable; retry shortly', { cause: err });
  const e = err as { type?: string; status?: number; limit?: number; expose?: boolean } | null | undefined;
  if (e?.type === 'entity.too.large') return new Refused('payload_too_large', `The body is larger than ${e.limit} bytes`);
  if (e?.type === 'entity.parse.failed') return new Invalid('bad_request', 'The body is not valid JSON');
  if (typeof e?.type === 'string' && e.status && e.status < 500) return new Invalid('bad_request', 'The body could not be read');
  // The router's "Failed to decode param" (broken percent-encoding in the path).
  if (err instanceof URIError && e?.status === 400) return new Invalid('bad_request', 'The path is not valid percent-encoding');
  // http-errors raised by body-parser's decompression and similar (e.g. a body that claims gzip but is not).
  if (e?.expose === true && typeof e.status === 'number' && e.status >= 400 && e.status < 500) return new Invalid('bad_request', 'The body could not be read');
  if (isDataException(err)) return new Invalid('bad_request', 'A value in the request cannot be stored or compared (e.g. a NUL character, a date or number out of range, a malformed id)');
  return undefined;
}
