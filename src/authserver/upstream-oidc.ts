/**
 * Login through the company's upstream OpenID Connect provider with `openid-client`: discovery (lazy, cached,
 * retried after a failure), the authorization code flow with PKCE S256, `state` and `nonce`, and ID-token
 * validation. Knows nothing of Express: the caller keeps the `UpstreamLoginState` (in a signed cookie) between
 * `begin()` and `complete()` and renders any `UpstreamLoginError` message to the person logging in.
 */
import * as oidc from 'openid-client';
import { z } from 'zod';

export interface UpstreamIdentity {
  issuer: string;
  subject: string;
  email: string | undefined;
  emailVerified: boolean;
  name: string | undefined;
}

/** Small JSON the caller keeps in a signed cookie between `begin()` and `complete()`. */
export interface UpstreamLoginState {
  [k: string]: string;
}

export interface UpstreamOidc {
  /** Starts a login: the URL to send the browser to, and the state to keep until the callback. */
  begin(): Promise<{ redirectUrl: string; state: UpstreamLoginState }>;
  /** Finishes a login from the callback URL (only its query is used); throws `UpstreamLoginError`. */
  complete(callbackUrl: URL, state: UpstreamLoginState): Promise<UpstreamIdentity>;
}

export type UpstreamLoginFailure =
  | 'bad_login_state'
  | 'response_mismatch'
  /** The person pressed Deny or Cancel at the IdP (`access_denied`). */
  | 'denied'
  /** The IdP answered `temporarily_unavailable`. */
  | 'idp_unavailable'
  | 'idp_error'
  | 'token_rejected'
  | 'id_token_invalid'
  | 'unreachable'
  | 'misconfigured'
  | 'unknown';

/**
 * A failed upstream login. `message` is short and safe to show a person; `reason` and `detail` are for logs and
 * never hold tokens, codes or secrets (the openid-client error, whose `cause` may hold them, is not kept).
 */
export class UpstreamLoginError extends Error {
  readonly reason: UpstreamLoginFailure;
  readonly detail: string | undefined;
  constructor(message: string, reason: UpstreamLoginFailure = 'unknown', detail?: string) {
    super(message);
    this.name = 'UpstreamLoginError';
    this.reason = reason;
    this.detail = detail;
  }
}

const SCOPE = 'openid email profile';
/** Seconds per request to the IdP: a person is waiting on the other end. */
const REQUEST_TIMEOUT_SECONDS = 10;

const loginStateSchema = z.object({
  code_verifier: z.string().min(43).max(128),
  state: z.string().min(1).max(512),
  nonce: z.string().min(1).max(512),
});

/**
 * Builds the upstream login for one IdP client. Checks its options at once; contacts the IdP only on first use,
 * so a gateway starts while its IdP is down and recovers when it returns.
 */
export function createUpstreamOidc(opts: {
  issuer: string;
  clientId: string;
  clientSecret: string | undefined;
  redirectUri: string;
  allowInsecureHttp?: boolean;
  fetch?: typeof fetch;
}): UpstreamOidc {
  const issuer = parseUrl(opts.issuer, 'issuer', opts.allowInsecureHttp);
  const redirectUri = parseUrl(opts.redirectUri, 'redirectUri', true);
  if (!opts.clientId) throw new TypeError('createUpstreamOidc: clientId must not be empty');

  let discovered: Promise<oidc.Configuration> | undefined;
  function configuration(): Promise<oidc.Configuration> {
    discovered ??= discover(issuer, opts).catch((err: unknown) => {
      discovered = undefined; // the next login tries again
      throw toLoginError(err);
    });
    return discovered;
  }

  return {
    async begin() {
      const config = await configuration();
      const codeVerifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri.href,
        scope: SCOPE,
        code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      });
      return { redirectUrl: url.href, state: { code_verifier: codeVerifier, state, nonce } };
    },

    async complete(callbackUrl, loginState) {
      const expected = loginStateSchema.safeParse(loginState);
      if (!expected.success) {
        throw new UpstreamLoginError('This login has expired or is not valid. Please start again.', 'bad_login_state');
      }
      const config = await configuration();
      try {
        const tokens = await oidc.authorizationCodeGrant(config, responseUrl(redirectUri, callbackUrl), {
          pkceCodeVerifier: expected.data.code_verifier,
          expectedState: expected.data.state,
          expectedNonce: expected.data.nonce,
          idTokenExpected: true,
        });
        const idToken = tokens.claims();
        if (!idToken) throw new UpstreamLoginError('The identity provider sent no ID token. Tell an administrator.', 'misconfigured');
        const claims = needsUserInfo(idToken, config)
          ? { ...(await oidc.fetchUserInfo(config, tokens.access_token, idToken.sub)), ...definedClaims(idToken) }
          : idToken;
        return {
          issuer: idToken.iss,
          subject: idToken.sub,
          email: stringClaim(claims.email),
          emailVerified: claims.email_verified === true || claims.email_verified === 'true',
          name: stringClaim(claims.name),
        };
      } catch (err) {
        throw toLoginError(err);
      }
    },
  };
}

function parseUrl(value: string, what: string, allowHttp: boolean | undefined): URL {
  const url = URL.parse(value);
  if (!url || (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:'))) {
    throw new TypeError(`createUpstreamOidc: ${what} must be an https URL${allowHttp ? ' (or http)' : ''}: ${value}`);
  }
  return url;
}

function discover(issuer: URL, opts: { clientId: string; clientSecret: string | undefined; allowInsecureHttp?: boolean; fetch?: typeof fetch }) {
  const customFetch = opts.fetch;
  return oidc.discovery(issuer, opts.clientId, undefined, opts.clientSecret ? secretAuth(opts.clientSecret) : oidc.None(), {
    execute: opts.allowInsecureHttp ? [oidc.allowInsecureRequests] : [],
    timeout: REQUEST_TIMEOUT_SECONDS,
    ...(customFetch ? { [oidc.customFetch]: (url: string, init: oidc.CustomFetchOptions) => customFetch(url, init as RequestInit) } : {}),
  });
}

/**
 * client_secret_basic (the OIDC default for a client registered with a secret), or client_secret_post when the IdP
 * advertises only that. Picked per request from the discovered metadata.
 */
function secretAuth(secret: string): oidc.ClientAuth {
  const basic = oidc.ClientSecretBasic(secret);
  const post = oidc.ClientSecretPost(secret);
  return (as, client, body, headers) => {
    const methods = as.token_endpoint_auth_methods_supported;
    const usePost = methods !== undefined && !methods.includes('client_secret_basic') && methods.includes('client_secret_post');
    (usePost ? post : basic)(as, client, body, headers);
  };
}

/**
 * The authorization response as received, re-rooted on the configured redirect URI: openid-client sends the
 * callback URL minus its query as `redirect_uri`, which must equal the one in the authorization request even when
 * the caller built `callbackUrl` from a proxied request's Host.
 */
function responseUrl(redirectUri: URL, callbackUrl: URL): URL {
  const url = new URL(redirectUri);
  url.search = callbackUrl.search;
  return url;
}

/** Some IdPs (Okta, oidc-provider by default) leave profile claims out of an ID token issued with an access token. */
function needsUserInfo(idToken: oidc.IDToken, config: oidc.Configuration): boolean {
  return (idToken.email === undefined || idToken.name === undefined) && config.serverMetadata().userinfo_endpoint !== undefined;
}

function definedClaims(claims: oidc.IDToken): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined));
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** Maps anything openid-client (or the network) throws to a message a person can read. */
function toLoginError(err: unknown): UpstreamLoginError {
  if (err instanceof UpstreamLoginError) return err;
  if (err instanceof oidc.AuthorizationResponseError) {
    const code = safeCode(err.error);
    if (code === 'access_denied') return new UpstreamLoginError('The login was cancelled or denied at the identity provider.', 'denied', code);
    if (code === 'temporarily_unavailable') return new UpstreamLoginError('The identity provider is temporarily unavailable. Please try again later.', 'idp_unavailable', code);
    return new UpstreamLoginError(`The identity provider refused the login (${code}).`, 'idp_error', code);
  }
  // An error from the token or userinfo endpoint: in the JSON body, or (a 401, e.g. invalid_client) in WWW-Authenticate.
  if (err instanceof oidc.ResponseBodyError || err instanceof oidc.WWWAuthenticateChallengeError) {
    const code = err instanceof oidc.ResponseBodyError ? safeCode(err.error) : safeCode(err.cause[0]?.parameters.error ?? 'invalid_client');
    const detail = `${code} (HTTP ${err.status})`;
    if (code === 'invalid_client' || code === 'unauthorized_client') {
      return new UpstreamLoginError('The identity provider rejected this gateway’s client credentials. Tell an administrator.', 'misconfigured', detail);
    }
    if (code === 'invalid_grant') return new UpstreamLoginError('The login code was expired or already used. Please start again.', 'token_rejected', detail);
    return new UpstreamLoginError(`The identity provider refused the login (${code}).`, 'token_rejected', detail);
  }
  if (err instanceof oidc.ClientError) {
    const detail = `${err.code ?? 'no code'}: ${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ''}`;
    // openid-client checks `iss` and `state` of the callback before anything else ("... response parameter ...")
    if (err.code === 'OAUTH_INVALID_RESPONSE' && err.cause instanceof Error && err.cause.message.includes('response parameter')) {
      return new UpstreamLoginError('This login response does not match the login that was started. Please start again.', 'response_mismatch', detail);
    }
    switch (err.code) {
      case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
      case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
      case 'OAUTH_KEY_SELECTION_FAILED':
      case 'OAUTH_PARSE_ERROR':
        return new UpstreamLoginError('The identity provider’s ID token failed validation. Please start again.', 'id_token_invalid', detail);
      case 'OAUTH_TIMEOUT':
      case 'OAUTH_ABORT':
        return new UpstreamLoginError('The identity provider did not answer in time. Please try again.', 'unreachable', detail);
      default:
        return new UpstreamLoginError('The identity provider could not be used for login. Tell an administrator.', 'misconfigured', detail);
    }
  }
  if (err instanceof TypeError && !('code' in err)) {
    // undici's "fetch failed" (refused, DNS, TLS); openid-client's own TypeErrors carry a `code`
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return new UpstreamLoginError('The identity provider could not be reached. Please try again later.', 'unreachable', `${err.message}${cause}`);
  }
  return new UpstreamLoginError('Login through the identity provider failed. Please try again.', 'unknown', err instanceof Error ? err.name : typeof err);
}

/** An OAuth error code from the IdP, or from whoever crafted the callback URL: only plain codes are echoed. */
function safeCode(code: unknown): string {
  return typeof code === 'string' && /^[a-z_]{1,64}$/.test(code) ? code : 'error';
}
