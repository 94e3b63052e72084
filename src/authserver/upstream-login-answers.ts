/**
 * What the OAuth client hears when the login at the upstream identity provider fails. The client's redirect URI
 * was validated at `/authorize`, so a failure that belongs to the login transaction is answered there (RFC 6749
 * §4.1.2.1) rather than stranding the client behind a gateway page it never sees: the person's Deny or Cancel as
 * `access_denied` (as the consent page's Deny), an identity provider that is down as `temporarily_unavailable`,
 * anything else as `server_error`. A callback whose `state` does not match the transaction is not an answer to it
 * (a stale tab, or a forged callback): that one stays a page.
 */
import { AccessDenied, OAuthError, TemporarilyUnavailable } from './oauth-errors.js';
import type { UpstreamLoginError } from './upstream-oidc.js';

/** The error to send to the client's redirect URI, or undefined when the failure is no answer to this login. */
export function clientAnswerFor(err: UpstreamLoginError): OAuthError | undefined {
  switch (err.reason) {
    case 'bad_login_state':
    case 'response_mismatch':
      return undefined;
    case 'denied':
      return new AccessDenied('The user denied access at the identity provider');
    case 'unreachable':
    case 'idp_unavailable':
      return new TemporarilyUnavailable('The identity provider is unavailable; try again later');
    default:
      // ASCII only (RFC 6749 error_description); the reason is a fixed label, the details stay in the log.
      return new OAuthError('server_error', `Sign-in at the identity provider failed (${err.reason}); the gateway log has details`, { expose: true });
  }
}
