/**
 * The gateway's JSON-RPC errors, on SDK v2. v2 renamed `McpError`/`ErrorCode` to `ProtocolError`/`ProtocolErrorCode`,
 * dropped the "MCP error <code>: " prefix v1 put in every message, and moved the local failures (timeout, closed
 * connection) to `SdkError` with string codes. What our clients see stays as it was (CONTRACT.md): our errors keep
 * the v1 prefix and the v1 codes -32000 and -32001 for the gateway's own timeouts and closed streams. An error an
 * upstream answered with reaches the client with the upstream's own words (`fromUpstream`), as the relay passes it:
 * a v1 client prefixed it once more ("MCP error -32602: MCP error -32602: …" from a v1 upstream), so the same answer
 * read differently depending on whether it came through the relay or the SDK client.
 */
import { ProtocolError, ProtocolErrorCode, SdkError, SdkErrorCode } from '@modelcontextprotocol/server';

/** JSON-RPC error codes the gateway sends: the spec's, plus v1's two for its own timeouts and closed streams. */
export const ErrorCode = {
  ConnectionClosed: -32000,
  RequestTimeout: -32001,
  ParseError: ProtocolErrorCode.ParseError,
  InvalidRequest: ProtocolErrorCode.InvalidRequest,
  MethodNotFound: ProtocolErrorCode.MethodNotFound,
  InvalidParams: ProtocolErrorCode.InvalidParams,
  InternalError: ProtocolErrorCode.InternalError,
  UrlElicitationRequired: ProtocolErrorCode.UrlElicitationRequired,
} as const;

/**
 * A JSON-RPC error raised by the gateway. A `ProtocolError` (what the SDK's own code raises, so both are answered
 * alike with code, message and data), whose message carries the v1 prefix clients have always read.
 */
export class McpError extends ProtocolError {
  constructor(code: number, message: string, data?: unknown) {
    super(code, `MCP error ${code}: ${message}`, data);
    this.name = 'McpError';
  }

  /** An error answer as its sender wrote it (no prefix added): an upstream's, passed on to the client. */
  static answered(code: number, message: string, data?: unknown): McpError {
    const err = new McpError(code, message, data);
    err.message = message;
    return err;
  }

  /**
   * An error the SDK client raised, as the client must see it: an upstream's (or client's) error answer with its
   * sender's words, a timeout or a closed connection with v1's codes. Our own errors and anything else pass unchanged.
   */
  static fromUpstream(err: unknown): unknown {
    if (err instanceof McpError) return err;
    if (err instanceof ProtocolError) return McpError.answered(err.code, err.message, err.data);
    if (err instanceof SdkError && err.code === SdkErrorCode.RequestTimeout) return new McpError(ErrorCode.RequestTimeout, 'Request timed out', err.data);
    if (err instanceof SdkError && err.code === SdkErrorCode.ConnectionClosed) return new McpError(ErrorCode.ConnectionClosed, 'Connection closed');
    return err;
  }
}

/** The SDK client gave up waiting for an answer (a v1 `McpError` with -32001 before). */
export function isTimeout(err: unknown): boolean {
  return (err instanceof SdkError && err.code === SdkErrorCode.RequestTimeout) || (err instanceof McpError && err.code === ErrorCode.RequestTimeout);
}

/** The connection closed before the answer came (a v1 `McpError` with -32000 before). */
export function isConnectionClosed(err: unknown): boolean {
  return (err instanceof SdkError && err.code === SdkErrorCode.ConnectionClosed) || (err instanceof McpError && err.code === ErrorCode.ConnectionClosed);
}
