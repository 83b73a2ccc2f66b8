/**
 * Who is on the other end of a connection: its client address (behind trusted proxies only) and
 * whether its page came from an origin allowed to talk to this server.
 */
import type { IncomingMessage } from 'node:http';
import proxyAddr from 'proxy-addr';
import ipaddr from 'ipaddr.js';

/**
 * JOINUS_TRUST_PROXY: how far to believe X-Forwarded-For. `null` (the default) ignores it; a number
 * trusts that many proxy hops in front of this server; a list trusts those addresses or subnets
 * (proxy-addr's names `loopback`, `linklocal`, `uniquelocal` included).
 */
export type TrustProxy = null | number | string[];

export type AddressOf = (req: IncomingMessage) => string;

export function clientAddressResolver(trust: TrustProxy): AddressOf {
  if (trust === null || trust === 0) return (req) => limitKey(req.socket.remoteAddress ?? 'unknown');
  const trusted = typeof trust === 'number' ? (_addr: string, i: number) => i < trust : proxyAddr.compile(trust);
  return (req) => limitKey(proxyAddr(req, trusted));
}

/**
 * The "client address" the limits count: an IPv4 address as it is (IPv4-mapped IPv6 too), an IPv6
 * address by its /64, the smallest block one subscriber gets (else every guess could come from a
 * fresh address of the same block).
 */
export function limitKey(address: string): string {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return address;
  }
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const v6 = parsed as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  return `${v6.parts.slice(0, 4).map((p) => p.toString(16)).join(':')}::/64`;
}

/** Throws with a readable message when a trust list names something proxy-addr cannot parse. */
export function checkTrustList(list: string[]): void {
  proxyAddr.compile(list);
}

/**
 * Browsers send `Origin` with every WebSocket handshake, and CORS does not cover WebSockets: this is
 * what keeps another site's pages from talking to the signaling server through its visitors.
 * Allowed: no Origin at all (not a browser: it can claim any origin anyway), the origin the request
 * itself was addressed to (`Host`), or one listed in JOINUS_ALLOWED_ORIGINS.
 */
export function originAllowed(req: IncomingMessage, allowed: ReadonlySet<string>): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  let from: URL;
  try {
    from = new URL(origin);
  } catch {
    return false; // "null" (sandboxed frames, file: pages) and garbage
  }
  if (allowed.has(from.origin)) return true;
  const host = req.headers.host;
  if (!host) return false;
  try {
    // Through the URL parser, so that "example.com:443" and "example.com" over https compare equal.
    return new URL(`${from.protocol}//${host}`).host === from.host;
  } catch {
    return false;
  }
}
