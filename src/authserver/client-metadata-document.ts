/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, MCP SEP-991): a `client_id` that is
 * an https URL names a JSON document describing the client. We fetch it safely (`safe-fetch.ts`), require its
 * `client_id` to equal the URL, validate it like a registration, and cache it as long as its Cache-Control says,
 * within bounds.
 */
import { InvalidClientMetadata } from './oauth-errors.js';
import { safeFetch, SafeFetchError } from './safe-fetch.js';
import { validateClientMetadata } from './client-metadata.js';

export const CIMD_MAX_BYTES = 16 * 1024;
export const CIMD_TIMEOUT_MS = 5_000;
/** Cache bounds: refetching more often than this is wasteful; trusting a document longer than this is stale. */
export const CIMD_MIN_CACHE_MS = 5 * 60_000;
export const CIMD_MAX_CACHE_MS = 24 * 3_600_000;
export const CIMD_DEFAULT_CACHE_MS = 60 * 60_000;
const MAX_URL_LENGTH = 2000;

/** Whether `clientId` is a metadata-document URL (https with a path; plain http only in the test-only mode). */
export function isClientIdUrl(clientId: string, allowHttp: boolean): boolean {
  if (clientId.length > MAX_URL_LENGTH) return false;
  const url = URL.parse(clientId);
  if (!url) return false;
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) return false;
  return url.pathname !== '/' && !url.hash && !url.username && !url.password;
}

/** How long to keep a document, from its Cache-Control (max-age, no-store/no-cache), clamped to our bounds. */
export function cacheLifetimeMs(cacheControl: string | undefined): number {
  if (!cacheControl) return CIMD_DEFAULT_CACHE_MS;
  const directives = cacheControl.toLowerCase();
  if (/\b(no-store|no-cache)\b/.test(directives)) return CIMD_MIN_CACHE_MS;
  const maxAge = /\bmax-age=(\d+)/.exec(directives);
  if (!maxAge) return CIMD_DEFAULT_CACHE_MS;
  return Math.min(CIMD_MAX_CACHE_MS, Math.max(CIMD_MIN_CACHE_MS, Number(maxAge[1]) * 1000));
}

export interface FetchedDocument {
  validated: ReturnType<typeof validateClientMetadata>;
  cacheMs: number;
}

/** Fetches and validates the document at `url`; throws `InvalidClientMetadata` with a message safe to show. */
export async function fetchClientMetadataDocument(url: string, opts: { allowPrivateHosts: boolean }): Promise<FetchedDocument> {
  let res;
  try {
    res = await safeFetch(url, { allowPrivateHosts: opts.allowPrivateHosts, timeoutMs: CIMD_TIMEOUT_MS, maxBytes: CIMD_MAX_BYTES });
  } catch (err) {
    if (err instanceof SafeFetchError) throw new InvalidClientMetadata(`The client metadata document could not be fetched: ${err.message}`);
    throw err;
  }
  if (res.status !== 200) throw new InvalidClientMetadata(`The client metadata document answered HTTP ${res.status}, not 200`);
  const type = String(res.headers['content-type'] ?? '');
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type)) throw new InvalidClientMetadata('The client metadata document is not served as application/json');
  let doc: unknown;
  try {
    doc = JSON.parse(res.body);
  } catch {
    throw new InvalidClientMetadata('The client metadata document is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new InvalidClientMetadata('The client metadata document is not a JSON object');
  const record = doc as Record<string, unknown>;
  if (record.client_id !== url) throw new InvalidClientMetadata('The client metadata document\'s client_id does not equal its URL');
  for (const forbidden of ['client_secret', 'client_secret_expires_at']) {
    if (forbidden in record) throw new InvalidClientMetadata(`The client metadata document must not contain ${forbidden}`);
  }
  const cc = res.headers['cache-control'];
  return { validated: validateClientMetadata(doc, 'document'), cacheMs: cacheLifetimeMs(Array.isArray(cc) ? cc.join(',') : cc) };
}
