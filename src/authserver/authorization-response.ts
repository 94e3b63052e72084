/**
 * Authorization responses (RFC 6749 §4.1.2) sent back to the client's redirect URI: the code or the error, the
 * client's `state`, and always `iss` (RFC 9207) so a client talking to several servers can tell who answered —
 * ChatGPT's legacy redirect relies on it. Parameters are appended to any query the redirect URI already has.
 */
import type { Response } from 'express';
import type { OAuthError } from './oauth-errors.js';

export interface ResponseTarget {
  redirectUri: string;
  state?: string | undefined;
}

export function authorizationResponseUrl(target: ResponseTarget, params: Record<string, string>, issuer: string): string {
  const url = new URL(target.redirectUri);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  if (target.state !== undefined) url.searchParams.set('state', target.state);
  url.searchParams.set('iss', issuer);
  return url.href;
}

/** 303 after a form POST (the browser follows with GET), 302 after a GET. */
function statusFor(res: Response): number {
  return res.req.method === 'POST' ? 303 : 302;
}

export function redirectWithCode(res: Response, target: ResponseTarget, code: string, issuer: string): void {
  res.set('Cache-Control', 'no-store').redirect(statusFor(res), authorizationResponseUrl(target, { code }, issuer));
}

export function redirectWithError(res: Response, target: ResponseTarget, err: OAuthError, issuer: string): void {
  const { error, error_description } = err.toJSON();
  res.set('Cache-Control', 'no-store').redirect(statusFor(res), authorizationResponseUrl(target, { error, error_description }, issuer));
}
