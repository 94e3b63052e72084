/**
 * The link a user follows to connect their account at a tool server: `PUBLIC_URL/oauth/upstream/connect?link=…`.
 * The parameter is the binding (user, team, tool server, expiry, nonce) sealed with ENCRYPTION_KEY (AES-256-GCM:
 * authenticated, so it cannot be forged or altered, and opaque, so it names nobody). It is short-lived, and single
 * use: its nonce becomes the id of the authorization it starts (`upstream_connect_states`), which a second use cannot
 * insert again. Whoever holds a live link can only connect *that* user's account to *their own* upstream login.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { SecretBox } from '../../security/secret-box.js';

/** How long a connect link may be followed. */
export const CONNECT_LINK_TTL_MS = 15 * 60_000;
export const CONNECT_PATH = '/oauth/upstream/connect';

const binding = z.strictObject({ u: z.string(), t: z.string(), s: z.string(), exp: z.number(), n: z.string() });
export type ConnectBinding = { userId: string; teamId: string; toolServerId: string; expiresAt: number; nonce: string };

export function connectLink(box: SecretBox, publicUrl: string, b: Omit<ConnectBinding, 'expiresAt' | 'nonce'>, now: number): string {
  const sealed = box.seal(JSON.stringify({ u: b.userId, t: b.teamId, s: b.toolServerId, exp: now + CONNECT_LINK_TTL_MS, n: randomBytes(16).toString('base64url') }));
  return `${publicUrl}${CONNECT_PATH}?link=${encodeURIComponent(sealed)}`;
}

/** The binding of a link, or undefined when it was not sealed by this gateway, was altered, or has expired. */
export function openConnectLink(box: SecretBox, raw: unknown, now: number): ConnectBinding | undefined {
  if (typeof raw !== 'string' || raw.length > 2048) return undefined;
  let text: string;
  try {
    text = box.open(raw);
  } catch {
    return undefined;
  }
  const parsed = binding.safeParse(JSON.parse(text));
  if (!parsed.success || parsed.data.exp <= now) return undefined;
  const d = parsed.data;
  return { userId: d.u, teamId: d.t, toolServerId: d.s, expiresAt: d.exp, nonce: d.n };
}
