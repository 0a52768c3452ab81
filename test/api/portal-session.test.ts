import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildSchema,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLInputType,
} from 'graphql';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PortalSessionSigner } from '../../src/auth/portal-session.js';
import { countRows, createEventType, createSubscription, publish, waitForDelivery } from '../support/graphql-helpers.js';
import { startTestHooklane, TEST_JWT_SECRET, type GraphQLResponse, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

const SCHEMA = buildSchema(readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schema.graphql'), 'utf8'));
const PUBLIC_URL = 'https://portal.example.test/hooks';

const CREATE = `mutation($input: CreatePortalSessionInput!) { createPortalSession(input: $input) { url token expiresAt } }`;
interface Session {
  url: string;
  token: string;
  expiresAt: string;
}

/** A GraphQL literal of the right type for an input value: enough to pass validation, nothing that must exist. */
function placeholder(type: GraphQLInputType): string {
  const inner = getNullableType(type);
  if (isListType(inner)) return `[${placeholder(inner.ofType)}]`;
  if (isEnumType(inner)) return inner.getValues()[0]!.name;
  if (isInputObjectType(inner)) {
    const required = Object.values(inner.getFields()).filter((field) => isNonNullType(field.type) && field.defaultValue === undefined);
    return `{ ${required.map((field) => `${field.name}: ${placeholder(field.type)}`).join(', ')} }`;
  }
  if (isScalarType(inner)) {
    switch (inner.name) {
      case 'Int':
      case 'Float':
        return '1';
      case 'Boolean':
        return 'true';
      case 'DateTime':
        return '"2000-01-01T00:00:00Z"';
      case 'JSON':
        return '{}';
      default:
        return '"placeholder"';
    }
  }
  throw new Error(`no placeholder for ${String(type)}`);
}

/** Every Mutation field of the schema, called with placeholder arguments and selecting `__typename`. */
function everyMutation(): { field: string; document: string }[] {
  return Object.values(SCHEMA.getMutationType()!.getFields()).map((field) => {
    const args = field.args.map((arg) => `${arg.name}: ${placeholder(arg.type)}`).join(', ');
    return { field: field.name, document: `mutation { ${field.name}(${args}) { __typename } }` };
  });
}

describe('createPortalSession', () => {
  let hooklane: TestHooklane;
  let receiver: TestReceiver;
  let tenant: { id: string; token: string };
  let other: { id: string; token: string };
  let subscriptionId: string;

  async function create(token: string, input: Record<string, unknown>): Promise<GraphQLResponse<{ createPortalSession: Session }>> {
    return hooklane.gql<{ createPortalSession: Session }>(token, CREATE, { input });
  }
  async function session(token: string, input: Record<string, unknown>): Promise<Session> {
    const response = await create(token, input);
    expect(response.errors).toBeUndefined();
    return response.data!.createPortalSession;
  }
  const codeOf = (response: GraphQLResponse) => response.errors?.[0]?.extensions?.code;
  const tenantOf = async (token: string) => (await hooklane.gql<{ tenant: { id: string } | null }>(token, '{ tenant { id } }'));

  beforeAll(async () => {
    hooklane = await startTestHooklane({ PORTAL_PUBLIC_URL: `${PUBLIC_URL}/` });
    receiver = await TestReceiver.start();
    tenant = await hooklane.createTenant('Portal Sessions');
    other = await hooklane.createTenant('Someone Else');
    await createEventType(hooklane, tenant.token, { name: 'order.placed' });
    subscriptionId = (await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.placed'] })).subscription.id;
    const event = await publish(hooklane, tenant.token, { eventType: 'order.placed', payload: { n: 1 } });
    await waitForDelivery(hooklane, tenant.token, event.deliveries[0]!.id, 'SUCCEEDED');
  });

  afterAll(async () => {
    await receiver?.close();
    await hooklane?.stop();
  });

  it('gives an admin token a session for any tenant: a tenant-bound token in the URL fragment, for 1 hour by default', async () => {
    const before = Date.now();
    const created = await session(hooklane.adminToken, { tenantId: other.id });
    expect(created.url).toBe(`${PUBLIC_URL}/portal/#session=${created.token}`);
    const claims = decodeJwt(created.token);
    expect(claims).toMatchObject({ tenant_id: other.id, hooklane_portal: true, scope: 'events:publish events:read subscriptions:read subscriptions:write' });
    expect(claims).not.toHaveProperty('read_only');
    expect(claims).not.toHaveProperty('roles');
    expect(typeof claims.iat).toBe('number');
    expect(claims.exp).toBe(new Date(created.expiresAt).getTime() / 1000);
    const lifetime = new Date(created.expiresAt).getTime() - before;
    expect(lifetime).toBeGreaterThan(3_600_000 - 5_000);
    expect(lifetime).toBeLessThanOrEqual(3_600_000);
    // The session is that tenant's, and acts as it.
    expect((await tenantOf(created.token)).data).toEqual({ tenant: { id: other.id } });
    const subscriptions = await hooklane.gql(created.token, '{ subscriptions(first: 5) { edges { node { id } } } }');
    expect(subscriptions.data).toEqual({ subscriptions: { edges: [] } });
  });

  it('gives a tenant token a session for its own tenant, tenantId omitted or named; another tenant is not found', async () => {
    const omitted = await session(tenant.token, {});
    expect((await tenantOf(omitted.token)).data).toEqual({ tenant: { id: tenant.id } });
    const named = await session(tenant.token, { tenantId: tenant.id, readOnly: true });
    expect(decodeJwt(named.token)).toMatchObject({ tenant_id: tenant.id, read_only: true });

    const audit = await countRows(hooklane, 'audit_log');
    const foreign = await create(tenant.token, { tenantId: other.id });
    expect(codeOf(foreign)).toBe('NOT_FOUND');
    expect(foreign.data).toBeNull();
    expect(await countRows(hooklane, 'audit_log')).toBe(audit);
    expect(codeOf(await create(hooklane.adminToken, { tenantId: 'ten_00000000000000000000000000000000' }))).toBe('NOT_FOUND');
    expect(codeOf(await create(hooklane.adminToken, {}))).toBe('BAD_USER_INPUT');
  });

  it('records who opened a session into which tenant in the audit log, without the token', async () => {
    const created = await session(tenant.token, { expiresIn: '10m' });
    const [entry] = await hooklane.sql<{ tenant_id: string; action: string; details: Record<string, unknown> }[]>`
      select tenant_id, action, details from audit_log where action = 'createPortalSession' order by created_at desc limit 1`;
    expect(entry).toMatchObject({ tenant_id: tenant.id, action: 'createPortalSession', details: { expiresIn: '10m' } });
    expect(JSON.stringify(entry)).not.toContain(created.token);
  });

  it('takes expiresIn up to 24h and refuses more, or a non-duration, with BAD_USER_INPUT', async () => {
    const before = Date.now();
    const day = await session(tenant.token, { expiresIn: '24h' });
    const lifetime = new Date(day.expiresAt).getTime() - before;
    expect(lifetime).toBeGreaterThan(86_400_000 - 5_000);
    expect(lifetime).toBeLessThanOrEqual(86_400_000);
    const beforeShort = Date.now();
    const short = await session(tenant.token, { expiresIn: '15m' });
    expect(new Date(short.expiresAt).getTime() - beforeShort).toBeLessThanOrEqual(900_000);
    for (const expiresIn of ['25h', '2d', '1441m', 'soon', '0s', '']) {
      const refused = await create(tenant.token, { expiresIn });
      expect(codeOf(refused), expiresIn).toBe('BAD_USER_INPUT');
      expect(refused.errors![0]!.extensions?.field, expiresIn).toBe('expiresIn');
    }
  });

  it('gives a scoped token only a read-only session with its own read scopes, never a wider one', async () => {
    const eventsReader = await hooklane.tenantToken(tenant.id, { scope: 'events:read' });
    const full = await create(eventsReader, {});
    expect(codeOf(full)).toBe('FORBIDDEN');
    expect(full.errors![0]!.message).toMatch(/readOnly: true/);
    const readOnly = await session(eventsReader, { readOnly: true });
    expect(decodeJwt(readOnly.token)).toMatchObject({ scope: 'events:read', read_only: true });
    expect((await hooklane.gql(readOnly.token, '{ events(first: 1) { edges { node { id } } } }')).errors).toBeUndefined();
    expect(codeOf(await hooklane.gql(readOnly.token, '{ subscriptions(first: 1) { edges { node { id } } } }'))).toBe('FORBIDDEN');

    const dashboard = await hooklane.tenantToken(tenant.id, { scope: 'events:read subscriptions:read' });
    expect(decodeJwt((await session(dashboard, { readOnly: true })).token).scope).toBe('events:read subscriptions:read');
    // No read right: no session at all (refused before the resolver, by field access).
    for (const scope of ['events:publish', 'subscriptions:write', 'events:publish subscriptions:write']) {
      const writer = await hooklane.tenantToken(tenant.id, { scope });
      expect(codeOf(await create(writer, { readOnly: true })), scope).toBe('FORBIDDEN');
    }
  });

  it('does not let a portal session start another one, or revoke the tenant’s tokens', async () => {
    const full = await session(tenant.token, {});
    const again = await create(full.token, {});
    expect(codeOf(again)).toBe('FORBIDDEN');
    expect(again.errors![0]!.message).toMatch(/cannot start another/);
    const revoke = await hooklane.gql(full.token, `mutation { revokeTokens(input: { tenantId: "${tenant.id}" }) { tenant { id } } }`);
    expect(codeOf(revoke)).toBe('FORBIDDEN');
  });

  it('refuses every Mutation field of the schema to a read-only session with FORBIDDEN, writing nothing', async () => {
    const readOnly = await session(tenant.token, { readOnly: true });
    const full = await session(tenant.token, {});
    const tables = ['tenants', 'event_types', 'subscriptions', 'events', 'deliveries', 'audit_log'];
    const counts = async () => Object.fromEntries(await Promise.all(tables.map(async (table) => [table, await countRows(hooklane, table)])));
    const before = await counts();
    const mutations = everyMutation();
    expect(mutations.length).toBeGreaterThan(20);
    for (const { field, document } of mutations) {
      const refused = await hooklane.gql(readOnly.token, document);
      expect(refused.status, field).toBe(403);
      expect(refused.errors, field).toHaveLength(1);
      expect(refused.errors![0]!.extensions?.code, field).toBe('FORBIDDEN');
      expect(refused.errors![0]!.extensions?.fields, field).toEqual([`Mutation.${field}`]);
      expect(refused.errors![0]!.message, field).toMatch(/read-only session/);
      // The same document from a full session is not refused for being read-only (it may fail otherwise).
      const fromFull = await hooklane.gql(full.token, document);
      expect(fromFull.errors?.[0]?.message ?? '', field).not.toMatch(/read-only session/);
    }
    // The full session's placeholders wrote what they could; undo nothing, but compare from here.
    const afterFull = await counts();
    for (const { document } of mutations) await hooklane.gql(readOnly.token, document);
    expect(await counts()).toEqual(afterFull);
    expect(before.subscriptions).toBeGreaterThan(0);

    // Looking is allowed: the overview, lists and stats.
    const look = await hooklane.gql(
      readOnly.token,
      `{ tenant { id stats { deliveries } } subscription(id: "${subscriptionId}") { id stats { deliveries } } events(first: 1) { edges { node { id } } } }`,
    );
    expect(look.errors).toBeUndefined();
    expect(look.data!.subscription.id).toBe(subscriptionId);
  });

  it('stops working when the tenant revokes its tokens', async () => {
    const full = await session(tenant.token, {});
    const readOnly = await session(tenant.token, { readOnly: true });
    expect((await tenantOf(full.token)).data).toEqual({ tenant: { id: tenant.id } });
    const revoked = await hooklane.gql(hooklane.adminToken, `mutation { revokeTokens(input: { tenantId: "${tenant.id}" }) { tenant { id } } }`);
    expect(revoked.errors).toBeUndefined();
    for (const token of [full.token, readOnly.token]) {
      const refused = await tenantOf(token);
      expect(refused.status).toBe(401);
      expect(codeOf(refused)).toBe('UNAUTHENTICATED');
    }
    // A session started since works.
    tenant.token = await hooklane.tenantToken(tenant.id);
    const fresh = await session(tenant.token, {});
    expect((await tenantOf(fresh.token)).data).toEqual({ tenant: { id: tenant.id } });
  });

  it('refuses a session token past its expiry with UNAUTHENTICATED', async () => {
    const signer = new PortalSessionSigner(TEST_JWT_SECRET, { issuer: undefined, audience: undefined, tenantClaim: 'tenant_id' });
    // Signed two hours ago for one hour (well past the minute of clock skew tokens are allowed).
    const { token, expiresAt } = await signer.sign(
      { tenantId: tenant.id, scopes: ['events:read'], readOnly: true, lifetimeMs: 3_600_000, createdBy: 'test' },
      Date.now() - 2 * 3_600_000,
    );
    expect(expiresAt.getTime()).toBeLessThan(Date.now() - 3_500_000);
    const refused = await tenantOf(token);
    expect(refused.status).toBe(401);
    expect(codeOf(refused)).toBe('UNAUTHENTICATED');
    expect(refused.errors![0]!.message).toMatch(/expired/);
  });
});
