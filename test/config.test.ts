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

describe('loadConfig: tracing', () => {
  it('is off without an OTLP endpoint', () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_SERVICE_NAME: 'svc', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).tracing).toBeUndefined();
  });

  it('exports to OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces, protobuf and `hooklane` unless told otherwise', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toEqual({
      tracesUrl: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      serviceName: 'hooklane',
    });
    expect(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example.test/ingest',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_SERVICE_NAME: 'webhooks',
      }).tracing,
    ).toEqual({ tracesUrl: 'https://traces.example.test/ingest', protocol: 'http/json', serviceName: 'webhooks' });
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' })
        .tracing?.protocol,
    ).toBe('http/protobuf');
  });

  it('refuses an endpoint that is not an http(s) URL, and gRPC, naming the variable', () => {
    expect(refusal({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317' }).message).toContain('OTEL_EXPORTER_OTLP_ENDPOINT');
    expect(refusal({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://collector:4317' }).message).toContain('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
    expect(refusal({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).message).toContain(
      'OTEL_EXPORTER_OTLP_PROTOCOL',
    );
  });
});

describe('loadConfig: the embeddable portal', () => {
  it('reads PORTAL_PUBLIC_URL as an http(s) base URL without a trailing slash, and refuses anything else in one line', () => {
    expect(loadConfig({}).portal).toEqual({ publicUrl: undefined, frameAncestors: [] });
    expect(loadConfig({ PORTAL_PUBLIC_URL: 'https://hooks.example.com/' }).portal.publicUrl).toBe('https://hooks.example.com');
    expect(loadConfig({ PORTAL_PUBLIC_URL: 'http://127.0.0.1:8080/hooklane' }).portal.publicUrl).toBe('http://127.0.0.1:8080/hooklane');
    for (const value of ['hooks.example.com', 'ftp://hooks.example.com', 'https://hooks.example.com/?a=1', 'https://hooks.example.com/#x', 'https://user:pw@hooks.example.com']) {
      const error = refusal({ PORTAL_PUBLIC_URL: value });
      expect(error.message, value).toMatch(/^Invalid configuration: PORTAL_PUBLIC_URL: .*\. Fix: /);
      expect(error.message, value).not.toContain('\n');
    }
  });

  it('reads PORTAL_FRAME_ANCESTORS as space-separated origins, and refuses what is not an origin', () => {
    const config = loadConfig({ PORTAL_FRAME_ANCESTORS: ' https://app.example.com  http://localhost:3000/ https://app.example.com ' });
    expect(config.portal.frameAncestors).toEqual(['https://app.example.com', 'http://localhost:3000']);
    for (const value of ['*', "'self'", 'app.example.com', 'https://app.example.com/dashboard', 'https://*.example.com', 'javascript:alert(1)', 'https://a.example.com;script-src *']) {
      const error = refusal({ PORTAL_FRAME_ANCESTORS: value });
      expect(error.message, value).toMatch(/^Invalid configuration: PORTAL_FRAME_ANCESTORS: ".*" is not an origin .*\. Fix: /);
      expect(error.message, value).not.toContain('\n');
    }
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
