/**
 * Driving the built-in authorization server like a person and a real client would: a cookie-keeping "browser"
 * made of fetch calls (follows redirects by hand, fills in the dev login form, presses Allow or Deny on the consent
 * page with its CSRF token, stops at the client's redirect URI), and an SDK `OAuthClientProvider` whose
 * `redirectToAuthorization` uses that browser and captures the authorization response.
 */
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { startTestGateway } from './gateway.js';

/** A test gateway with options of the authorization server; see `startTestGateway`. */
export const startOAuthGateway: typeof startTestGateway = startTestGateway;

/** A free port on 127.0.0.1 (for a gateway whose URL another fixture must know before it starts). */
export async function freePort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  return port;
}

/** A minimal cookie jar: name=value pairs, expiry by Max-Age=0 / past Expires only (enough for one origin). */
export class CookieJar {
  private readonly cookies = new Map<string, string>();
  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) < Date.now()));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  get size(): number {
    return this.cookies.size;
  }
}

export interface Page {
  url: URL;
  status: number;
  headers: Headers;
  body: string;
}

/** The value of a hidden input in a page. */
export function hiddenField(html: string, name: string): string | undefined {
  return new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
}

/** A cookie-keeping user agent that follows redirects by hand and stops at the client's redirect URI. */
export class FetchBrowser {
  readonly jar = new CookieJar();
  readonly visited: string[] = [];
  constructor(private readonly isClientRedirect: (url: URL) => boolean) {}

  /** One request; `form` makes it a urlencoded POST. Redirects are not followed. */
  async request(url: URL, form?: Record<string, string>): Promise<Response> {
    this.visited.push(`${form ? 'POST' : 'GET'} ${url.pathname}`);
    const headers: Record<string, string> = { accept: 'text/html' };
    if (this.jar.size) headers.cookie = this.jar.header();
    if (form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, { method: form ? 'POST' : 'GET', headers, redirect: 'manual', ...(form ? { body: new URLSearchParams(form) } : {}) });
    this.jar.store(res);
    return res;
  }

  /** Follows redirects from `url` (or a form POST to it) until a page renders or the client's redirect URI is reached. */
  async navigate(url: URL, form?: Record<string, string>): Promise<Page | { redirect: URL }> {
    let res = await this.request(url, form);
    let current = url;
    for (let hops = 0; res.status >= 300 && res.status < 400; hops++) {
      if (hops > 10) throw new Error('too many redirects');
      const next = new URL(res.headers.get('location')!, current);
      await res.body?.cancel();
      if (this.isClientRedirect(next)) return { redirect: next };
      current = next;
      res = await this.request(current);
    }
    return { url: current, status: res.status, headers: res.headers, body: await res.text() };
  }
}

export interface UserActions {
  email: string;
  decision?: 'allow' | 'deny';
}

/**
 * Plays the person: from the authorization URL through the dev login form and the consent page to the
 * client's redirect URI, which is returned (never fetched). Throws with the page when something else renders.
 */
export async function authorizeInBrowser(authorizationUrl: URL, redirectUri: string, user: UserActions, browser?: FetchBrowser): Promise<URL> {
  const target = new URL(redirectUri);
  const b = browser ?? new FetchBrowser((u) => u.origin === target.origin && u.pathname === target.pathname);
  let step = await b.navigate(authorizationUrl);
  for (let i = 0; i < 5; i++) {
    if ('redirect' in step) return step.redirect;
    const csrf = hiddenField(step.body, 'csrf');
    if (step.status === 200 && csrf && step.body.includes('type="email"')) {
      step = await b.navigate(new URL('/login', step.url), { csrf, email: user.email });
    } else if (step.status === 200 && csrf && step.body.includes('name="decision"')) {
      step = await b.navigate(new URL('/consent', step.url), { csrf, decision: user.decision ?? 'allow' });
    } else {
      throw new Error(`unexpected page ${step.status} at ${step.url.pathname}: ${step.body.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 400)}`);
    }
  }
  throw new Error('the authorization did not finish');
}

/** An SDK OAuth client provider kept in memory, whose "browser" is `authorizeInBrowser`. */
export class TestOAuthProvider implements OAuthClientProvider {
  client: OAuthClientInformationMixed | undefined;
  savedTokens: OAuthTokens | undefined;
  verifier = '';
  /** The last authorization response (the URL the browser was sent back to). */
  lastResponse: URL | undefined;
  lastAuthorizationUrl: URL | undefined;
  readonly stateValue = `st-${Math.random().toString(36).slice(2)}`;
  clientMetadataUrl?: string;

  constructor(
    private readonly opts: {
      redirectUrl: string;
      metadata?: Partial<OAuthClientMetadata>;
      user: UserActions;
      /** Known client information (a metadata-document URL, or a pre-registration). */
      client?: OAuthClientInformationMixed;
    },
  ) {
    this.client = opts.client;
  }

  get redirectUrl(): string {
    return this.opts.redirectUrl;
  }
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: 'SDK test client', redirect_uris: [this.opts.redirectUrl], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], ...this.opts.metadata };
  }
  state(): string {
    return this.stateValue;
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.savedTokens;
  }
  saveTokens(tokens: OAuthTokens) {
    this.savedTokens = tokens;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
  async redirectToAuthorization(url: URL) {
    this.lastAuthorizationUrl = url;
    this.lastResponse = await authorizeInBrowser(url, this.opts.redirectUrl, this.opts.user);
  }
  /** The code of the last authorization response (after checking its `state`). */
  get code(): string {
    const r = this.lastResponse;
    if (!r) throw new Error('no authorization response yet');
    if (r.searchParams.get('state') !== this.stateValue) throw new Error(`state mismatch in ${r.href}`);
    const code = r.searchParams.get('code');
    if (!code) throw new Error(`no code in ${r.href}`);
    return code;
  }
}

/** Raw protocol helpers for tests that play a client by hand (ChatGPT-shaped runs, attacks). */
export function newPkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export async function registerClient(gatewayUrl: string, metadata: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${gatewayUrl}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export function authorizeUrl(gatewayUrl: string, params: Record<string, string | undefined>): URL {
  const url = new URL(`${gatewayUrl}/authorize`);
  for (const [k, v] of Object.entries({ response_type: 'code', code_challenge_method: 'S256', scope: 'mcp', ...params })) {
    if (v !== undefined) url.searchParams.set(k, v);
  }
  return url;
}

export async function tokenRequest(gatewayUrl: string, params: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(`${gatewayUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

export function basicAuth(clientId: string, secret: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}` };
}
