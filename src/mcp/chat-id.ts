/**
 * The chat a request belongs to: the chat header (`CHAT_ID_HEADER`) or, failing that, ChatGPT's per-conversation
 * `params._meta["openai/session"]`. With the caller's team, user and OAuth client it keys the session a request
 * without a session id is served in, on both protocol eras.
 */
import type { Request } from 'express';

const CHAT_ID = /^[\x21-\x7e]{1,200}$/;

/** The request's chat id; null without one; 'invalid' for a value that is not 1–200 visible ASCII characters. */
export function chatFrom(req: Request, header: string, body: unknown): string | null | 'invalid' {
  const fromHeader = req.headers[header];
  const meta = (body as { params?: { _meta?: Record<string, unknown> } } | undefined)?.params?._meta?.['openai/session'];
  const value = typeof fromHeader === 'string' ? fromHeader : typeof meta === 'string' ? meta : undefined;
  if (value === undefined) return null;
  return CHAT_ID.test(value) ? value : 'invalid';
}
