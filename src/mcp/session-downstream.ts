/**
 * The session's client as tool servers see it (`SessionDownstream`): what the gateway sends it outside any request
 * (upstream list changes, resource updates, messages and requests on an upstream's standalone stream), on the
 * session's own stream (`session-stream.ts`), and what it declared (from the session's record).
 */
import type { ClientCapabilities, LoggingLevel, Result, ServerNotification, ServerRequest } from '@modelcontextprotocol/server';
import type { SessionDownstream } from '../toolservers/types.js';
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
  upstreamOpenedUnheard(toolServer: string): void {
    this.stream.upstreamOpenedUnheard(toolServer);
  }
}

const ignore = () => undefined;
