/**
 * Which network addresses the gateway may connect to on a stranger's behalf (SSRF), and how a host name is turned
 * into addresses that were checked — the one policy behind the Client ID Metadata Document fetch, the admin API's
 * check of tool-server URLs and every connection to a tool server.
 *
 * A name is resolved once and every address it resolves to must be public; the connection is then made to those
 * very addresses (`checkedLookup`), so a DNS answer that changes between the check and the connection (DNS
 * rebinding) cannot lead it elsewhere.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Turns a host name into its addresses; injected so tests can make a name resolve where they need it. */
export type ResolveHost = (host: string) => Promise<ResolvedAddress[]>;

/** The operating system's resolver (`getaddrinfo`, as `net.connect` would use). */
export const systemResolver: ResolveHost = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/** True for addresses on the public internet (ipaddr.js range `unicast`, IPv4-mapped IPv6 unwrapped). */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === 'unicast';
}

/** The host could not be resolved, or resolves to an address the policy refuses. `message` names only the host. */
export class AddressRefusedError extends Error {
  override name = 'AddressRefusedError';
  readonly code = 'ERR_ADDRESS_REFUSED';
  constructor(
    message: string,
    readonly host: string,
    /** The refused address; undefined when the host could not be resolved. */
    readonly address?: string,
  ) {
    super(message);
  }
}

export interface AddressPolicy {
  /** Private, loopback, link-local and the like are allowed too (targets a platform admin approved; tests). */
  allowPrivate: boolean;
  resolve?: ResolveHost;
}

/** `host` without the brackets of an IPv6 literal in a URL. */
export function bareHost(host: string): string {
  return host.replace(/^\[|\]$/g, '');
}

/**
 * The addresses of `host` (a name or a literal), every one checked against the policy; throws
 * `AddressRefusedError` when the host does not resolve or any address is refused.
 */
export async function resolveChecked(host: string, policy: AddressPolicy): Promise<ResolvedAddress[]> {
  const bare = bareHost(host);
  const family = isIP(bare);
  let addresses: ResolvedAddress[];
  if (family !== 0) addresses = [{ address: bare, family: family === 6 ? 6 : 4 }];
  else {
    try {
      addresses = await (policy.resolve ?? systemResolver)(bare);
    } catch {
      throw new AddressRefusedError(`The host ${host} could not be resolved`, host);
    }
  }
  if (addresses.length === 0) throw new AddressRefusedError(`The host ${host} has no addresses`, host);
  if (!policy.allowPrivate) {
    const bad = addresses.find((a) => !isPublicAddress(a.address));
    if (bad) throw new AddressRefusedError(`The host ${host} resolves to a non-public address (${bad.address})`, host, bad.address);
  }
  return addresses;
}

type LookupAllCallback = (err: NodeJS.ErrnoException | null, addresses: ResolvedAddress[]) => void;

/**
 * A `lookup` for `net.connect`/`tls.connect` (and http agents, undici connectors) that resolves with
 * `resolveChecked`: the socket connects only to addresses that were checked. `onRefused` hears every refusal.
 */
export function checkedLookup(policy: AddressPolicy, onRefused?: (err: AddressRefusedError) => void): LookupFunction {
  return (host, options, callback) => {
    resolveChecked(host, policy).then(
      (addresses) => {
        if (options.all) (callback as unknown as LookupAllCallback)(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (err: unknown) => {
        if (err instanceof AddressRefusedError) onRefused?.(err);
        callback(err as NodeJS.ErrnoException, '', 0);
      },
    );
  };
}
