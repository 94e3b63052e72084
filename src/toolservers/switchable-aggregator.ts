/**
 * The aggregator a live session holds: it takes up its team's new tool-server configuration without the session
 * being rebuilt (`swap`), and makes its tool-server connections on first use (`LazyAggregator`).
 *
 * Both are classes rather than objects of closures: a process holds thousands of idle sessions, and a set of
 * closures per session (one per method) was a third of an idle session's heap (bench, heap snapshot).
 */
import type { Aggregator, RelayTarget } from './aggregator.js';
import type { CallContext } from './types.js';

export const SWAP_GRACE_MS = 60_000;

type Params<K extends keyof Aggregator> = Aggregator[K] extends (...args: infer A) => unknown ? A : never;

/** Delegates every call to the current aggregator; `swap` points it at another one. */
export class SwitchableAggregator implements Aggregator {
  /** The session's client listens here (`listen`): the current aggregator's upstream streams are open. */
  private listening = false;
  constructor(private current: Aggregator) {}

  /**
   * Calls already running on the old aggregator finish there; it is closed after a grace period (as an eviction:
   * its upstream sessions stay open, and the new aggregator reuses their stored ids). Its upstream standalone
   * streams move to the new one at once (an upstream allows one per session).
   */
  swap(next: Aggregator): void {
    const old = this.current;
    this.current = next;
    if (this.listening) {
      old.listen(false);
      next.listen(true);
    }
    setTimeout(() => void old.close().catch(() => undefined), SWAP_GRACE_MS).unref();
  }

  listen(on: boolean): void {
    this.listening = on;
    this.current.listen(on);
  }

  /** Only while listening: a session whose client does not listen here opens no upstream stream. */
  lookAgain(toolServer?: string): void {
    if (this.listening) this.current.lookAgain(toolServer);
  }

  get hasRemote(): boolean {
    return this.current.hasRemote;
  }
  listTools(call: CallContext) {
    return this.current.listTools(call);
  }
  callTool(...a: Params<'callTool'>) {
    return this.current.callTool(...a);
  }
  relayTarget(method: string, params: Record<string, unknown>): RelayTarget | undefined {
    return this.current.relayTarget(method, params);
  }
  paramHeaders(...a: Params<'paramHeaders'>) {
    return this.current.paramHeaders(...a);
  }
  listPrompts(call: CallContext) {
    return this.current.listPrompts(call);
  }
  getPrompt(...a: Params<'getPrompt'>) {
    return this.current.getPrompt(...a);
  }
  listResources(call: CallContext) {
    return this.current.listResources(call);
  }
  listResourceTemplates(call: CallContext) {
    return this.current.listResourceTemplates(call);
  }
  readResource(...a: Params<'readResource'>) {
    return this.current.readResource(...a);
  }
  subscribeResource(...a: Params<'subscribeResource'>) {
    return this.current.subscribeResource(...a);
  }
  unsubscribeResource(...a: Params<'unsubscribeResource'>) {
    return this.current.unsubscribeResource(...a);
  }
  complete(...a: Params<'complete'>) {
    return this.current.complete(...a);
  }
  setLogLevel(...a: Params<'setLogLevel'>) {
    return this.current.setLogLevel(...a);
  }
  rootsChanged() {
    return this.current.rootsChanged();
  }
  close(...a: Params<'close'>) {
    return this.current.close(...a);
  }
}

/**
 * An aggregator whose tool-server connections are made on first use: a session that only initialized (an idle one,
 * most of those a process holds) keeps no connections, upstream clients or closures for them. `hasRemote` is known
 * from the definitions; a log level or roots change before any use has no connection to reach (connections take
 * the current level when they are made), and closing an unused one has nothing to close.
 */
export class LazyAggregator implements Aggregator {
  private made: Aggregator | undefined;
  constructor(
    readonly hasRemote: boolean,
    private readonly make: () => Aggregator,
  ) {}

  private use(): Aggregator {
    return (this.made ??= this.make());
  }
  listTools(call: CallContext) {
    return this.use().listTools(call);
  }
  callTool(...a: Params<'callTool'>) {
    return this.use().callTool(...a);
  }
  relayTarget(method: string, params: Record<string, unknown>): RelayTarget | undefined {
    return this.use().relayTarget(method, params);
  }
  paramHeaders(...a: Params<'paramHeaders'>) {
    return this.use().paramHeaders(...a);
  }
  listPrompts(call: CallContext) {
    return this.use().listPrompts(call);
  }
  getPrompt(...a: Params<'getPrompt'>) {
    return this.use().getPrompt(...a);
  }
  listResources(call: CallContext) {
    return this.use().listResources(call);
  }
  listResourceTemplates(call: CallContext) {
    return this.use().listResourceTemplates(call);
  }
  readResource(...a: Params<'readResource'>) {
    return this.use().readResource(...a);
  }
  subscribeResource(...a: Params<'subscribeResource'>) {
    return this.use().subscribeResource(...a);
  }
  unsubscribeResource(...a: Params<'unsubscribeResource'>) {
    return this.use().unsubscribeResource(...a);
  }
  complete(...a: Params<'complete'>) {
    return this.use().complete(...a);
  }
  async setLogLevel(...a: Params<'setLogLevel'>) {
    await this.made?.setLogLevel(...a);
  }
  async rootsChanged() {
    await this.made?.rootsChanged();
  }
  listen(on: boolean): void {
    // A listening client needs the connections (an upstream session another replica opened is resumed here).
    if (on) {
      if (this.hasRemote) this.use().listen(true);
    } else this.made?.listen(false);
  }
  lookAgain(toolServer?: string): void {
    this.made?.lookAgain(toolServer);
  }
  async close(...a: Params<'close'>) {
    await this.made?.close(...a);
  }
}
