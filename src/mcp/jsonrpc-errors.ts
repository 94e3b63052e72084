/** JSON-RPC error bodies for the MCP endpoint (the transport's own errors use the same shape). */
import type { Response } from 'express';

export const JSONRPC = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  INTERNAL_ERROR: -32603,
  /** Transport-level errors (no session id, session not found), as the SDK uses. */
  SERVER_ERROR: -32000,
  SESSION_NOT_FOUND: -32001,
} as const;

export function sendJsonRpcError(res: Response, status: number, code: number, message: string, headers: Record<string, string> = {}): void {
  res.status(status).set(headers).json({ jsonrpc: '2.0', error: { code, message }, id: null });
}
