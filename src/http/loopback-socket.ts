/**
 * Whether a request comes from this machine, judged by its TCP connection only. Host headers, PUBLIC_URL,
 * `X-Forwarded-For` and the TRUST_PROXY-derived `req.ip` are all chosen by whoever sends or relays the request, so
 * none of them can say "local": a remote host reaching a published port sends `Host: localhost:3000` as easily.
 */
import type { IncomingMessage } from 'node:http';
import ipaddr from 'ipaddr.js';

/** 127.0.0.0/8, ::1 and their IPv4-mapped IPv6 forms (`::ffff:127.0.0.1`, as a dual-stack listener reports them). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address || !ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === 'loopback';
}

/**
 * A request relayed by an HTTP proxy or tunnel on this machine (nginx, ngrok) arrives on a loopback socket on behalf
 * of someone else; the headers such relays add are the only trace of that, so their presence means "not local".
 * Plain TCP relays (`ssh -R`, `socat`, `kubectl port-forward`) add nothing and cannot be told apart: whoever can
 * reach such a relay is local as far as the dev login can see, which is why it is off for any non-loopback
 * PUBLIC_URL and in the Compose file.
 */
const RELAY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip'] as const;

/** True when the request's own connection comes from a loopback address and nothing says it was relayed. */
export function isLoopbackSocket(req: IncomingMessage): boolean {
  if (RELAY_HEADERS.some((h) => req.headers[h] !== undefined)) return false;
  return isLoopbackAddress(req.socket.remoteAddress);
}
