import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { AppError } from '../../lib/errors.js';
import { hostAllowed } from '../suppliers/url-policy.js';

/**
 * Webhook URLs are typed in by partners and then called by our servers, so
 * they are a request-forgery risk: a URL pointing at 169.254.169.254 (cloud
 * metadata), 127.0.0.1 or the office network would let a partner make us
 * call our own internals. The guard runs when an endpoint is created and
 * again when it is called, and the second time it checks the address the
 * socket actually connects to (a `lookup` hook), so a DNS answer that
 * changes after creation (rebinding) does not get through.
 */
export interface UrlPolicy {
  /** Exact host names or "*.suffix"; undefined allows any host, an empty list none. */
  allowedHosts?: readonly string[];
  allowPrivateNetworks: boolean;
}

const privateV4 = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved and broadcast
] as const)
  privateV4.addSubnet(net, prefix, 'ipv4');

// IPv6 is judged by an allow-list: only global unicast (2000::/3), minus the
// ranges that tunnel to arbitrary IPv4 (6to4, Teredo) and documentation. That
// also refuses ::1, ::, link-local, unique-local and IPv4-mapped (::ffff:a.b.c.d).
const globalV6 = new BlockList();
globalV6.addSubnet('2000::', 3, 'ipv6');
const tunnelledV6 = new BlockList();
tunnelledV6.addSubnet('2001::', 32, 'ipv6');
tunnelledV6.addSubnet('2001:db8::', 32, 'ipv6');
tunnelledV6.addSubnet('2002::', 16, 'ipv6');

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return privateV4.check(address, 'ipv4');
  if (family === 6) return !globalV6.check(address, 'ipv6') || tunnelledV6.check(address, 'ipv6');
  return true; // not an address at all: refuse rather than guess
}

export const refuseUrl = (message: string) => new AppError('VALIDATION_FAILED', `url: ${message}`, [{ field: 'url', message }]);

/** URL.hostname keeps the brackets of an IPv6 literal. */
const bareHost = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1');

/** Syntax and host allow-list; no network. Throws VALIDATION_FAILED naming `url`. */
export function parseWebhookUrl(raw: string, policy: UrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuseUrl('is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw refuseUrl('must be https:// or http://');
  // Credentials in a URL end up in lists and logs.
  if (url.username || url.password) throw refuseUrl('must not carry credentials');
  if (url.hash) throw refuseUrl('must not have a fragment');
  if (policy.allowedHosts && !hostAllowed(bareHost(url), policy.allowedHosts)) throw refuseUrl(`host ${bareHost(url)} is not in the webhook allow-list`);
  const host = bareHost(url);
  if (!policy.allowPrivateNetworks && isIP(host) && isPrivateAddress(host)) throw refuseUrl(`${host} is a private, loopback or link-local address`);
  return url;
}

/** At creation: resolves the host once and refuses it when any of its addresses is private. */
export async function assertWebhookUrl(raw: string, policy: UrlPolicy): Promise<URL> {
  const url = parseWebhookUrl(raw, policy);
  const host = bareHost(url);
  if (policy.allowPrivateNetworks || isIP(host)) return url;
  let addresses: LookupAddress[];
  try {
    addresses = await new Promise<LookupAddress[]>((resolve, reject) => dnsLookup(host, { all: true }, (err, a) => (err ? reject(err) : resolve(a))));
  } catch {
    throw refuseUrl(`host ${host} does not resolve`);
  }
  const bad = addresses.find((a) => isPrivateAddress(a.address));
  if (bad) throw refuseUrl(`host ${host} resolves to ${bad.address}, a private, loopback or link-local address`);
  return url;
}

/**
 * A `lookup` for http.request that refuses private answers at connect time.
 * Node calls it with `all: true` when it races IPv4 and IPv6, so both forms
 * of the callback are served.
 */
export const guardedLookup: LookupFunction = (hostname: string, options: LookupOptions, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad || addresses.length === 0) {
      const e: NodeJS.ErrnoException = new Error(bad ? `${hostname} resolves to ${bad.address}, a private address` : `${hostname} has no address`);
      e.code = 'EPRIVATEADDR';
      return callback(e, '', 0);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0]!;
    return callback(null, first.address, first.family);
  });
};
