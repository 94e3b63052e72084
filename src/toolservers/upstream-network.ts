/**
 * The connections the gateway makes to remote tool servers. A tool server's host is resolved and checked at every
 * connection, not only when its URL was saved: a connection for a URL a team admin set goes only to public
 * addresses, and to exactly the addresses that were checked (the socket's `lookup` is the check), so a name that
 * was public when it was saved cannot be rebound to a private one afterwards (DNS rebinding). URLs a platform admin
 * or operator approved (`allowPrivateAddresses`) may reach private and loopback addresses.
 *
 * Keep-alive pools (undici `Agent`s) per policy, shared by every session: one for the SDK clients, one for the relay.
 * A refused connection fails that tool server only (the aggregator leaves it out) and is logged here.
 */
import { isIP } from 'node:net';
import { Agent, buildConnector, fetch as undiciFetch, type Dispatcher, type RequestInit as UndiciRequestInit } from 'undici';
import type { FetchLike } from '@modelcontextprotocol/client';
import type { Logger } from '../observability/logger.js';
import { AddressRefusedError, bareHost, checkedLookup, isPublicAddress, type AddressPolicy, type ResolveHost } from '../security/address-policy.js';

export interface UpstreamNetwork {
  /** The fetch for a tool server, by whether its URL was approved for private addresses. */
  fetchFor(target: { allowPrivateAddresses: boolean }): FetchLike;
  /** Connection pools for the relay's requests (`upstream-relay.ts`), with the same address checks. */
  dispatcherFor(target: { allowPrivateAddresses: boolean }): Dispatcher;
  /** Closes the pools and any connection still open (called after the sessions were closed). */
  close(): Promise<void>;
}

export interface UpstreamNetworkOptions {
  logger: Logger;
  /** Test-only: how host names resolve (the operating system's resolver by default). */
  resolve?: ResolveHost;
}

export function createUpstreamNetwork(opts: UpstreamNetworkOptions): UpstreamNetwork {
  const refused = (err: AddressRefusedError) =>
    opts.logger.warn(
      { host: err.host, address: err.address },
      `connection to a tool server refused: ${err.message}, and its URL was not approved for private addresses by a platform admin`,
    );
  const resolve = opts.resolve ? { resolve: opts.resolve } : {};
  const publicOnly = new Agent({ connect: checkedConnector({ allowPrivate: false, ...resolve }, refused) });
  const approved = new Agent({ connect: checkedConnector({ allowPrivate: true, ...resolve }) });
  // The relay's short requests get pools of their own: the SDK clients' long-lived standalone streams hold a
  // connection each (one per session that reached the upstream), and a pool looks through its busy connections for
  // a free one on every request — with a thousand streams in the same pool, a tenth of the CPU of a relayed call.
  const relayPublicOnly = new Agent({ connect: checkedConnector({ allowPrivate: false, ...resolve }, refused) });
  const relayApproved = new Agent({ connect: checkedConnector({ allowPrivate: true, ...resolve }) });
  const publicFetch = fetchThrough(publicOnly);
  const approvedFetch = fetchThrough(approved);
  return {
    fetchFor: (target) => (target.allowPrivateAddresses ? approvedFetch : publicFetch),
    dispatcherFor: (target) => (target.allowPrivateAddresses ? relayApproved : relayPublicOnly),
    async close() {
      await Promise.all([publicOnly.destroy(), approved.destroy(), relayPublicOnly.destroy(), relayApproved.destroy()]);
    },
  };
}

/**
 * undici's connector with the checking `lookup`. A host given as an IP literal is never looked up by `net.connect`,
 * so it is checked here before connecting.
 */
function checkedConnector(policy: AddressPolicy, onRefused?: (err: AddressRefusedError) => void): buildConnector.connector {
  const connect = buildConnector({ lookup: checkedLookup(policy, onRefused) });
  return (options, callback) => {
    const literal = bareHost(options.hostname);
    if (!policy.allowPrivate && isIP(literal) !== 0 && !isPublicAddress(literal)) {
      const err = new AddressRefusedError(`The host ${options.hostname} is a non-public address`, options.hostname, literal);
      onRefused?.(err);
      callback(err, null);
      return;
    }
    connect(options, callback);
  };
}

/**
 * undici's own `fetch` over `dispatcher` (its Agent and its fetch are one version; Node's built-in fetch bundles
 * another). Its request and response classes are the WHATWG ones the SDK expects, typed by undici's declarations.
 */
function fetchThrough(dispatcher: Agent): FetchLike {
  return (url, init) => undiciFetch(url, { ...(init as UndiciRequestInit | undefined), dispatcher }) as unknown as Promise<Response>;
}
