/**
 * What only a platform admin (ADMIN_API_KEY or ADMIN_EMAILS) may configure on a tool server through the admin API;
 * team admins are refused. The CLI is run by operators and is not limited.
 *
 * - `auth.mode: "passthrough"` (403): the tool server receives members' own access tokens, so a team admin could
 *   harvest them by pointing one at a URL they control. Also refused: re-pointing an existing passthrough tool
 *   server at another URL.
 * - A URL whose host is, or resolves to, a non-public address (422): private, loopback, link-local, CGNAT,
 *   unique-local and the like (`security/address-policy.ts`, shared with the CIMD fetcher and every upstream
 *   connection), so the gateway does not become a team admin's proxy into its own network (SSRF). A host that
 *   cannot be resolved is refused too.
 *
 * This check answers the team admin when the URL is set; DNS can change afterwards, so every connection to a URL a
 * team admin set is checked again and pinned to the checked address (`toolservers/upstream-network.ts`).
 */
import { AddressRefusedError, resolveChecked } from '../security/address-policy.js';
import type { AdminPrincipal } from './admin-principal.js';
import { Forbidden, Refused } from '../errors.js';

export const PRIVATE_URL_MESSAGE = 'only a platform admin may point a tool server at a private or loopback address';
export const PASSTHROUGH_MESSAGE =
  'only a platform admin may configure auth mode "passthrough" (it sends members\' own access tokens to the tool server); use "exchange"';

const LOOKUP_TIMEOUT_MS = 5_000;

/** A remote tool server's settings that the policy looks at. */
export interface RemoteSettings {
  url: string;
  authMode: string;
}

/** The non-public address `host` is or resolves to; `null` when it cannot be resolved; undefined when all are public. */
export async function nonPublicAddressOf(host: string, timeoutMs = LOOKUP_TIMEOUT_MS): Promise<string | null | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      resolveChecked(host, { allowPrivate: false }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('DNS lookup timed out')), timeoutMs);
      }),
    ]);
    return undefined;
  } catch (err) {
    return err instanceof AddressRefusedError && err.address !== undefined ? err.address : null;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Refuses what a team admin may not configure: `after` is the remote tool server as it would be stored, `before`
 * as it is stored (undefined when it is being added). Only what changes is judged, so a team admin may still
 * enable, disable or rename the prefix of a tool server a platform admin configured. Platform admins pass.
 */
export async function enforceTeamAdminLimits(p: AdminPrincipal, before: RemoteSettings | undefined, after: RemoteSettings): Promise<void> {
  if (p.platform) return;
  const urlChanged = before?.url !== after.url;
  if (after.authMode === 'passthrough' && (urlChanged || before?.authMode !== 'passthrough')) {
    throw new Forbidden(PASSTHROUGH_MESSAGE);
  }
  if (!urlChanged) return;
  const url = URL.parse(after.url);
  if (!url) return; // not a URL: the config validation answers 400
  const bad = await nonPublicAddressOf(url.hostname);
  if (bad === undefined) return;
  const message =
    bad === null
      ? `Tool server URL refused: the host ${url.hostname} could not be resolved, so it cannot be checked to be public (${PRIVATE_URL_MESSAGE})`
      : `Tool server URL refused: ${PRIVATE_URL_MESSAGE} (the host ${url.hostname} is or resolves to ${bad})`;
  throw new Refused('unprocessable', message, [{ field: 'url', message: bad === null ? 'host could not be resolved' : PRIVATE_URL_MESSAGE }]);
}
