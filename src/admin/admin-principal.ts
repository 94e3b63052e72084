/**
 * Who is calling the admin API. Knows nothing of Express: `resolveAdminPrincipal(authorization, deps)` returns an
 * `AdminPrincipal` or throws `AdminAuthError` (rendered as 401 with a `WWW-Authenticate` challenge).
 *
 * - `Authorization: Bearer $ADMIN_API_KEY` (compared in constant time) → platform admin.
 * - An access token whose audience is `PUBLIC_URL/admin` → its user; a platform admin when the user's e-mail is in
 *   ADMIN_EMAILS (built-in issuer: the verified e-mail the gateway stored at the user's latest login, read on every
 *   call so a login that clears or changes it takes the rights away at once; external issuer: the token's `email`
 *   claim, and only with `email_verified: true`), and an admin of every team where their membership role is admin.
 */
import { decodeJwt } from 'jose';
import type { Config } from '../config/config.js';
import type { PrismaClient } from '../db/database.js';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { TokenIdentity } from '../auth/verify-access-token.js';
import { TokenRejectedError } from '../auth/token-errors.js';
import type { UserDirectory } from '../teams/users.js';
import { safeEqual } from '../security/secret-box.js';

export interface AdminPrincipal {
  readonly kind: 'api_key' | 'user';
  /** Platform admins may do everything. */
  readonly platform: boolean;
  readonly userId: string | null;
  readonly email: string | null;
  /** Slug → id of the teams this principal administers through a membership with role admin. */
  readonly adminTeams: ReadonlyMap<string, string>;
  /** How audit records name this principal: `api_key` or `user:<id>`. */
  readonly actor: string;
}

/** No usable credentials. `tokenGiven` decides whether the challenge carries `error="invalid_token"`. */
export class AdminAuthError extends Error {
  constructor(
    readonly tokenGiven: boolean,
    message: string,
  ) {
    super(message);
    this.name = 'AdminAuthError';
  }
}

export interface AdminPrincipalDeps {
  config: Pick<Config, 'publicUrl' | 'authMode' | 'authIssuer' | 'adminApiKey' | 'adminEmails'>;
  verifier: TokenVerifier;
  users: UserDirectory;
  prisma: PrismaClient;
}

export function adminAudience(publicUrl: string): string {
  return `${publicUrl}/admin`;
}

/** The memberships that make a user a team admin, as a Prisma relation selection. */
const ADMIN_MEMBERSHIPS = { where: { role: 'admin' as const }, select: { team: { select: { id: true, slug: true } } } };

const BEARER = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)[ ]*$/i;

export async function resolveAdminPrincipal(authorization: string | undefined, deps: AdminPrincipalDeps): Promise<AdminPrincipal> {
  if (!authorization) throw new AdminAuthError(false, 'Credentials are required: send Authorization: Bearer <admin API key or access token>');
  const token = BEARER.exec(authorization)?.[1];
  if (!token) throw new AdminAuthError(true, 'The Authorization header must be "Bearer <token>"');
  const { config } = deps;
  if (config.adminApiKey !== undefined && safeEqual(token, config.adminApiKey)) {
    return { kind: 'api_key', platform: true, userId: null, email: null, adminTeams: new Map(), actor: 'api_key' };
  }
  let identity: TokenIdentity;
  try {
    // Exact: with AUTH_AUDIENCE (external mode) every MCP token carries the same audience, and an MCP token (which
    // passthrough tool servers receive) must not double as an admin API token.
    identity = (await deps.verifier.verify(token, adminAudience(config.publicUrl), { exactAudience: true })).extra as TokenIdentity;
  } catch (err) {
    if (err instanceof TokenRejectedError) throw new AdminAuthError(true, rejectionMessage(err));
    throw err;
  }
  const builtin = config.authMode === 'builtin';
  const ref = await deps.users.fromToken(identity, builtin ? config.authIssuer : undefined);
  const principal = ref && (await userPrincipal(ref.id, deps, builtin ? undefined : verifiedEmail(token, identity)));
  if (!principal) throw new AdminAuthError(true, "The token's user no longer exists");
  return principal;
}

/**
 * The rights of the user with this id, read fresh (not the user directory's cached copy: the e-mail decides
 * platform-admin rights), or undefined when the user no longer exists. `externalEmail` is an external issuer's
 * verified `email` claim; without it the e-mail the gateway stored at the user's latest login counts. The admin
 * API (through `resolveAdminPrincipal`) and the console's cookie session both judge a user here.
 */
export async function userPrincipal(
  userId: string,
  deps: Pick<AdminPrincipalDeps, 'config' | 'prisma'>,
  externalEmail?: string,
): Promise<AdminPrincipal | undefined> {
  const user = await deps.prisma.user.findUnique({ where: { id: userId }, select: { id: true, email: true, memberships: ADMIN_MEMBERSHIPS } });
  if (!user) return undefined;
  const email = (deps.config.authMode === 'builtin' ? user.email : externalEmail)?.toLowerCase() ?? null;
  return {
    kind: 'user',
    platform: email !== null && deps.config.adminEmails.includes(email),
    userId: user.id,
    email: user.email,
    adminTeams: new Map(user.memberships.map((m) => [m.team.slug, m.team.id])),
    actor: `user:${user.id}`,
  };
}

/**
 * Why the bearer value was refused. A value that is not a JWT at all is most often a mistyped or rotated API key, so
 * "the access token is malformed" would point the wrong way: say it is neither.
 */
function rejectionMessage(err: TokenRejectedError): string {
  if (err.reason === 'malformed') return 'Invalid API key or access token: the bearer value is neither ADMIN_API_KEY nor a well-formed access token';
  return err.message;
}

/** An external issuer's `email` claim counts only when the same (already verified) token says it is verified. */
function verifiedEmail(token: string, identity: TokenIdentity): string | undefined {
  return identity.email !== undefined && decodeJwt(token).email_verified === true ? identity.email : undefined;
}
