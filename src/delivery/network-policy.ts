import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

const MAX_URL_LENGTH = 2048;

/**
 * Only ipaddr.js's 'unicast' range counts: every named special range
 * (private, loopback, link-local, CGNAT, reserved, NAT64, 6to4, teredo, ...)
 * either reaches our own network or tunnels to an address we cannot vet.
 */
export function isPublicAddress(ip: string): boolean {
  // net.isIP accepts only canonical notations; ipaddr.js alone would also
  // take forms like "0x7f.1" whose meaning differs between parsers.
  const version = isIP(ip);
  if (version === 0) return false;
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.parse(ip);
  } catch {
    return false;
  }
  if (address instanceof ipaddr.IPv6) {
    if (address.isIPv4MappedAddress()) {
      return address.toIPv4Address().range() === 'unicast';
    }
    // ::/96 (deprecated IPv4-compatible addresses) is not a named range in
    // ipaddr.js but embeds an IPv4 address just the same.
    if (address.parts.slice(0, 6).every((part) => part === 0)) return false;
  }
  return address.range() === 'unicast';
}

function describeRange(ip: string): string {
  try {
    const address = ipaddr.parse(ip);
    if (address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress()) {
      return address.toIPv4Address().range();
    }
    return address.range();
  } catch {
    return 'invalid';
  }
}

/** Human-readable reason an address is refused, e.g. "127.0.0.1 is a loopback/private address (loopback)". */
export function refusalReason(ip: string): string {
  return `${ip} is a loopback/private address (${describeRange(ip)})`;
}

/** The IP literal in a URL host, without the brackets of an IPv6 literal; null for a hostname. */
export function literalIp(hostname: string): string | null {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(bare) === 0 ? null : bare;
}

function isLocalhostName(hostname: string): boolean {
  // RFC 6761 reserves "localhost" and every name under it for loopback.
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

export function checkSubscriptionUrl(
  raw: string,
  options: { allowPrivateNetworks: boolean; httpsOnly?: boolean },
): { ok: true; url: URL } | { ok: false; reason: string } {
  if (raw.length > MAX_URL_LENGTH) {
    return { ok: false, reason: `URL is longer than ${MAX_URL_LENGTH} characters` };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'URL is not valid' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, reason: `URL scheme ${url.protocol} is not allowed; use http: or https:` };
  }
  if (options.httpsOnly && url.protocol !== 'https:') {
    return { ok: false, reason: 'URL must use https: (DELIVERY_HTTPS_ONLY is set)' };
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, reason: 'URL must not contain credentials' };
  }
  if (url.hostname === '') {
    return { ok: false, reason: 'URL has no host' };
  }
  if (!options.allowPrivateNetworks) {
    // WHATWG URL has already normalised numeric hosts like "2130706433" or
    // "0x7f.1" to dotted IPv4, so the literal check sees the real address.
    const ip = literalIp(url.hostname);
    if (ip !== null && !isPublicAddress(ip)) {
      return { ok: false, reason: `URL host ${refusalReason(ip)}` };
    }
    if (ip === null && isLocalhostName(url.hostname)) {
      return { ok: false, reason: 'URL host localhost is a loopback address' };
    }
  }
  return { ok: true, url };
}
