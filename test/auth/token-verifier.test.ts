import http from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { signHs256Token, TokenError, TokenVerifier } from '../../src/auth/jwt.js';

const SECRET = 'a-secret-long-enough-for-hs256-0123456789abcdef';
const verifier = () =>
  new TokenVerifier({ jwtSecret: SECRET, jwksUrl: undefined, issuer: undefined, audience: undefined, tenantClaim: 'tenant_id' });

describe('TokenVerifier', () => {
  it('accepts the same token again from what it remembers, with the same claims', async () => {
    const tokens = verifier();
    const token = await signHs256Token(SECRET, { sub: 'backend', tenant_id: 'ten_1' }, { expiresIn: '1h' });
    const first = await tokens.verify(token);
    const second = await tokens.verify(token);
    expect(second).toEqual(first);
    expect(second.tenant_id).toBe('ten_1');
  });

  it('still refuses a tampered copy of a token it has accepted', async () => {
    const tokens = verifier();
    const token = await signHs256Token(SECRET, { sub: 'backend', tenant_id: 'ten_1' }, { expiresIn: '1h' });
    await tokens.verify(token);
    const [header, , signature] = token.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ sub: 'backend', tenant_id: 'ten_2' })).toString('base64url')}.${signature}`;
    await expect(tokens.verify(forged)).rejects.toBeInstanceOf(TokenError);
  });

  it('refuses a token signed with another secret, however often it is presented', async () => {
    const tokens = verifier();
    const token = await signHs256Token('another-secret-long-enough-for-hs256-0123456789', { sub: 'x' }, { expiresIn: '1h' });
    await expect(tokens.verify(token)).rejects.toBeInstanceOf(TokenError);
    await expect(tokens.verify(token)).rejects.toBeInstanceOf(TokenError);
  });
});

describe('TokenVerifier with a JWKS', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refetches the key set for an unknown kid 2 s after the last fetch (not after jose’s default 30 s), and not sooner', async () => {
    const keys: JWK[] = [];
    let fetches = 0;
    const jwksServer = http.createServer((_req, res) => {
      fetches += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    try {
      const signingKey = async (kid: string) => {
        const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
        keys.push({ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' });
        return new SignJWT({ sub: 'backend', tenant_id: 'ten_1' }).setProtectedHeader({ alg: 'ES256', kid }).setIssuedAt().setExpirationTime('1h').sign(privateKey);
      };
      const first = await signingKey('first');
      const tokens = new TokenVerifier({
        jwtSecret: undefined,
        jwksUrl: `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks.json`,
        issuer: undefined,
        audience: undefined,
        tenantClaim: 'tenant_id',
      });
      // jose times its cooldown with Date.now(): only Date is faked, so the clock moves when the test says.
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
      expect((await tokens.verify(first)).sub).toBe('backend');
      expect(fetches).toBe(1);

      // The identity provider rotates: a key published after the fetch.
      const rotated = await signingKey('rotated');
      vi.advanceTimersByTime(1_999);
      await expect(tokens.verify(rotated)).rejects.toBeInstanceOf(TokenError);
      expect(fetches).toBe(1);
      vi.advanceTimersByTime(1);
      expect((await tokens.verify(rotated)).sub).toBe('backend');
      expect(fetches).toBe(2);
    } finally {
      jwksServer.closeAllConnections();
      await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
    }
  });
});
