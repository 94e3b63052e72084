/**
 * Reads a `fetch` response as Server-Sent Events, event by event, the way a Streamable HTTP client does: each event's
 * id, retry hint and data (parsed as JSON when there is any).
 */
export interface SseEvent {
  id: string | undefined;
  retry: number | undefined;
  data: string;
  message: { id?: string | number; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { code: number; message: string } } | undefined;
}

export class SseReader {
  readonly events: SseEvent[] = [];
  private buffer = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  ended = false;

  constructor(res: Response) {
    this.reader = res.body!.getReader();
  }

  /** The next event that satisfies `pred` (events before it are kept in `events`); undefined if the stream ends first. */
  async next(pred: (e: SseEvent) => boolean = () => true, timeoutMs = 10_000): Promise<SseEvent | undefined> {
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      for (; seen < this.events.length; seen++) if (pred(this.events[seen]!) && !this.taken.has(seen)) return this.take(seen);
      if (this.ended) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(this.events.map((e) => e.data))}`);
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([this.reader.read(), new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), left)))]).catch(() => ({ done: true as const, value: undefined }));
      clearTimeout(timer);
      if (chunk === 'timeout') continue;
      if (chunk.done) {
        this.ended = true;
        continue;
      }
      this.feed(this.decoder.decode(chunk.value, { stream: true }));
    }
  }

  /** Reads to the end of the stream. */
  async rest(timeoutMs = 10_000): Promise<SseEvent[]> {
    while (!this.ended) await this.next(() => false, timeoutMs).catch((err: unknown) => {
      if (!this.ended) throw err;
    });
    return this.events;
  }

  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => undefined);
  }

  private readonly taken = new Set<number>();
  private take(i: number): SseEvent {
    this.taken.add(i);
    return this.events[i]!;
  }

  private feed(text: string): void {
    this.buffer += text.replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let id: string | undefined;
      let retry: number | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = value;
        else if (field === 'retry') retry = Number(value);
        else if (field === 'data') data.push(value);
      }
      const joined = data.join('\n');
      this.events.push({ id, retry, data: joined, message: joined.trim() ? (JSON.parse(joined) as SseEvent['message']) : undefined });
    }
  }
}
