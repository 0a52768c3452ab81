import { describe, expect, it } from 'vitest';
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
