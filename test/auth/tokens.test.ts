import http from 'node:http';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type JWTPayload, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventType } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, type GraphQLResponse, type TestHooklane } from '../support/hooklane.js';

// Contract: AUTH_JWKS_URL verifies asymmetric tokens (RS256, ES256, EdDSA) from an identity
// provider; AUTH_ISSUER / AUTH_AUDIENCE are required when set; a missing, malformed, expired or
// wrongly signed token gets UNAUTHENTICATED (HTTP 401). A suspended or deleted tenant's tokens are refused.

const ISSUER = 'https://idp.test.invalid/';
const AUDIENCE = 'hooklane-tests';
const nowSeconds = () => Math.floor(Date.now() / 1000);
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

interface SigningKey {
  alg: 'RS256' | 'ES256' | 'EdDSA';
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

async function makeKey(alg: SigningKey['alg'], kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519', extractable: true } : { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, jwk };
}

const jwks: JWK[] = [];
let jwksFetches = 0;
const jwksServer = http.createServer((req, res) => {
  jwksFetches += 1;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ keys: jwks }));
});

let hooklane: TestHooklane;
let keys: Record<SigningKey['alg'], SigningKey>;
let adminToken: string;
let tenant: { id: string; token: string };

async function sign(
  key: SigningKey,
  claims: JWTPayload,
  options: { iss?: string | null; aud?: string | null; exp?: number } = {},
): Promise<string> {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' }).setIssuedAt();
  jwt = jwt.setExpirationTime(options.exp ?? nowSeconds() + 3600);
  if (options.iss !== null) jwt = jwt.setIssuer(options.iss ?? ISSUER);
  if (options.aud !== null) jwt = jwt.setAudience(options.aud ?? AUDIENCE);
  return jwt.sign(key.privateKey);
}

const tenantClaims = (tenantId: string): JWTPayload => ({ sub: `user-of-${tenantId}`, tenant_id: tenantId });
const QUERY = '{ tenant { id status } }';

async function expectAccepted(token: string, tenantId = tenant.id): Promise<void> {
  const response = await hooklane.gql(token, QUERY);
  expect(response.status, JSON.stringify(response)).toBe(200);
  expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
  expect(response.data?.tenant?.id).toBe(tenantId);
}

function expectUnauthenticated(response: GraphQLResponse): void {
  expect(response.status, JSON.stringify(response)).toBe(401);
  expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(response.data ?? null).toBeNull();
}

async function expectRefused(token: string): Promise<void> {
  expectUnauthenticated(await hooklane.gql(token, QUERY));
  expectUnauthenticated(await hooklane.gql(token, 'mutation { createEventType(input: { name: "sneaky.type" }) { eventType { id } } }'));
}

let lateKey: SigningKey;
let lateKeyAccepted: Promise<boolean>;

beforeAll(async () => {
  keys = {
    RS256: await makeKey('RS256', 'rsa-1'),
    ES256: await makeKey('ES256', 'ec-1'),
    EdDSA: await makeKey('EdDSA', 'ed-1'),
  };
  jwks.push(keys.RS256.jwk, keys.ES256.jwk, keys.EdDSA.jwk);
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const port = (jwksServer.address() as { port: number }).port;
  hooklane = await startTestHooklane({
    AUTH_JWT_SECRET: '',
    AUTH_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    AUTH_ISSUER: ISSUER,
    AUTH_AUDIENCE: AUDIENCE,
  });
  adminToken = await sign(keys.RS256, { sub: 'jwks-admin', roles: ['admin'] });
  const created = await hooklane.gql(adminToken, 'mutation { createTenant(input: { name: "jwks" }) { tenant { id } } }');
  expect(created.errors, JSON.stringify(created.errors)).toBeUndefined();
  const id = created.data!.createTenant.tenant.id as string;
  tenant = { id, token: await sign(keys.ES256, tenantClaims(id)) };

  // Key rotation at the identity provider: a key published after Hooklane fetched the JWKS.
  // Poll in the background while the other tests run (the refetch cooldown is 2 s); the last test
  // awaits the result. How soon it is accepted is test/auth/token-verifier.test.ts's, on a fake clock.
  lateKey = await makeKey('ES256', 'ec-2-published-late');
  jwks.push(lateKey.jwk);
  const lateToken = await sign(lateKey, tenantClaims(id));
  lateKeyAccepted = eventually(
    async () => {
      const response = await hooklane.gql(lateToken, QUERY);
      return response.status === 200 && !response.errors ? true : undefined;
    },
    40_000,
    'the late key to be accepted',
  );
  lateKeyAccepted.catch(() => {});
});

afterAll(async () => {
  await lateKeyAccepted?.catch(() => {});
  await hooklane?.stop();
  jwksServer.closeAllConnections();
  await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
});

describe('JWKS tokens', () => {
  it.each(['RS256', 'ES256', 'EdDSA'] as const)('accepts a %s token from the JWKS', async (alg) => {
    await expectAccepted(await sign(keys[alg], tenantClaims(tenant.id)));
  });

  it('accepts an admin token signed by the JWKS (no AUTH_JWT_SECRET set)', async () => {
    const response = await hooklane.gql(adminToken, '{ tenants(first: 5) { edges { node { id } } } }');
    expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
    expect(response.data!.tenants.edges.map((e: { node: { id: string } }) => e.node.id)).toContain(tenant.id);
  });

  it('refuses an HS256 token whose secret is the public key (algorithm confusion) or any secret', async () => {
    const pem = await exportSPKI(keys.RS256.publicKey);
    const claims = { ...tenantClaims(tenant.id), iss: ISSUER, aud: AUDIENCE };
    for (const secret of [pem, JSON.stringify(keys.RS256.jwk), keys.RS256.jwk.n!, 'test-secret-that-is-long-enough-for-hs256-0123456789']) {
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', kid: keys.RS256.kid, typ: 'JWT' })
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(secret));
      await expectRefused(token);
    }
  });

  it('refuses alg: none', async () => {
    const payload = { ...tenantClaims(tenant.id), iss: ISSUER, aud: AUDIENCE, iat: nowSeconds(), exp: nowSeconds() + 3600 };
    await expectRefused(`${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(payload)}.`);
    await expectRefused(`${base64url({ alg: 'none', kid: keys.RS256.kid })}.${base64url({ ...payload, roles: ['admin'] })}.`);
  });

  it('refuses a token signed by a key that is not in the JWKS, even with a known kid', async () => {
    const stranger = await makeKey('ES256', keys.ES256.kid);
    await expectRefused(await sign(stranger, tenantClaims(tenant.id)));
  });

  it('requires the configured issuer and audience', async () => {
    const claims = tenantClaims(tenant.id);
    await expectRefused(await sign(keys.RS256, claims, { aud: 'someone-else' }));
    await expectRefused(await sign(keys.RS256, claims, { iss: 'https://evil.test.invalid/' }));
    await expectRefused(await sign(keys.RS256, claims, { aud: null }));
    await expectRefused(await sign(keys.RS256, claims, { iss: null }));
    await expectAccepted(await sign(keys.RS256, claims));
  });

  it('refuses createPortalSession with FORBIDDEN and says why: without AUTH_JWT_SECRET there is no key to sign sessions with', async () => {
    const response = await hooklane.gql(
      adminToken,
      'mutation($input: CreatePortalSessionInput!) { createPortalSession(input: $input) { url token expiresAt } }',
      { input: { tenantId: tenant.id } },
    );
    expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(response.errors?.[0]?.message).toMatch(/AUTH_JWT_SECRET.*AUTH_JWKS_URL/);
    expect(response.data).toBeNull();
  });

  it('allows 60 s of clock skew on exp, no more', async () => {
    const claims = tenantClaims(tenant.id);
    await expectAccepted(await sign(keys.EdDSA, claims, { exp: nowSeconds() - 30 }));
    await expectRefused(await sign(keys.EdDSA, claims, { exp: nowSeconds() - 120 }));
  });
});

describe('tenant status and tokens', () => {
  const SUSPEND = 'mutation($input: SuspendTenantInput!) { suspendTenant(input: $input) { tenant { id status } } }';
  const RESUME = 'mutation($input: ResumeTenantInput!) { resumeTenant(input: $input) { tenant { id status } } }';

  it('refuses a suspended tenant’s token at once, and accepts it again after resumeTenant', async () => {
    const created = await hooklane.gql(adminToken, 'mutation { createTenant(input: { name: "to-suspend" }) { tenant { id } } }');
    const id = created.data!.createTenant.tenant.id as string;
    const token = await sign(keys.RS256, tenantClaims(id));
    await expectAccepted(token, id);
    await createEventType(hooklane, token, { name: 'before.suspension' });

    const suspended = await hooklane.gql(adminToken, SUSPEND, { input: { id } });
    expect(suspended.errors, JSON.stringify(suspended.errors)).toBeUndefined();
    expect(suspended.data!.suspendTenant.tenant.status).toBe('SUSPENDED');
    // The suspension went through this process, which forgets its cached tenant: no 5 s window.
    await expectRefused(token);
    await expectRefused(await sign(keys.ES256, tenantClaims(id)));
    const [types] = await hooklane.sql<{ count: number }[]>`select count(*)::int as count from event_types where tenant_id = ${id}`;
    expect(types!.count).toBe(1);

    // An admin acting for the suspended tenant cannot publish for it either.
    const adminPublish = await hooklane.gql(
      adminToken,
      'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }',
      { input: { tenantId: id, eventType: 'before.suspension', payload: {} } },
    );
    expect(adminPublish.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    const resumed = await hooklane.gql(adminToken, RESUME, { input: { id } });
    expect(resumed.data!.resumeTenant.tenant.status).toBe('ACTIVE');
    await expectAccepted(token, id);
  });

  it('refuses a deleted tenant’s token', async () => {
    const created = await hooklane.gql(adminToken, 'mutation { createTenant(input: { name: "to-delete" }) { tenant { id } } }');
    const id = created.data!.createTenant.tenant.id as string;
    const token = await sign(keys.EdDSA, tenantClaims(id));
    await expectAccepted(token, id);
    const deleted = await hooklane.gql(adminToken, 'mutation($input: DeleteTenantInput!) { deleteTenant(input: $input) { id } }', {
      input: { id },
    });
    expect(deleted.data?.deleteTenant.id).toBe(id);
    await expectRefused(token);
  });
});

describe('JWKS key rotation', () => {
  it('accepts a token with a kid published after start (refresh on unknown kid)', async () => {
    expect(await lateKeyAccepted).toBe(true);
    // The key set was fetched again for it (at start-up, then for the unknown kid).
    expect(jwksFetches).toBeGreaterThanOrEqual(2);
    await expectAccepted(await sign(lateKey, tenantClaims(tenant.id)));
  }, 50_000);
});
