import { describe, expect, it } from 'vitest';
import type { OAuth2Credentials } from '../../src/domain/endpoint-settings.js';
import { OAuth2Tokens, type TokenResult } from '../../src/delivery/oauth2-tokens.js';

// The token cache on a clock of the test's own; the token endpoint is a function that counts calls
// (the real client credentials request is tested against a token endpoint in endpoint-auth.test.ts).

const credentials: OAuth2Credentials = { tokenUrl: 'https://127.0.0.1/token', clientId: 'c', clientSecret: 's', scope: null, audience: null };

function setup(results: (calls: number) => TokenResult | Promise<TokenResult>, maxEntries?: number) {
  let now = 1_000_000;
  const calls: number[] = [];
  const tokens = new OAuth2Tokens(
    async () => {
      calls.push(now);
      return results(calls.length);
    },
    { now: () => now, maxEntries },
  );
  return { tokens, calls, advance: (ms: number) => (now += ms) };
}

const granted = (expiresInMs: number | null) => (call: number): TokenResult => ({ ok: true, token: `tok-${call}`, expiresInMs });

describe('OAuth2Tokens', () => {
  it('keeps a token until shortly before it expires: a tenth of its lifetime, at most a minute', async () => {
    const { tokens, calls, advance } = setup(granted(100_000));
    expect(await tokens.get('sub:1', credentials, 1000)).toEqual({ ok: true, token: 'tok-1', fresh: true });
    advance(89_999);
    expect(await tokens.get('sub:1', credentials, 1000)).toEqual({ ok: true, token: 'tok-1', fresh: false });
    advance(1);
    expect(await tokens.get('sub:1', credentials, 1000)).toEqual({ ok: true, token: 'tok-2', fresh: true });
    expect(calls).toHaveLength(2);

    const hourly = setup(granted(3_600_000));
    await hourly.tokens.get('k', credentials, 1000);
    hourly.advance(3_540_000 - 1);
    expect((await hourly.tokens.get('k', credentials, 1000)).ok && hourly.calls.length).toBe(1);
    hourly.advance(1);
    await hourly.tokens.get('k', credentials, 1000);
    expect(hourly.calls).toHaveLength(2);
  });

  it('keeps a token without expires_in for five minutes', async () => {
    const { tokens, calls, advance } = setup(granted(null));
    await tokens.get('k', credentials, 1000);
    advance(5 * 60_000 - 30_000 - 1);
    await tokens.get('k', credentials, 1000);
    expect(calls).toHaveLength(1);
    advance(1);
    await tokens.get('k', credentials, 1000);
    expect(calls).toHaveLength(2);
  });

  it('makes one request for concurrent callers of a key, and one per key', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { tokens, calls } = setup(async (call) => {
      await gate;
      return granted(60_000)(call);
    });
    const waiting = [tokens.get('a', credentials, 1000), tokens.get('a', credentials, 1000), tokens.get('a', credentials, 1000), tokens.get('b', credentials, 1000)];
    release();
    const results = await Promise.all(waiting);
    expect(calls).toHaveLength(2);
    expect(results.map((result) => result.ok && result.token)).toEqual(['tok-1', 'tok-1', 'tok-1', 'tok-2']);
  });

  it('keeps no failure: the next caller asks again', async () => {
    const { tokens, calls } = setup((call) => (call === 1 ? { ok: false, outcome: { kind: 'oauth2_error', message: 'down' }, error: 'down' } : granted(60_000)(call)));
    expect(await tokens.get('k', credentials, 1000)).toMatchObject({ ok: false, error: 'down' });
    expect(await tokens.get('k', credentials, 1000)).toEqual({ ok: true, token: 'tok-2', fresh: true });
    expect(calls).toHaveLength(2);
  });

  it('forgets a refused token, but not a newer one that replaced it', async () => {
    const { tokens, calls } = setup(granted(60_000));
    await tokens.get('k', credentials, 1000);
    tokens.invalidate('k', 'tok-1');
    expect(await tokens.get('k', credentials, 1000)).toEqual({ ok: true, token: 'tok-2', fresh: true });
    // A second 401 for tok-1 (another delivery that held it) leaves tok-2 alone.
    tokens.invalidate('k', 'tok-1');
    expect(await tokens.get('k', credentials, 1000)).toEqual({ ok: true, token: 'tok-2', fresh: false });
    expect(calls).toHaveLength(2);
  });

  it('holds a bounded number of tokens', async () => {
    const { tokens, calls } = setup(granted(60_000), 2);
    await tokens.get('a', credentials, 1000);
    await tokens.get('b', credentials, 1000);
    await tokens.get('c', credentials, 1000);
    await tokens.get('c', credentials, 1000);
    await tokens.get('a', credentials, 1000);
    // a was let go for c, so a is asked for again; c was kept.
    expect(calls).toHaveLength(4);
  });
});
