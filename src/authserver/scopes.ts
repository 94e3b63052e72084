/**
 * Scopes of the built-in issuer (the ones the protected-resource metadata advertises). Unknown requested scopes
 * are dropped rather than refused (RFC 6749 §3.3 lets the server grant less): clients ask for `openid`, `profile`
 * and the like out of habit, and failing them would only break real connections. `mcp` is always granted.
 */
import { SCOPES_SUPPORTED } from '../auth/protected-resource.js';

export const DEFAULT_SCOPE = 'mcp';

export function splitScope(scope: string | undefined): string[] {
  return [...new Set((scope ?? '').split(' ').filter(Boolean))];
}

/** The scope granted for a request: the supported scopes it asks for, plus `mcp`, in a stable order. */
export function grantedScope(requested: string | undefined): string {
  const asked = new Set(splitScope(requested));
  return SCOPES_SUPPORTED.filter((s) => s === DEFAULT_SCOPE || asked.has(s)).join(' ');
}

/** Whether every scope in `wanted` is also in `held`. */
export function scopeCovers(held: string, wanted: string): boolean {
  const have = new Set(splitScope(held));
  return splitScope(wanted).every((s) => have.has(s));
}
