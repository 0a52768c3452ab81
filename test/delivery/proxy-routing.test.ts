import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { bypassesProxy, parseNoProxy } from '../../src/delivery/proxy-routing.js';

describe('DELIVERY_NO_PROXY', () => {
  it('matches a host and every name under it, however the suffix is written', () => {
    for (const entry of ['example.com', '.example.com', '*.example.com', 'EXAMPLE.com.']) {
      const noProxy = parseNoProxy(entry);
      expect(bypassesProxy('example.com', noProxy), entry).toBe(true);
      expect(bypassesProxy('api.example.com', noProxy), entry).toBe(true);
      expect(bypassesProxy('notexample.com', noProxy), entry).toBe(false);
      expect(bypassesProxy('example.com.evil.net', noProxy), entry).toBe(false);
    }
  });

  it('matches IP addresses exactly, IPv6 with or without brackets', () => {
    const noProxy = parseNoProxy('10.1.2.3, [::1] 2001:db8::5');
    expect(bypassesProxy('10.1.2.3', noProxy)).toBe(true);
    expect(bypassesProxy('110.1.2.3', noProxy)).toBe(false);
    expect(bypassesProxy('[::1]', noProxy)).toBe(true);
    expect(bypassesProxy('[2001:db8::5]', noProxy)).toBe(true);
  });

  it('* sends nothing through the proxy; empty sends everything', () => {
    expect(bypassesProxy('anything.test', parseNoProxy('*'))).toBe(true);
    expect(bypassesProxy('anything.test', parseNoProxy(''))).toBe(false);
  });

  it('refuses what it cannot match, naming it', () => {
    expect(() => parseNoProxy('example.com:8080')).toThrow(/example\.com:8080/);
    expect(() => parseNoProxy('10.0.0.0/8')).toThrow(/10\.0\.0\.0\/8/);
  });
});

describe('proxy configuration', () => {
  it('reads DELIVERY_PROXY_URL and DELIVERY_NO_PROXY, and stops on bad values naming the variable', () => {
    expect(loadConfig({}).delivery.proxy).toBeUndefined();
    expect(loadConfig({ DELIVERY_PROXY_URL: 'http://proxy.internal:3128', DELIVERY_NO_PROXY: 'internal.example, 10.0.0.1' }).delivery.proxy).toEqual({
      url: 'http://proxy.internal:3128',
      noProxy: ['internal.example', '10.0.0.1'],
    });
    expect(() => loadConfig({ DELIVERY_PROXY_URL: 'socks5://proxy:1080' })).toThrow(/DELIVERY_PROXY_URL/);
    expect(() => loadConfig({ DELIVERY_PROXY_URL: 'not a url' })).toThrow(/DELIVERY_PROXY_URL/);
    expect(() => loadConfig({ DELIVERY_NO_PROXY: 'a.example:80' })).toThrow(/DELIVERY_NO_PROXY/);
  });
});
