/**
 * Why a bearer token was refused — or could not be checked at all. The reason labels `/metrics` and the log; the
 * message goes to the client in `error_description` (so it never contains quotes or token material).
 */
import { errors as joseErrors } from 'jose';
import { OAuthError, OAuthErrorCode } from '@modelcontextprotocol/server';
import { Unavailable } from '../errors.js';

export type TokenFailureReason =
  | 'missing'
  | 'malformed'
  | 'expired'
  | 'not_yet_valid'
  | 'audience'
  | 'issuer'
  | 'algorithm'
  | 'unknown_kid'
  | 'signature'
  | 'claims'
  | 'unknown_user';

/** RFC 6750 `invalid_token` (SDK v2 has one `OAuthError` with a code where v1 had `InvalidTokenError`). */
export class TokenRejectedError extends OAuthError {
  constructor(
    readonly reason: TokenFailureReason,
    message: string,
  ) {
    super(OAuthErrorCode.InvalidToken, message);
  }
}

/**
 * The token could not be checked: the issuer's JWKS did not answer (timeout, HTTP 500, unreachable, discovery
 * failed) or the database failed while loading the built-in keys. No verdict on the token, so never a 401 (clients
 * would throw their tokens away): the resource server answers 503 with `Retry-After` and logs `cause`.
 */
export class TokenVerificationUnavailableError extends Unavailable {
  constructor(cause: unknown) {
    super('The access token cannot be verified right now; retry shortly', { cause });
  }
}

/**
 * Maps a jose verification error to a typed rejection. Anything else is a fault on our side or the issuer's, not
 * bad input: it becomes `TokenVerificationUnavailableError`.
 */
export function classifyJoseError(err: unknown): TokenRejectedError | TokenVerificationUnavailableError {
  if (err instanceof TokenRejectedError) return err;
  if (err instanceof joseErrors.JWTExpired) return new TokenRejectedError('expired', 'The access token has expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'nbf':
      case 'iat':
        return new TokenRejectedError('not_yet_valid', 'The access token is not valid yet');
      case 'aud':
        return new TokenRejectedError('audience', 'The access token was not issued for this resource');
      case 'iss':
        return new TokenRejectedError('issuer', 'The access token was not issued by a trusted issuer');
      default:
        return new TokenRejectedError('claims', `The access token has an invalid ${err.claim} claim`);
    }
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) {
    return new TokenRejectedError('algorithm', 'The access token uses a signing algorithm that is not allowed');
  }
  if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys) {
    return new TokenRejectedError('unknown_kid', 'The access token was signed with an unknown key');
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new TokenRejectedError('signature', 'The access token signature is invalid');
  }
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) {
    return new TokenRejectedError('malformed', 'The access token is malformed');
  }
  if (err instanceof TokenVerificationUnavailableError) return err;
  return new TokenVerificationUnavailableError(err);
}
