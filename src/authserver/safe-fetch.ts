/**
 * Fetching a URL a stranger gave us (a Client ID Metadata Document) without becoming their proxy into our network
 * (SSRF): https only, the host resolved once and every address checked to be public unicast (the shared policy in
 * `security/address-policy.ts`), the connection pinned to the checked address (no DNS rebinding between check and
 * connect), no redirects, a size cap and a timeout.
 */
import http from 'node:http';
import https from 'node:https';
import { AddressRefusedError, checkedLookup, resolveChecked, type ResolvedAddress } from '../security/address-policy.js';

export { isPublicAddress } from '../security/address-policy.js';

export interface SafeFetchOptions {
  /** Test-only: allow private, loopback and link-local addresses, and plain http to them. */
  allowPrivateHosts: boolean;
  timeoutMs: number;
  maxBytes: number;
}

export interface SafeResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Why a fetch was refused or failed; `message` is safe to show (it names only the URL the client gave us). */
export class SafeFetchError extends Error {
  override name = 'SafeFetchError';
}

/** The host's addresses, each checked by the shared address policy, before anything is sent. */
async function resolveForFetch(url: URL, allowPrivate: boolean): Promise<ResolvedAddress[]> {
  try {
    return await resolveChecked(url.hostname, { allowPrivate });
  } catch (err) {
    if (err instanceof AddressRefusedError) throw new SafeFetchError(err.address ? `${err.message}; refusing to fetch it` : err.message);
    throw err;
  }
}

/** GETs `rawUrl` under the rules above. Resolves for any HTTP status; rejects with `SafeFetchError`. */
export async function safeFetch(rawUrl: string, opts: SafeFetchOptions): Promise<SafeResponse> {
  const url = URL.parse(rawUrl);
  if (!url) throw new SafeFetchError('Not a URL');
  const httpAllowed = opts.allowPrivateHosts && url.protocol === 'http:';
  if (url.protocol !== 'https:' && !httpAllowed) throw new SafeFetchError('Only https URLs are fetched');
  if (url.username || url.password) throw new SafeFetchError('URLs with credentials are not fetched');
  // Resolved and checked here, so a refusal is this fetch's answer; the connection then uses those addresses only.
  const pinned = await resolveForFetch(url, opts.allowPrivateHosts);
  const lookup = checkedLookup({ allowPrivate: true, resolve: () => Promise.resolve(pinned) });
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<SafeResponse>((resolve, reject) => {
    // The first failure wins: it is rejected before the socket is torn down, so teardown noise cannot replace it.
    const fail = (err: SafeFetchError) => {
      reject(err);
      req.destroy();
    };
    const req = client.request(
      url,
      { method: 'GET', lookup, headers: { accept: 'application/json', 'user-agent': 'Switchboard-MCP-Gateway' } },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > opts.maxBytes) return fail(new SafeFetchError(`The document is larger than ${opts.maxBytes} bytes`));
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > opts.maxBytes) fail(new SafeFetchError(`The document is larger than ${opts.maxBytes} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', () => fail(new SafeFetchError('The response could not be read')));
      },
    );
    const timer = setTimeout(() => fail(new SafeFetchError(`No complete answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => fail(new SafeFetchError(`The document could not be fetched (${err.code ?? 'network error'})`)));
    req.on('close', () => clearTimeout(timer));
    req.end();
  });
}
