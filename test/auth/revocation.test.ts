import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Hooklane } from '../../src/app.js';
import { tokenCommand } from '../../src/cli/token.js';
import { eventually, type GraphQLResponse, startSecondApi, startTestHooklane, TEST_JWT_SECRET, type TestHooklane } from '../support/hooklane.js';

// Contract (issue 22): revokeTokens(input: { tenantId, issuedBefore }) → { tenant }. The tenant's
// tokens whose `iat` is earlier than issuedBefore (default: now; no `iat` counts as time 0) are
// refused with UNAUTHENTICATED by every API process within 5 seconds, despite any memo of verified
// tokens. Admin tokens for any tenant; a tenant token without `scope` for its own.

const REVOKE = 'mutation($input: RevokeTokensInput!) { revokeTokens(input: $input) { tenant { id tokensRevokedBefore } } }';
const WHO = '{ tenant { id } }';
/**
 * The other process refuses a revoked token once its cached tenant state (at most 5 s old) is read
 * again: waited for as an event, with 2 s of margin for a busy machine. A behavioural bound, not a
 * measurement.
 */
const OTHER_PROCESS_DEADLINE_MS = 7_000;

let first: TestHooklane;
let second: Hooklane;
let secondGql: TestHooklane['gql'];

beforeAll(async () => {
  first = await startTestHooklane();
  // A second API process on the same database: what one process revokes, the other must refuse.
  ({ app: second, gql: secondGql } = await startSecondApi(first));
});

afterAll(async () => {
  await second?.stop();
  await first?.stop();
});

/** An HS256 tenant token with `iat` as given (seconds; undefined: no `iat` claim at all). */
function tokenIssuedAt(tenantId: string, iat: number | undefined): Promise<string> {
  let jwt = new SignJWT({ sub: `user-of-${tenantId}`, tenant_id: tenantId }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setExpirationTime('1h');
  if (iat !== undefined) jwt = jwt.setIssuedAt(iat);
  return jwt.sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

function accepted(response: GraphQLResponse, tenantId: string): boolean {
  return response.status === 200 && !response.errors && response.data?.tenant?.id === tenantId;
}

function expectAccepted(response: GraphQLResponse, tenantId: string): void {
  expect(accepted(response, tenantId), JSON.stringify(response)).toBe(true);
}

function expectUnauthenticated(response: GraphQLResponse): void {
  expect(response.status, JSON.stringify(response)).toBe(401);
  expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(response.data ?? null).toBeNull();
}

function errorCode(response: GraphQLResponse): string | undefined {
  expect(response.errors, JSON.stringify(response)).toHaveLength(1);
  expect(response.data?.revokeTokens ?? null).toBeNull();
  return response.errors![0]!.extensions?.code;
}

async function revokedBefore(tenantId: string): Promise<Date | null> {
  const [row] = await first.sql<{ cutoff: Date | null }[]>`select tokens_revoked_before as cutoff from tenants where id = ${tenantId}`;
  return row!.cutoff;
}

describe('revokeTokens', () => {
  it('refuses a revoked token in the revoking process at once and in the other within 5 s, memoised or not; newer tokens work', async () => {
    const tenant = await first.createTenant('revoked');
    const withoutIat = await tokenIssuedAt(tenant.id, undefined);
    // Used on both processes just before: each has verified it (memo) and cached the tenant.
    for (const gql of [first.gql, secondGql]) {
      expectAccepted(await gql(tenant.token, WHO), tenant.id);
      expectAccepted(await gql(withoutIat, WHO), tenant.id);
    }

    const revoked = await first.gql(first.adminToken, REVOKE, { input: { tenantId: tenant.id } });
    expect(revoked.errors, JSON.stringify(revoked.errors)).toBeUndefined();
    const cutoff = Date.parse(revoked.data!.revokeTokens.tenant.tokensRevokedBefore);
    expect(revoked.data!.revokeTokens.tenant.id).toBe(tenant.id);
    expect(Math.abs(cutoff - Date.now())).toBeLessThan(60_000);

    // The revoking process: at once, for the token with an `iat` and the one without (time 0).
    expectUnauthenticated(await first.gql(tenant.token, WHO));
    expectUnauthenticated(await first.gql(withoutIat, WHO));
    // The other process, which verified the token just before: once its tenant state is read again.
    await eventually(
      async () => ((await secondGql(tenant.token, WHO)).status === 401 ? true : undefined),
      OTHER_PROCESS_DEADLINE_MS,
      'the other API process to refuse the revoked token',
    );
    expectUnauthenticated(await secondGql(tenant.token, WHO));
    expectUnauthenticated(await secondGql(withoutIat, WHO));
    // Refused for mutations too, not only reads.
    expectUnauthenticated(await secondGql(tenant.token, 'mutation { createEventType(input: { name: "after.revocation" }) { eventType { id } } }'));

    // A token issued since works on both.
    const fresh = await first.tenantToken(tenant.id);
    expectAccepted(await first.gql(fresh, WHO), tenant.id);
    expectAccepted(await secondGql(fresh, WHO), tenant.id);
  });

  it('the development token command issues a token that works right after a revocation', async () => {
    const tenant = await first.createTenant('cli-after-revocation');
    const revoked = await first.gql(first.adminToken, REVOKE, { input: { tenantId: tenant.id } });
    expect(revoked.errors, JSON.stringify(revoked.errors)).toBeUndefined();
    expectUnauthenticated(await first.gql(tenant.token, WHO));

    const printed: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: unknown) => void printed.push(String(line)));
    vi.stubEnv('AUTH_JWT_SECRET', TEST_JWT_SECRET);
    try {
      expect(await tokenCommand(['--tenant', tenant.id, '--expires', '1h'])).toBe(0);
    } finally {
      vi.unstubAllEnvs();
      log.mockRestore();
    }
    expect(printed).toHaveLength(1);
    expectAccepted(await first.gql(printed[0]!, WHO), tenant.id);
    expectAccepted(await secondGql(printed[0]!, WHO), tenant.id);
  });

  it('refuses only tokens issued before an explicit issuedBefore, never moves it back, and audits the call', async () => {
    const tenant = await first.createTenant('cutoff');
    const nowSeconds = Date.now() / 1000;
    const old = await tokenIssuedAt(tenant.id, Math.floor(nowSeconds - 3_600));
    const recent = await tokenIssuedAt(tenant.id, Math.floor(nowSeconds - 60));
    const cutoff = new Date((nowSeconds - 600) * 1000);

    const revoked = await first.gql(first.adminToken, REVOKE, { input: { tenantId: tenant.id, issuedBefore: cutoff.toISOString() } });
    expect(revoked.errors, JSON.stringify(revoked.errors)).toBeUndefined();
    expect(Date.parse(revoked.data!.revokeTokens.tenant.tokensRevokedBefore)).toBe(cutoff.getTime());
    expectUnauthenticated(await first.gql(old, WHO));
    expectAccepted(await first.gql(recent, WHO), tenant.id);
    expectAccepted(await first.gql(tenant.token, WHO), tenant.id);

    // An earlier cutoff changes nothing: the old token stays refused.
    const earlier = await first.gql(first.adminToken, REVOKE, {
      input: { tenantId: tenant.id, issuedBefore: new Date(cutoff.getTime() - 86_400_000).toISOString() },
    });
    expect(Date.parse(earlier.data!.revokeTokens.tenant.tokensRevokedBefore)).toBe(cutoff.getTime());
    expectUnauthenticated(await first.gql(old, WHO));

    const audits = await first.sql<{ actor_role: string; target_id: string; details: { issuedBefore?: string } }[]>`
      select actor_role, target_id, details from audit_log where tenant_id = ${tenant.id} and action = 'revokeTokens' order by id`;
    expect(audits.map((entry) => [entry.actor_role, entry.target_id])).toEqual([
      ['admin', tenant.id],
      ['admin', tenant.id],
    ]);
    expect(Date.parse(audits[0]!.details.issuedBefore!)).toBe(cutoff.getTime());
  });

  it('refuses a cutoff more than 60 s ahead (BAD_USER_INPUT), writing nothing', async () => {
    const tenant = await first.createTenant('future-cutoff');
    const response = await first.gql(first.adminToken, REVOKE, {
      input: { tenantId: tenant.id, issuedBefore: new Date(Date.now() + 3_600_000).toISOString() },
    });
    expect(errorCode(response)).toBe('BAD_USER_INPUT');
    expect(response.errors![0]!.extensions?.field).toBe('issuedBefore');
    expect(await revokedBefore(tenant.id)).toBeNull();
    expectAccepted(await first.gql(tenant.token, WHO), tenant.id);
  });

  it('a tenant token without scope revokes its own tokens, itself included; scoped tokens and other tenants may not', async () => {
    const tenant = await first.createTenant('self-revoking');
    const other = await first.createTenant('bystander');
    const scoped = await first.tenantToken(tenant.id, { scope: 'events:publish events:read subscriptions:read subscriptions:write' });

    expect(errorCode(await first.gql(scoped, REVOKE, { input: { tenantId: tenant.id } }))).toBe('FORBIDDEN');
    // Another tenant is NOT_FOUND, exactly like a tenant nobody has.
    const foreign = await first.gql(other.token, REVOKE, { input: { tenantId: tenant.id } });
    const nobodys = await first.gql(other.token, REVOKE, { input: { tenantId: 'ten_00000000000000000000000000000000' } });
    expect(errorCode(foreign)).toBe('NOT_FOUND');
    expect(errorCode(nobodys)).toBe('NOT_FOUND');
    expect(foreign.errors![0]!.message.replace(tenant.id, '<id>')).toBe(nobodys.errors![0]!.message.replace('ten_00000000000000000000000000000000', '<id>'));
    expect(errorCode(await first.gql(first.adminToken, REVOKE, { input: { tenantId: 'ten_00000000000000000000000000000000' } }))).toBe('NOT_FOUND');
    expect(await revokedBefore(tenant.id)).toBeNull();
    expectAccepted(await first.gql(scoped, WHO), tenant.id);

    const own = await first.gql(tenant.token, REVOKE, { input: { tenantId: tenant.id } });
    expect(own.errors, JSON.stringify(own.errors)).toBeUndefined();
    expectUnauthenticated(await first.gql(tenant.token, WHO));
    expectUnauthenticated(await first.gql(scoped, WHO));
    // The other tenant's tokens are untouched.
    expectAccepted(await first.gql(other.token, WHO), other.id);
    const [audit] = await first.sql<{ actor_role: string }[]>`
      select actor_role from audit_log where tenant_id = ${tenant.id} and action = 'revokeTokens'`;
    expect(audit!.actor_role).toBe('tenant');
  });
});
