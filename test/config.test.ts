import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const JWKS_URL = 'https://id.example.test/.well-known/jwks.json';

/** The ConfigError loadConfig throws for `env`. */
function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig: authentication', () => {
  it('refuses an AUTH_JWT_SECRET shorter than 32 bytes, counting bytes, not characters, in one line with the fix', () => {
    const error = refusal({ AUTH_JWT_SECRET: 'a'.repeat(31) });
    expect(error.message).toMatch(/^Invalid configuration: AUTH_JWT_SECRET: must be at least 32 bytes .*\. Fix: correct this environment variable .*\.$/);
    expect(error.message).not.toContain('\n');
    expect(error.message).not.toContain('a'.repeat(31));
    expect(loadConfig({ AUTH_JWT_SECRET: 'a'.repeat(32) }).auth.jwtSecret).toBe('a'.repeat(32));
    // 16 two-byte characters are 32 bytes of key.
    expect(loadConfig({ AUTH_JWT_SECRET: 'é'.repeat(16) }).auth.jwtSecret).toBe('é'.repeat(16));
    expect(refusal({ AUTH_JWT_SECRET: 'é'.repeat(15) }).message).toContain('AUTH_JWT_SECRET');
  });

  it('refuses AUTH_JWKS_URL without AUTH_AUDIENCE, naming AUTH_AUDIENCE_ANY as the way to accept any audience', () => {
    const error = refusal({ AUTH_JWKS_URL: JWKS_URL });
    expect(error.message).toMatch(/^Invalid configuration: AUTH_AUDIENCE: must be set with AUTH_JWKS_URL.*AUTH_AUDIENCE_ANY=true.*\. Fix: /);
    expect(refusal({ AUTH_JWKS_URL: JWKS_URL, AUTH_AUDIENCE_ANY: 'false' }).message).toContain('AUTH_AUDIENCE:');

    const withAudience = loadConfig({ AUTH_JWKS_URL: JWKS_URL, AUTH_AUDIENCE: 'hooklane' });
    expect(withAudience.auth).toMatchObject({ jwksUrl: JWKS_URL, audience: 'hooklane', audienceAny: false });
    const anyAudience = loadConfig({ AUTH_JWKS_URL: JWKS_URL, AUTH_AUDIENCE_ANY: 'true' });
    expect(anyAudience.auth).toMatchObject({ jwksUrl: JWKS_URL, audience: undefined, audienceAny: true });
  });

  it('refuses AUTH_AUDIENCE_ANY=true beside an AUTH_AUDIENCE, and a value that is not a flag', () => {
    expect(refusal({ AUTH_JWKS_URL: JWKS_URL, AUTH_AUDIENCE: 'hooklane', AUTH_AUDIENCE_ANY: 'true' }).message).toContain('AUTH_AUDIENCE_ANY: must not be true when AUTH_AUDIENCE is set');
    expect(refusal({ AUTH_JWKS_URL: JWKS_URL, AUTH_AUDIENCE_ANY: 'sure' }).message).toContain('AUTH_AUDIENCE_ANY');
  });

  it('leaves the embedded mode without AUTH_* as it is: zero setup', () => {
    const config = loadConfig({});
    expect(config.databaseUrl).toBeUndefined();
    expect(config.auth).toMatchObject({ jwtSecret: undefined, jwksUrl: undefined, audienceAny: false });
  });
});

describe('loadConfig: DATABASE_READ_URL', () => {
  const primary = 'postgres://hooklane@db.example.test/hooklane';
  const replica = 'postgres://hooklane@replica.example.test/hooklane';

  it('is optional, a URL, and only beside DATABASE_URL (the embedded database has no replica)', () => {
    expect(loadConfig({ DATABASE_URL: primary }).databaseReadUrl).toBeUndefined();
    expect(loadConfig({ DATABASE_URL: primary, DATABASE_READ_URL: '' }).databaseReadUrl).toBeUndefined();
    expect(loadConfig({ DATABASE_URL: primary, DATABASE_READ_URL: replica }).databaseReadUrl).toBe(replica);
    expect(refusal({ DATABASE_URL: primary, DATABASE_READ_URL: 'replica' }).message).toContain('DATABASE_READ_URL');
    expect(refusal({ DATABASE_READ_URL: replica }).message).toContain('DATABASE_READ_URL: needs DATABASE_URL');
  });
});
