/**
 * Backpressure from a client's response back to the upstream streams that feed it. The SDK's transports queue every
 * message without limit (its server transport enqueues whatever it is handed; its client transport reads upstream
 * streams as fast as they come), so a client that stops reading would otherwise make the gateway hold everything
 * its upstreams send. Instead, while the response bridge waits for a client's socket to drain it holds that
 * response's flow, and an upstream stream read on behalf of that client request is not read further meanwhile: the
 * upstream is held back by TCP.
 *
 * The flow travels in the async context of the client request (`request-context.ts`, entered where the request is
 * bridged), because the SDK hands a request across its layers without anything of ours we could attach it to.
 */
/** Whether a client response can take more right now. */
export class ResponseFlow {
  private held: Promise<void> | undefined;
  private release: (() => void) | undefined;

  /** The client is not keeping up: streams feeding it wait. */
  hold(): void {
    this.held ??= new Promise((resolve) => (this.release = resolve));
  }

  /** The client caught up (or went away): streams feeding it go on. */
  resume(): void {
    this.release?.();
    this.held = undefined;
    this.release = undefined;
  }

  /** Resolves when the client can take more; undefined when it can now. */
  ready(): Promise<void> | undefined {
    return this.held;
  }
}

/** `body`, read no faster than `flow` lets it through. */
export function heldBack(body: ReadableStream<Uint8Array>, flow: ResponseFlow): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        await flow.ready();
        const next = await reader.read();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      cancel: (reason: unknown) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}
