/**
 * `switchboard token`: an access token for local use (curl, the Inspector, tests), minted by the built-in issuer
 * for a local user keyed by e-mail — the same user the dev login creates for that address.
 */
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import { parseDuration } from '../config/duration.js';
import { createSecretBox } from '../security/secret-box.js';
import { createUserDirectory, LOCAL_ISSUER } from '../teams/users.js';
import { teamResource } from '../auth/protected-resource.js';
import { createKeyStore } from './signing-keys.js';
import { issueAccessToken, MAX_ACCESS_TOKEN_SECONDS } from './access-token.js';
import { Invalid, NotFound } from '../errors.js';

export async function mintLocalToken(opts: {
  db: Database;
  config: Config;
  encryptionKey: Buffer;
  email: string;
  /** Team slug; undefined for an admin-API token (`aud` = PUBLIC_URL/admin). */
  team: string | undefined;
  ttl: string;
  clientId: string;
}): Promise<string> {
  const email = opts.email.trim().toLowerCase();
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new Invalid('invalid_body', `${opts.email} is not an e-mail address`);
  const ttlMs = parseDuration(opts.ttl);
  if (!ttlMs || ttlMs > MAX_ACCESS_TOKEN_SECONDS * 1000) throw new Invalid('invalid_body', '--ttl must be a duration up to 1h');
  if (opts.team !== undefined) {
    const team = await opts.db.prisma.team.findUnique({ where: { slug: opts.team } });
    if (!team) throw new NotFound('team_not_found', `No team ${opts.team}; create it with: switchboard teams create ${opts.team}`);
  }
  const user = await createUserDirectory(opts.db.prisma).upsert(LOCAL_ISSUER, email, email);
  const keys = createKeyStore({ prisma: opts.db.prisma, box: createSecretBox(opts.encryptionKey) });
  return issueAccessToken(keys, {
    issuer: opts.config.publicUrl,
    subject: user.id,
    audience: opts.team === undefined ? `${opts.config.publicUrl}/admin` : teamResource(opts.config.publicUrl, opts.team),
    clientId: opts.clientId,
    scope: 'mcp',
    email,
    ttlSeconds: Math.floor(ttlMs / 1000),
  });
}
