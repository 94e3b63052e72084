/**
 * One HTTP request of the relay to an upstream, through undici's `dispatch` rather than its `request`: the response's
 * status, its content type and its body's chunks as they arrive, with no stream object in between. `request` makes a
 * `Readable` per response, parses every header into an object, and the relay then read the body through an async
 * iterator (its promises, its end-of-stream listeners, a `nextTick` per chunk and per end): for a tool call answered
 * in one chunk that machinery was several times the work of reading the answer (bench profile). What the relay needs
 * of a response is small — a status, one header, chunks in order with backpressure, the end or the error — and
 * undici's handler interface gives exactly that; no package offers it in a smaller form, hence this file.
 */
import { AsyncResource } from 'node:async_hooks';
import type { Dispatcher } from 'undici';

/** What reads the body: a chunk at a time; a promise pauses the connection until it settles. */
export type ChunkReader = (chunk: Buffer) => void | Promise<void>;

const CONTENT_TYPE = 'content-type';

/** The response to one request, once its status line and headers have arrived (`send`). */
export class UpstreamResponse extends AsyncResource implements Dispatcher.DispatchHandler {
  status = 0;
  contentType = '';
  private abortRequest: ((err?: Error) => void) | undefined;
  private resumeConnection: (() => void) | undefined;
  /** Settles `send`: the headers arrived, or the request failed before them. */
  private started: { resolve: (r: UpstreamResponse) => void; reject: (err: Error) => void } | undefined;
  /** Chunks not yet given to the reader: before one is attached (the first often arrives with the headers), or while it waits. */
  private queue: Buffer[] = [];
  private reader: ChunkReader | undefined;
  private finished: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private outcome: { err?: Error } | undefined;
  private paused = false;
  private removeAbortListener: (() => void) | undefined;
  private reason: Error | undefined;

  constructor(signal: AbortSignal | undefined, started: UpstreamResponse['started']) {
    super('switchboard.upstream-exchange');
    this.started = started;
    if (!signal) return;
    if (signal.aborted) {
      this.reason = abortReason(signal);
      return;
    }
    const onAbort = () => this.destroy(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    this.removeAbortListener = () => signal.removeEventListener('abort', onAbort);
  }

  /** Ends the request now (the connection is closed); `err` is what the reader and `send` are told. */
  destroy(err: Error = new Error('the exchange was ended')): void {
    if (this.outcome) return;
    this.reason ??= err;
    this.abortRequest?.(err);
  }

  /** Feeds the body to `reader`, chunk by chunk; resolves at its end, rejects with the request's error or the reader's. */
  read(reader: ChunkReader): Promise<void> {
    this.reader = reader;
    const done = new Promise<void>((resolve, reject) => (this.finished = { resolve, reject }));
    this.pump();
    return done;
  }

  /** The whole body as text (UTF-8). */
  async text(): Promise<string> {
    const chunks: Buffer[] = [];
    await this.read((c) => void chunks.push(c));
    return (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
  }

  /** Reads the body to its end and drops it: the connection goes back to the pool. */
  dump(): Promise<void> {
    return this.read(() => undefined);
  }

  // undici's handler interface (the same one its own `request` implements).

  onConnect(abort: (err?: Error) => void): void {
    if (this.reason) return abort(this.reason);
    this.abortRequest = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx: the response is still to come
    this.status = statusCode;
    this.resumeConnection = resume;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      if (name.length === CONTENT_TYPE.length && name.toString('latin1').toLowerCase() === CONTENT_TYPE) {
        this.contentType = rawHeaders[i + 1]!.toString('latin1');
        break;
      }
    }
    const started = this.started!;
    this.started = undefined;
    this.runInAsyncScope(started.resolve, null, this);
    return true;
  }

  onData(chunk: Buffer): boolean {
    // undici hands over an empty chunk when it resumes a parser paused at the end of its data: nothing to read, and
    // pausing on it again would resume it again, forever.
    if (chunk.length === 0) return !this.paused;
    this.queue.push(chunk);
    if (this.reader) this.pump();
    return !this.paused;
  }

  onComplete(): void {
    this.end({});
  }

  onError(err: Error): void {
    this.end({ err: this.reason ?? err });
  }

  private end(outcome: { err?: Error }): void {
    if (this.outcome) return;
    this.outcome = outcome;
    this.removeAbortListener?.();
    if (this.started) {
      const started = this.started;
      this.started = undefined;
      this.runInAsyncScope(started.reject, null, outcome.err ?? new Error('the upstream closed the connection without answering'));
      return;
    }
    if (this.reader) this.pump();
  }

  private settle(): void {
    const finished = this.finished;
    if (!finished) return;
    this.finished = undefined;
    if (this.outcome?.err) this.runInAsyncScope(finished.reject, null, this.outcome.err);
    else this.runInAsyncScope(finished.resolve, null);
  }

  /** Gives the reader what is queued, in order, one chunk at a time; then the end, once there is one. */
  private pump(): void {
    while (!this.paused && this.finished && this.queue.length > 0) {
      const chunk = this.queue.shift()!;
      let waiting: void | Promise<void>;
      try {
        waiting = this.runInAsyncScope(this.reader!, null, chunk);
      } catch (err) {
        return this.fail(err);
      }
      if (waiting) {
        this.paused = true;
        waiting.then(
          () => {
            this.paused = false;
            this.pump();
            if (!this.paused && !this.outcome) this.resumeConnection?.();
          },
          (err: unknown) => {
            this.paused = false;
            this.fail(err);
          },
        );
      }
    }
    if (!this.paused && this.queue.length === 0 && this.outcome) this.settle();
  }

  /** The reader failed: the request is ended and `read` rejects with the reader's error. */
  private fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    const finished = this.finished;
    this.finished = undefined;
    this.queue.length = 0;
    this.destroy(error);
    finished?.reject(error);
  }
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : Object.assign(new Error('This operation was aborted'), { name: 'AbortError', cause: reason });
}

/** Sends one request; resolves once the response's headers arrived (its body is then `read`, `text` or `dump`). */
export function send(dispatcher: Dispatcher, opts: Dispatcher.DispatchOptions, signal?: AbortSignal): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    const response = new UpstreamResponse(signal, { resolve, reject });
    try {
      dispatcher.dispatch(opts, response);
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
