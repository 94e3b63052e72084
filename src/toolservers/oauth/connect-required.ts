/**
 * The one domain error of auth mode `oauth`: the user has no usable connection to the tool server (never connected,
 * removed, or the upstream refused to refresh it). Whoever catches it turns it into the connect prompt; it never
 * carries a token.
 */
export class UpstreamConnectRequired extends Error {
  constructor(
    readonly toolServer: string,
    why: string,
  ) {
    super(`no connection to tool server ${toolServer}: ${why}`);
    this.name = 'UpstreamConnectRequired';
  }
}

/** The error, or one it caused (the SDK client wraps what its fetch threw in some paths). */
export function connectRequiredIn(err: unknown): UpstreamConnectRequired | undefined {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof UpstreamConnectRequired) return e;
  }
  return undefined;
}

/** The upstream's OAuth setup could not be discovered or used (a configuration fault, shown to admins and users). */
export class UpstreamOAuthSetupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UpstreamOAuthSetupError';
  }
}
