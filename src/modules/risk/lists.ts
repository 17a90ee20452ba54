import ipaddr from 'ipaddr.js';
import type { ListName } from './risk-rules.js';

/**
 * Block lists in memory: exact values per type, and IP ranges (CIDR) as
 * parsed prefixes. Built from the table whenever its version changes
 * (service.ts); matching is pure and needs no I/O.
 */
export type ListType = 'ip' | 'cidr' | 'device' | 'phone_hash' | 'openid' | 'telegram_id' | 'account';
export const listTypes: readonly ListType[] = ['ip', 'cidr', 'device', 'phone_hash', 'openid', 'telegram_id', 'account'];

export interface ListEntryLike {
  type: string;
  value: string;
  expiresAt: Date | null;
}

type Range = { range: [ipaddr.IPv4 | ipaddr.IPv6, number]; expiresAt: number };

// Plain dotted-quad IPv4 (no leading zeros) is already canonical: the common case skips the parser, which is slow for a per-decision path.
const plainV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** An IP in one canonical form ("::ffff:1.2.3.4" -> "1.2.3.4"); null when it is not an IP. */
export function normaliseIp(ip: string): string | null {
  if (plainV4.test(ip)) return ip;
  if (!ipaddr.isValid(ip)) return null;
  return ipaddr.process(ip).toString();
}

/** The /24 of an IPv4 address, the /64 of an IPv6 one: the "subnet" velocity dimension. */
export function subnetOf(ip: string): string {
  if (plainV4.test(ip)) return `${ip.slice(0, ip.lastIndexOf('.'))}.0/24`;
  if (!ipaddr.isValid(ip)) return ip;
  const a = ipaddr.process(ip);
  if (a.kind() === 'ipv4') {
    const o = (a as ipaddr.IPv4).octets;
    return `${o[0]}.${o[1]}.${o[2]}.0/24`;
  }
  const p = (a as ipaddr.IPv6).parts;
  return `${p.slice(0, 4).map((x) => x.toString(16)).join(':')}::/64`;
}

/** Checks and normalises one entry's value for its type; a message when it is not valid. */
export function normaliseListValue(type: ListType, value: string): { value: string } | { error: string } {
  const v = value.trim();
  if (!v) return { error: 'must not be empty' };
  if (type === 'ip') {
    const n = normaliseIp(v);
    return n ? { value: n } : { error: 'must be an IPv4 or IPv6 address' };
  }
  if (type === 'cidr') {
    try {
      const [addr, bits] = ipaddr.parseCIDR(v);
      return { value: `${addr.toString()}/${bits}` };
    } catch {
      return { error: 'must be a CIDR range such as 203.0.113.0/24' };
    }
  }
  if (v.length > 200) return { error: 'at most 200 characters' };
  return { value: v };
}

export interface Subject {
  ip: string;
  deviceId?: string;
  phoneHash?: string;
  openid?: string;
  telegramId?: string;
  accountId?: string;
}

export class BlockLists {
  private readonly exact = new Map<string, number>();
  private readonly ranges: Range[] = [];
  constructor(entries: readonly ListEntryLike[]) {
    for (const e of entries) {
      const exp = e.expiresAt ? e.expiresAt.getTime() : Infinity;
      if (e.type === 'cidr') {
        try {
          this.ranges.push({ range: ipaddr.parseCIDR(e.value), expiresAt: exp });
        } catch {
          /* refused on save; an old bad row is ignored */
        }
      } else {
        const key = `${e.type}\u0000${e.value}`;
        this.exact.set(key, Math.max(this.exact.get(key) ?? 0, exp));
      }
    }
  }

  get size(): number {
    return this.exact.size + this.ranges.length;
  }

  private has(type: ListType, value: string | undefined, now: number): boolean {
    if (!value) return false;
    const exp = this.exact.get(`${type}\u0000${value}`);
    return exp !== undefined && exp > now;
  }

  private ipListed(ip: string, now: number): boolean {
    if (this.has('ip', ip, now)) return true;
    if (this.ranges.length === 0 || !ipaddr.isValid(ip)) return false;
    const a = ipaddr.process(ip);
    for (const r of this.ranges) {
      if (r.expiresAt <= now || r.range[0].kind() !== a.kind()) continue;
      if (a.match(r.range)) return true;
    }
    return false;
  }

  /** The lists (as rules name them) this subject is on at `now`; `ip` covers both exact IPs and CIDR ranges. */
  match(s: Subject, now: number): Set<ListName> {
    const out = new Set<ListName>();
    if (this.size === 0) return out;
    if (this.ipListed(s.ip, now)) out.add('ip');
    if (this.has('device', s.deviceId, now)) out.add('device');
    if (this.has('phone_hash', s.phoneHash, now)) out.add('phone_hash');
    if (this.has('openid', s.openid, now)) out.add('openid');
    if (this.has('telegram_id', s.telegramId, now)) out.add('telegram_id');
    if (this.has('account', s.accountId, now)) out.add('account');
    return out;
  }
}
