import { describe, expect, it } from 'vitest';
import { checkSubscriptionUrl, isPublicAddress } from '../../src/delivery/network-policy.js';

describe('isPublicAddress', () => {
  const table: Array<[string, boolean]> = [
    ['8.8.8.8', true],
    ['1.1.1.1', true],
    ['2606:4700::1111', true],
    ['2001:4860:4860::8888', true],
    ['127.0.0.1', false],
    ['127.255.0.9', false],
    ['10.1.2.3', false],
    ['172.16.0.1', false],
    ['172.31.255.255', false],
    ['192.168.1.1', false],
    ['169.254.169.254', false],
    ['169.254.0.1', false],
    ['100.64.0.1', false],
    ['100.127.255.254', false],
    ['0.0.0.0', false],
    ['224.0.0.1', false],
    ['255.255.255.255', false],
    ['192.0.2.1', false],
    ['240.0.0.1', false],
    ['::1', false],
    ['::', false],
    ['fd00::1', false],
    ['fc00::1', false],
    ['fe80::1', false],
    ['ff02::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:7f00:1', false],
    ['::ffff:169.254.169.254', false],
    ['::ffff:10.0.0.1', false],
    ['::ffff:8.8.8.8', true],
    ['::127.0.0.1', false],
    ['64:ff9b::7f00:1', false],
    ['2002:7f00:1::1', false],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', false],
    ['2001:db8::1', false],
    ['not an ip', false],
    ['0x7f.1', false],
    ['2130706433', false],
    ['', false],
  ];

  it.each(table)('%s → %s', (ip, expected) => {
    expect(isPublicAddress(ip)).toBe(expected);
  });
});

describe('checkSubscriptionUrl', () => {
  const strict = { allowPrivateNetworks: false };
  const lax = { allowPrivateNetworks: true };

  it('accepts a valid https URL', () => {
    const result = checkSubscriptionUrl('https://hooks.example.com/in?x=1', strict);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.url.hostname).toBe('hooks.example.com');
    expect(checkSubscriptionUrl('http://8.8.8.8:8080/hook', strict).ok).toBe(true);
    expect(checkSubscriptionUrl('https://[2606:4700::1111]/hook', strict).ok).toBe(true);
  });

  const rejected: Array<[string, string, RegExp]> = [
    ['ftp', 'ftp://example.com/file', /scheme/],
    ['javascript', 'javascript:alert(1)', /scheme/],
    ['credentials', 'https://user:pass@example.com/', /credentials/],
    ['username only', 'https://user@example.com/', /credentials/],
    ['not a URL', 'not a url', /not valid/],
    ['file', 'file:///etc/passwd', /scheme/],
    // WHATWG reads http:///x as host "x"; an empty authority is a parse error.
    ['empty host', 'http://:80/', /not valid/],
    ['localhost', 'http://localhost:3000/hook', /localhost/],
    ['sub.localhost', 'http://api.localhost/hook', /localhost/],
    ['IPv6 loopback', 'http://[::1]/', /::1/],
    ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/', /loopback|private/],
    ['loopback', 'http://127.0.0.1:8080/', /127\.0\.0\.1/],
    ['decimal loopback', 'http://2130706433/', /127\.0\.0\.1/],
    ['hex loopback', 'http://0x7f.1/', /127\.0\.0\.1/],
    ['metadata', 'http://169.254.169.254/latest/meta-data', /169\.254\.169\.254/],
    ['CGNAT', 'http://100.64.0.1/', /100\.64\.0\.1/],
    ['ULA', 'http://[fd00::1]/', /fd00::1/],
    ['too long', `https://example.com/${'a'.repeat(2048)}`, /2048/],
  ];

  it.each(rejected)('rejects %s', (_label, raw, reason) => {
    const result = checkSubscriptionUrl(raw, strict);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it('allows private addresses only when private networks are allowed', () => {
    expect(checkSubscriptionUrl('http://127.0.0.1:8080/', lax).ok).toBe(true);
    expect(checkSubscriptionUrl('http://localhost:8080/', lax).ok).toBe(true);
    expect(checkSubscriptionUrl('http://[::1]/', lax).ok).toBe(true);
    // Scheme and credential rules hold even then.
    expect(checkSubscriptionUrl('ftp://127.0.0.1/', lax).ok).toBe(false);
    expect(checkSubscriptionUrl('http://a:b@127.0.0.1/', lax).ok).toBe(false);
  });
});
