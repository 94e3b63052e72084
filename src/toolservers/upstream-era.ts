/**
 * Which protocol era a remote tool server speaks (docs/architecture.md §Tool servers): 2026-07-28 ("modern":
 * stateless, every request carries its `_meta` envelope) or 2025-11-25 and older ("legacy": `initialize` and an
 * upstream session). Decided once per tool-server URL by a `server/discover` probe (2026-07-28 basic/versioning
 * §Backward Compatibility, basic/transports/streamable-http §Backward Compatibility): a `DiscoverResult` naming a
 * version we speak means modern; any other answer — a 4xx without a modern error, a JSON-RPC error, a result
 * without our version — means legacy, and the tool server is spoken to with `initialize` as before.
 *
 * The answer is remembered by this process for `ttlMs` (an hour), per URL rather than per origin: one origin may
 * host MCP endpoints of both eras on different paths. Concurrent first uses share one probe. A probe that decides
 * nothing (unreachable, timed out, 401/403, 5xx) is not remembered: that use goes on as legacy (which then fails or
 * succeeds on its own) and the next one probes again. Whoever meets an answer of the other era (a modern upstream
 * refusing a request as legacy, a legacy one refusing `initialize`) calls `forget`, so the next use probes anew.
 *
 * The probe goes over the tool server's own connection pool (the SSRF-checked dispatcher of `upstream-network.ts`)
 * with the caller's credentials, like any other request to it: an address refused there is refused for the probe.
 */
import { LRUCache } from 'lru-cache';
import type { Dispatcher } from 'undici';
import { META, MODERN_PROTOCOL_VERSION } from '../mcp/protocol-era.js';

/** What the probe learnt: legacy, or modern with what the server declared about itself. */
export type UpstreamEra =
  | { readonly era: 'legacy' }
  | {
      readonly era: 'modern';
      /** `capabilities` of the `DiscoverResult` (tools, prompts, resources, completions, …). */
      readonly capabilities: Readonly<Record<string, unknown>>;
    };

export const LEGACY: UpstreamEra = Object.freeze({ era: 'legacy' });

export interface UpstreamEras {
  /** The remembered era of `url`, without waiting; undefined when not probed yet (or expired). */
  known(url: string): UpstreamEra | undefined;
  /** The era of `url`: remembered, or probed with `probe` (one probe for concurrent callers). */
  of(url: string, probe: () => Promise<UpstreamEra>): Promise<UpstreamEra>;
  /** The remembered answer proved wrong (the upstream answered like a server of the other era): probe again next time. */
  forget(url: string): void;
}

/** The probe decided nothing (network, credentials, server fault): the era stays unknown. */
export class UndecidedProbe extends Error {}

export function createUpstreamEras(opts: { ttlMs?: number; max?: number } = {}): UpstreamEras {
  const known = new LRUCache<string, UpstreamEra>({ max: opts.max ?? 10_000, ttl: opts.ttlMs ?? 60 * 60_000 });
  const probing = new Map<string, Promise<UpstreamEra>>();
  return {
    known: (url) => known.get(url),
    of(url, probe) {
      const hit = known.get(url);
      if (hit) return Promise.resolve(hit);
      let p = probing.get(url);
      if (!p) {
        p = probe().then(
          (era) => {
            known.set(url, era);
            return era;
          },
          // Undecided: this use goes on as legacy; nothing is remembered.
          () => LEGACY,
        );
        const settled = p.finally(() => probing.delete(url));
        probing.set(url, settled);
        p = settled;
      }
      return p;
    },
    forget: (url) => void known.delete(url),
  };
}

/** Our `clientInfo` in the envelope and in `initialize`. */
export const GATEWAY_CLIENT_INFO = { name: 'switchboard', version: '0.1.0' } as const;

/** How much of a probe's answer is read (a `DiscoverResult` is small; anything bigger is not one). */
const MAX_PROBE_BYTES = 256 * 1024;

/**
 * Sends `server/discover` to `url` and tells its era. Throws `UndecidedProbe` when the answer says nothing about the
 * era (see the top of this file); `headers` are the tool server's credentials for the caller.
 */
export async function probeEra(target: { url: URL; dispatcher: Dispatcher; headers: Record<string, string>; timeoutMs: number }): Promise<UpstreamEra> {
  const { url } = target;
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 'sb-discover',
    method: 'server/discover',
    params: { _meta: { [META.protocolVersion]: MODERN_PROTOCOL_VERSION, [META.clientInfo]: GATEWAY_CLIENT_INFO, [META.clientCapabilities]: {} } },
  });
  let res: Dispatcher.ResponseData;
  try {
    res = await target.dispatcher.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: 'POST',
      headers: {
        ...target.headers,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': MODERN_PROTOCOL_VERSION,
        'mcp-method': 'server/discover',
      },
      body,
      headersTimeout: target.timeoutMs,
      bodyTimeout: target.timeoutMs,
      signal: AbortSignal.timeout(target.timeoutMs),
    });
  } catch (err) {
    throw new UndecidedProbe('server/discover could not be sent', { cause: err });
  }
  const { statusCode } = res;
  if (statusCode === 401 || statusCode === 403 || statusCode === 429 || statusCode >= 500) {
    await res.body.dump().catch(() => undefined);
    throw new UndecidedProbe(`server/discover answered HTTP ${statusCode}`);
  }
  if (statusCode !== 200) {
    // 400 without a modern error, 404, 405, 406…: a legacy server (a modern one answers 200 or a modern error).
    await res.body.dump().catch(() => undefined);
    return LEGACY;
  }
  let text: string;
  try {
    text = await readCapped(res.body);
  } catch (err) {
    throw new UndecidedProbe('server/discover: the answer could not be read', { cause: err });
  }
  const answer = answerIn(text, String(res.headers['content-type'] ?? ''));
  const result = answer?.result;
  if (result && typeof result === 'object' && !Array.isArray(result)) {
    const { supportedVersions, capabilities } = result as { supportedVersions?: unknown; capabilities?: unknown };
    if (Array.isArray(supportedVersions) && supportedVersions.includes(MODERN_PROTOCOL_VERSION)) {
      const caps = capabilities && typeof capabilities === 'object' && !Array.isArray(capabilities) ? (capabilities as Record<string, unknown>) : {};
      return Object.freeze({ era: 'modern', capabilities: caps });
    }
  }
  return LEGACY;
}

async function readCapped(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_PROBE_BYTES) {
      body.destroy();
      break;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The response to the probe in a JSON body or an event stream (its first message with the probe's id). */
function answerIn(text: string, contentType: string): { result?: unknown; error?: unknown } | undefined {
  const parse = (s: string): { id?: unknown; result?: unknown; error?: unknown } | undefined => {
    try {
      const m: unknown = JSON.parse(s);
      return m && typeof m === 'object' && !Array.isArray(m) ? (m as { id?: unknown }) : undefined;
    } catch {
      return undefined;
    }
  };
  if (!contentType.includes('text/event-stream')) return parse(text);
  for (const block of text.replace(/\r\n?/g, '\n').split('\n\n')) {
    const data = block
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(l.charCodeAt(5) === 32 ? 6 : 5))
      .join('\n');
    const m = data ? parse(data) : undefined;
    if (m?.id === 'sb-discover') return m;
  }
  return undefined;
}
