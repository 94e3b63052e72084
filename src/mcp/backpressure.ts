/**
 * Backpressure toward a client's response: whether it can take more now, waiting until it can, and — for a request
 * whose answer is fed by an upstream stream read through the SDK client — holding that stream back meanwhile
 * (`toolservers/upstream-flow.ts`): a client that stops reading makes the gateway stop reading its upstream, rather
 * than hold everything the upstream sends.
 */
import type { ServerResponse } from 'node:http';
import { ResponseFlow } from '../toolservers/upstream-flow.js';
import { enterResponseFlow } from '../observability/request-context.js';

/** The flow of each response whose upstream streams follow its client (`followClient`). */
const flows = new WeakMap<ServerResponse, ResponseFlow>();

/**
 * From here on in this async context (a client request being answered on `res`), upstream streams read on its behalf
 * wait while `res` waits for `drain`. The requests of a batch share their response, and so its flow.
 */
export function followClient(res: ServerResponse): void {
  let flow = flows.get(res);
  if (!flow) flows.set(res, (flow = new ResponseFlow()));
  enterResponseFlow(flow);
}

/**
 * Whether `res` holds more than it should: bytes of its own waiting, or a socket that asked for `drain`. Node 22's
 * `write()` may return false (and set `writableNeedDrain`) while every byte already went to a socket that never
 * asks for `drain`; no `drain` then ever comes, so that flag alone would stall the response for good.
 */
export function needsDrain(res: ServerResponse): boolean {
  if (!res.writableNeedDrain) return false;
  const socket = res.socket;
  return !socket || res.writableLength > 0 || socket.writableNeedDrain;
}

/**
 * Resolves once `res` can take more (`drain`) or never will (`close`: the client went away). Meanwhile the
 * response's flow, if it has one, is held.
 */
export function whenWritable(res: ServerResponse): Promise<void> {
  if (res.destroyed || !needsDrain(res)) return Promise.resolve();
  const flow = flows.get(res);
  flow?.hold();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      flow?.resume();
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
