/**
 * A session's `subscriptions/listen` stream to a tool server of protocol 2026-07-28 (basic/patterns/subscriptions),
 * open only while the session holds resource subscriptions there: a client's `resources/subscribe` (legacy) or the
 * resource subscriptions of its own `subscriptions/listen` (modern) become this stream's `resourceSubscriptions`,
 * and while it is open it also carries the upstream's list changes. What arrives goes where a legacy upstream's
 * standalone stream would send it (`onNotification`: listing cache, the session's client). A change of the set of
 * resources replaces the stream (a new listen request; the old one is closed, which is its cancellation); a stream
 * the upstream ends is opened again after a pause, while still needed. Long-lived, so it uses the pool of the
 * SDK clients' streams (`fetch`), not the relay's.
 */
import type { AuthInfo } from '@modelcontextprotocol/server';
import type { FetchLike } from '@modelcontextprotocol/client';
import type { ServerNotification } from '@modelcontextprotocol/client';
import type { Logger } from '../observability/logger.js';
import { MODERN_PROTOCOL_VERSION } from '../mcp/protocol-era.js';
import { sseEvents } from './sse-events.js';

/** How long the upstream has to acknowledge a listen request, and the pause before a lost stream is reopened. */
const ACK_TIMEOUT_MS = 10_000;
const REOPEN_DELAY_MS = 1_000;
/** Reopening stops after this many streams in a row ended early (within `SHORT_LIVED_MS`, nothing delivered). */
const MAX_REOPENS = 5;
const SHORT_LIVED_MS = 60_000;

export interface ModernListenOptions {
  name: string;
  url: string;
  fetch: FetchLike;
  headers(auth: AuthInfo | undefined): Promise<Record<string, string>>;
  /** The `_meta` envelope of a request (`modern-upstream.ts`). */
  envelope(): Record<string, unknown>;
  onNotification(n: ServerNotification): void;
  logger: Logger;
}

export class ModernUpstreamListener {
  private readonly uris = new Set<string>();
  private current: AbortController | undefined;
  private auth: AuthInfo | undefined;
  private failures = 0;
  private openedAt = 0;
  private nextId = 0;
  private closed = false;

  constructor(private readonly opts: ModernListenOptions) {}

  /** Adds `uri` to the stream's resources (opening it) and resolves once the upstream acknowledged it. */
  async subscribe(uri: string, auth: AuthInfo | undefined): Promise<void> {
    if (auth) this.auth = auth;
    if (this.uris.has(uri) && this.current) return;
    this.uris.add(uri);
    try {
      await this.reopen();
    } catch (err) {
      this.uris.delete(uri);
      throw err;
    }
  }

  /** Removes `uri`; the stream goes with the last one. */
  async unsubscribe(uri: string): Promise<void> {
    if (!this.uris.delete(uri)) return;
    if (this.uris.size === 0) return this.stop();
    await this.reopen().catch((err: unknown) => this.opts.logger.debug({ err, toolServer: this.opts.name }, 'upstream listen stream not reopened'));
  }

  close(): void {
    this.closed = true;
    this.stop();
  }

  private stop(): void {
    this.current?.abort();
    this.current = undefined;
  }

  /** Replaces the stream by one for the current set of resources; resolves at its acknowledgement. */
  private async reopen(): Promise<void> {
    this.stop();
    if (this.closed || this.uris.size === 0) return;
    const controller = new AbortController();
    this.current = controller;
    const id = `sb-listen-${++this.nextId}`;
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'subscriptions/listen',
      params: {
        _meta: this.opts.envelope(),
        notifications: { toolsListChanged: true, promptsListChanged: true, resourcesListChanged: true, resourceSubscriptions: [...this.uris] },
      },
    });
    const ackTimer = setTimeout(() => controller.abort(new Error('the upstream did not acknowledge subscriptions/listen')), ACK_TIMEOUT_MS);
    try {
      const res = await this.opts.fetch(this.opts.url, {
        method: 'POST',
        headers: {
          ...(await this.opts.headers(this.auth)),
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': MODERN_PROTOCOL_VERSION,
          'mcp-method': 'subscriptions/listen',
        },
        body,
        signal: controller.signal,
      });
      if (res.status !== 200 || !res.body || !res.headers.get('content-type')?.includes('text/event-stream')) {
        await res.body?.cancel().catch(() => undefined);
        throw new Error(`subscriptions/listen answered HTTP ${res.status} (${res.headers.get('content-type') ?? 'no content type'})`);
      }
      let acknowledged!: () => void;
      const ack = new Promise<void>((r) => (acknowledged = r));
      const reading = this.read(res.body, controller, () => {
        clearTimeout(ackTimer);
        acknowledged();
      });
      await Promise.race([ack, reading.then(() => Promise.reject(new Error('the upstream ended subscriptions/listen before acknowledging it')))]);
      void reading.then(() => this.lost(controller));
    } catch (err) {
      if (this.current === controller) this.current = undefined;
      throw err;
    } finally {
      clearTimeout(ackTimer);
    }
  }

  /** Reads the stream until it ends; `acked` at the acknowledgement. Never rejects. */
  private async read(body: ReadableStream<Uint8Array>, controller: AbortController, acked: () => void): Promise<void> {
    try {
      for await (const { data } of sseEvents(body)) {
        if (!data) continue;
        const m = JSON.parse(data) as { method?: unknown; params?: Record<string, unknown> };
        if (m.method === 'notifications/subscriptions/acknowledged') {
          acked();
          this.openedAt = Date.now();
        } else if (typeof m.method === 'string' && m.method.startsWith('notifications/')) {
          this.failures = 0;
          this.opts.onNotification({ method: m.method, params: m.params ?? {} } as ServerNotification);
        }
      }
    } catch (err) {
      if (!controller.signal.aborted) this.opts.logger.debug({ err, toolServer: this.opts.name }, 'upstream listen stream failed');
    }
  }

  /** The upstream ended the stream (or it broke): opened again while the session still needs it. */
  private lost(controller: AbortController): void {
    if (this.current !== controller || this.closed) return;
    this.current = undefined;
    if (Date.now() - this.openedAt >= SHORT_LIVED_MS) this.failures = 0;
    if (++this.failures > MAX_REOPENS) {
      this.opts.logger.warn({ toolServer: this.opts.name }, 'upstream listen stream keeps ending; resource updates from it stop until the next subscription');
      return;
    }
    setTimeout(() => {
      if (!this.current && !this.closed && this.uris.size > 0) {
        this.reopen().catch((err: unknown) => this.opts.logger.debug({ err, toolServer: this.opts.name }, 'upstream listen stream not reopened'));
      }
    }, REOPEN_DELAY_MS).unref();
  }
}
