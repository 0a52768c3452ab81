import { isIP } from 'node:net';

/** DELIVERY_PROXY_URL and DELIVERY_NO_PROXY, parsed. */
export interface ProxySettings {
  /** The operator's HTTP forward proxy (`http:` or `https:`; credentials in the URL become Proxy-Authorization). */
  url: string;
  /** Hosts reached directly: see parseNoProxy. */
  noProxy: readonly string[];
}

const HOST_NAME = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;

function bare(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * DELIVERY_NO_PROXY: comma- or space-separated entries, each `*` (every host), an IP address, or
 * a host name that matches itself and every name under it (`example.com`, `.example.com` and
 * `*.example.com` all match `example.com` and `api.example.com`). Throws on an entry that is none
 * of these (a port, a CIDR range), naming it.
 */
export function parseNoProxy(text: string): string[] {
  const entries: string[] = [];
  for (const raw of text.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') {
      entries.push('*');
      continue;
    }
    if (isIP(bare(entry)) !== 0) {
      entries.push(bare(entry));
      continue;
    }
    const name = entry.replace(/^\*?\./, '').replace(/\.$/, '');
    if (!HOST_NAME.test(name)) throw new Error(`${JSON.stringify(raw)} is not a host name, a .suffix or an IP address`);
    entries.push(name);
  }
  return entries;
}

/** True when `hostname` (a URL's hostname: lower case, IPv6 in brackets) is to be reached without the proxy. */
export function bypassesProxy(hostname: string, noProxy: readonly string[]): boolean {
  if (noProxy.length === 0) return false;
  const host = bare(hostname).toLowerCase().replace(/\.$/, '');
  return noProxy.some((entry) => entry === '*' || host === entry || (isIP(host) === 0 && host.endsWith(`.${entry}`)));
}
