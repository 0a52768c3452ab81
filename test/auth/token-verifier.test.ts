import http from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { signHs256Token, TokenError, TokenVerifier } from '../../src/auth/jwt.js';
import { PortalSessionSigner } from '../../src/auth/portal-session.js';

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

describe('TokenVerifier with a JWKS and AUTH_JWT_SECRET', () => {
  it('verifies HS256 portal sessions with the secret, and no other HS256 token', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const keys: JWK[] = [{ ...(await exportJWK(publicKey)), kid: 'idp', alg: 'ES256', use: 'sig' }];
    const jwksServer = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    try {
      const auth = { issuer: 'https://id.example.test', audience: 'hooklane', tenantClaim: 'tenant_id' };
      const tokens = new TokenVerifier({ ...auth, jwtSecret: SECRET, jwksUrl: `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks.json` });
      const signer = new PortalSessionSigner(SECRET, auth);
      const session = await signer.sign({ tenantId: 'ten_1', scopes: ['events:read'], readOnly: true, lifetimeMs: 600_000, createdBy: 'backend' });
      expect(await tokens.verify(session.token)).toMatchObject({ tenant_id: 'ten_1', hooklane_portal: true, read_only: true, iss: auth.issuer, aud: auth.audience });

      // The identity provider's tokens still verify with its key.
      const fromIdp = await new SignJWT({ sub: 'user', tenant_id: 'ten_1' })
        .setProtectedHeader({ alg: 'ES256', kid: 'idp' })
        .setIssuer(auth.issuer)
        .setAudience(auth.audience)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(privateKey);
      expect((await tokens.verify(fromIdp)).sub).toBe('user');

      // Any other HS256 token signed with the secret is refused: an admin token, a tenant token.
      for (const claims of [{ sub: 'x', roles: ['admin'] }, { sub: 'x', tenant_id: 'ten_1' }, { sub: 'x', roles: ['admin'], hooklane_portal: true }]) {
        const token = await signHs256Token(SECRET, claims, { expiresIn: '1h', issuer: auth.issuer, audience: auth.audience });
        await expect(tokens.verify(token), JSON.stringify(claims)).rejects.toThrow(/portal sessions only/);
      }
      // A portal session signed with another secret is refused too.
      const forged = await new PortalSessionSigner('another-secret-long-enough-for-hs256-0123456789', auth).sign({
        tenantId: 'ten_1',
        scopes: ['events:read'],
        readOnly: false,
        lifetimeMs: 600_000,
        createdBy: undefined,
      });
      await expect(tokens.verify(forged.token)).rejects.toBeInstanceOf(TokenError);
    } finally {
      jwksServer.closeAllConnections();
      await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
    }
  });
});
