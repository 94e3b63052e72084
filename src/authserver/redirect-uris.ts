/**
 * Which redirect URIs a client may register, and whether a requested one matches a registered one.
 * Registration accepts https URLs, loopback http URLs on any port (RFC 8252 §7.3) and private-use schemes of native
 * apps (RFC 8252 §7.1, e.g. Cursor's `cursor://anysphere.cursor-mcp/oauth/callback`; PKCE is always required, so
 * an app that claims another's scheme gets no token); never credentials, fragments or browser-dangerous schemes. Matching is exact string comparison, except that a registered loopback URI matches
 * the same URI on another port (native apps and the MCP Inspector pick a free port at run time).
 */

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
export const MAX_REDIRECT_URI_LENGTH = 2000;
export const MAX_REDIRECT_URIS = 20;

/** Why `uri` may not be registered, or undefined when it may. */
export function redirectUriProblem(uri: string): string | undefined {
  if (uri.length > MAX_REDIRECT_URI_LENGTH) return `longer than ${MAX_REDIRECT_URI_LENGTH} characters`;
  const url = URL.parse(uri);
  if (!url) return 'not an absolute URL';
  if (url.hash || uri.includes('#')) return 'must not contain a fragment';
  if (url.username || url.password) return 'must not contain credentials';
  if (url.protocol === 'https:') return url.hostname ? undefined : 'has no host';
  if (url.protocol === 'http:') return LOOPBACK_HOSTS.has(url.hostname) ? undefined : 'http is only allowed for loopback (localhost, 127.0.0.1, [::1])';
  if (isPrivateUseScheme(url.protocol)) return undefined;
  return `scheme ${url.protocol} is not allowed; use https, http on a loopback address, or an app's own scheme`;
}

/** Schemes a browser would interpret itself (script, local files, other protocols) are never redirect targets. */
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'file:', 'vbscript:', 'blob:', 'about:', 'filesystem:', 'ftp:', 'ws:', 'wss:', 'mailto:', 'tel:', 'sms:']);

function isPrivateUseScheme(protocol: string): boolean {
  return /^[a-z][a-z0-9+.-]*:$/.test(protocol) && !FORBIDDEN_SCHEMES.has(protocol);
}

/** What a CSP `form-action` must allow for forms that end at this redirect URI: its origin, or its scheme. */
export function formTargetFor(uri: string): string {
  const url = new URL(uri);
  return url.protocol === 'https:' || url.protocol === 'http:' ? url.origin : url.protocol;
}

export function isLoopbackRedirect(uri: string): boolean {
  const url = URL.parse(uri);
  return url !== null && url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
}

/** The registered URI that `requested` matches, or undefined. */
export function matchRedirectUri(requested: string, registered: readonly string[]): string | undefined {
  if (registered.includes(requested)) return requested;
  if (!isLoopbackRedirect(requested)) return undefined;
  const want = new URL(requested);
  return registered.find((r) => {
    if (!isLoopbackRedirect(r)) return false;
    const have = new URL(r);
    // Only the port may differ; compare the rest as the client wrote it (no normalisation beyond URL parsing).
    return have.hostname === want.hostname && have.pathname === want.pathname && have.search === want.search && sameTail(r, requested);
  });
}

/** Guards against URL parsing hiding differences (e.g. `%2F` vs `/`): the text after the authority must be equal. */
function sameTail(a: string, b: string): boolean {
  const tail = (s: string) => s.replace(/^http:\/\/[^/?#]*/i, '');
  return tail(a) === tail(b);
}

/** The host a person sees on the consent page for a redirect URI. */
export function redirectHost(uri: string): string {
  const url = URL.parse(uri);
  if (!url) return uri;
  return url.protocol === 'https:' || url.protocol === 'http:' ? url.host : `${url.protocol}//${url.host}`;
}
