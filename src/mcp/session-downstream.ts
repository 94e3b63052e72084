/**
 * The session's client as tool servers see it (`SessionDownstream`): what the gateway sends it outside any request
 * (upstream list changes, resource updates, messages and requests on an upstream's standalone stream), on the
 * session's own stream (`session-stream.ts`), and what it declared (from the session's record).
 */
import type { ClientCapabilities, LoggingLevel, Result, ServerContext, ServerNotification, ServerRequest } from '@modelcontextprotocol/server';
import { ResultSchema } from '@modelcontextprotocol/core';
import { McpError } from './mcp-error.js';
import type { Downstream, SessionDownstream } from '../toolservers/types.js';
import type { SessionStream } from './session-stream.js';

/** A class, not an object of closures: a process holds thousands of idle sessions (see `switchable-aggregator.ts`). */
export class SessionHub implements SessionDownstream {
  private level: LoggingLevel | undefined;
  constructor(
    private readonly record: { readonly clientCapabilities: ClientCapabilities | undefined },
    private readonly stream: SessionStream,
  ) {}

  setLogLevel(level: LoggingLevel): void {
    this.level = level;
  }
  notify(n: ServerNotification): Promise<void> {
    return this.stream.notify(n);
  }
  request(r: ServerRequest, o: { signal?: AbortSignal; timeoutMs?: number }): Promise<Result> {
    return this.stream.request(r, o);
  }
  clientCapabilities(): ClientCapabilities | undefined {
    return this.record.clientCapabilities;
  }
  logLevel(): LoggingLevel | undefined {
    return this.level;
  }
  listChanged(kind: 'tools' | 'prompts' | 'resources'): void {
    void this.stream.notify({ method: `notifications/${kind}/list_changed` }).catch(ignore);
  }
  resourceUpdated(uri: string): void {
    void this.stream.notify({ method: 'notifications/resources/updated', params: { uri } }).catch(ignore);
  }
}

const ignore = () => undefined;

/** The downstream of one request being served: its notifications and nested requests go on that request's stream. */
export function requestDownstream(ctx: ServerContext): Downstream {
  return {
    notify: (n: ServerNotification) => ctx.mcpReq.notify(n),
    // The client's error answer reads as it did on SDK v1 (`mcp-error.ts`).
    request: (r: ServerRequest, o) =>
      ctx.mcpReq.send(r, ResultSchema, { ...(o.signal ? { signal: o.signal } : {}), ...(o.timeoutMs ? { timeout: o.timeoutMs } : {}) }).catch((err: unknown) => {
        throw McpError.fromUpstream(err);
      }),
  };
}
