/**
 * A tool server failed (unreachable, HTTP error, timeout, not MCP) rather than answered: `reason` is the short text
 * safe to show the client (`aggregator.ts` `upstreamFailureReason`), the cause stays in the log.
 */
export class UpstreamFailure extends Error {
  constructor(
    readonly reason: string,
    cause?: unknown,
  ) {
    super(reason, cause === undefined ? undefined : { cause });
  }
}
