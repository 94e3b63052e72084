/**
 * The credentials an upstream receives on every request, per docs/interface.md §4 — the gateway acts as the user:
 * - `exchange` (default): a short-lived JWT minted for this user and this upstream (`aud` = its URL), cached
 *   until shortly before it expires;
 * - `passthrough`: the user's own current access token, unchanged (only when configured explicitly);
 * - `static`: a configured header with the decrypted secret;
 * - `none`: nothing.
 * The client's inbound `Authorization` header is never copied: headers are built here, from scratch.
 */
import type { AuthInfo } from '@modelcontextprotocol/server';
import type { KeyStore } from '../authserver/signing-keys.js';
import type { SecretBox } from '../security/secret-box.js';
import { staticHeaderName, staticHeaderValue } from './tool-server-config.js';
import type { SessionContext } from './types.js';

/** Exchange tokens live this long (docs/interface.md §4: at most 5 minutes)… */
export const EXCHANGE_TOKEN_TTL_SECONDS = 300;
/** …and are replaced this long before they expire, so none expires in flight. */
const EXCHANGE_REFRESH_MARGIN_MS = 60_000;

/** `oauth`: the user's own token at the upstream, from `oauth/upstream-oauth.ts` (not built here). */
export type AuthMode = 'exchange' | 'passthrough' | 'static' | 'none' | 'oauth';

export interface UpstreamCredentials {
  readonly mode: AuthMode;
  /** Headers for one upstream request; `auth` is the client's credentials of the request being served, if any. */
  headers(auth: AuthInfo | undefined): Promise<Record<string, string>>;
  /**
   * The upstream answered 401 to a request sent with `sentAuthorization`: true when fresh credentials exist and the
   * request may be sent once more. Only credentials that can be renewed have it (`oauth`).
   */
  unauthorized?(sentAuthorization: string | undefined): Promise<boolean>;
}

export interface CredentialDeps {
  keys: KeyStore;
  box: SecretBox;
  /** `iss` of exchange tokens: the gateway's PUBLIC_URL. */
  issuer: string;
  clock?: () => number;
}

export interface CredentialTarget {
  mode: string | undefined;
  url: string;
  header?: string | null | undefined;
  secretEncrypted?: string | null | undefined;
}

export function upstreamCredentials(target: CredentialTarget, session: SessionContext, deps: CredentialDeps): UpstreamCredentials {
  const now = deps.clock ?? Date.now;
  const mode = (target.mode ?? 'exchange') as AuthMode;
  // The latest credentials the client presented: requests outside any client request (the upstream's standalone
  // stream, closing) reuse them.
  let latest: AuthInfo | undefined;
  const seen = (auth: AuthInfo | undefined) => {
    if (auth) latest = auth;
    return auth ?? latest;
  };

  switch (mode) {
    case 'none':
      return { mode, headers: async () => ({}) };
    case 'passthrough':
      return {
        mode,
        async headers(auth): Promise<Record<string, string>> {
          const token = seen(auth)?.token;
          return token ? { authorization: `Bearer ${token}` } : {};
        },
      };
    case 'static': {
      if (!target.secretEncrypted) throw new Error('static credentials configured without a secret');
      const sealed = target.secretEncrypted;
      const header = target.header ?? 'Authorization';
      // Rows saved before header validation existed may hold what no header can carry; fetch would then throw an
      // error quoting the value, and the secret would end up in the log. Say what is wrong without it.
      if (!staticHeaderName.safeParse(header).success) throw new Error('the stored static auth header is not a valid HTTP header name; configure the tool server again');
      let secret: string | undefined;
      return {
        mode,
        async headers() {
          if (secret === undefined) {
            const opened = deps.box.open(sealed);
            if (!staticHeaderValue.safeParse(opened).success) throw new Error('the stored static secret is not a valid HTTP header value; set it again');
            secret = opened;
          }
          return { [header.toLowerCase()]: secret };
        },
      };
    }
    case 'exchange': {
      let cached: { token: string; scope: string; refreshAt: number } | undefined;
      let minting: Promise<string> | undefined;
      return {
        mode,
        async headers(auth) {
          const scope = (seen(auth)?.scopes ?? []).join(' ');
          if (!cached || cached.scope !== scope || now() >= cached.refreshAt) {
            minting ??= mintExchangeToken(deps, session, target.url, scope)
              .then((token) => {
                cached = { token, scope, refreshAt: now() + EXCHANGE_TOKEN_TTL_SECONDS * 1000 - EXCHANGE_REFRESH_MARGIN_MS };
                return token;
              })
              .finally(() => (minting = undefined));
            await minting;
          }
          return { authorization: `Bearer ${cached!.token}` };
        },
      };
    }
    default:
      throw new Error(`unknown auth mode ${String(mode)}`);
  }
}

/** The per-user token of docs/interface.md §4 `exchange`, signed with the gateway's current signing key. */
export function mintExchangeToken(deps: Pick<CredentialDeps, 'keys' | 'issuer'>, session: SessionContext, audience: string, scope: string): Promise<string> {
  return deps.keys.sign(
    {
      iss: deps.issuer,
      aud: audience,
      sub: session.user.id,
      ...(session.user.email ? { email: session.user.email } : {}),
      team: session.team.slug,
      scope,
      act: { sub: session.clientId },
    },
    { expiresInSeconds: EXCHANGE_TOKEN_TTL_SECONDS },
  );
}
