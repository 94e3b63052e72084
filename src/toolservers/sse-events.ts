/**
 * The events of a long-lived upstream event stream (a session's standalone stream, a `subscriptions/listen` stream),
 * as a fetch body delivers them: decoded, split at event boundaries, each block's fields read (`parseEvent`, the same
 * reading the relay does for calls). Hand-written like the relay's reader rather than through a parser package: the
 * rules are a dozen lines (`parseEvent`) and this keeps one reading of the format for every upstream stream.
 */
import { parseEvent } from './upstream-relay.js';

export async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<{ data: string | undefined; id: string | undefined; retry: number | undefined }> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const bytes of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(bytes, { stream: true });
    // A CR at the end may be half of a CRLF: it waits for the next chunk.
    const cr = buffer.endsWith('\r');
    let text = (cr ? buffer.slice(0, -1) : buffer).replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = text.indexOf('\n\n')) !== -1) {
      yield parseEvent(text.slice(0, end));
      text = text.slice(end + 2);
    }
    buffer = cr ? `${text}\r` : text;
  }
}
