import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_EVENT_TYPE_LIST } from '../../src/publish/built-in-event-types.js';
import { createEventType, createSubscription, publish, waitForDelivery } from '../support/graphql-helpers.js';
import { startTestHooklane, tenantIdle, type GraphQLResponse, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

// "Another tenant's object behaves exactly as if it did not exist." Tenant B's token is pointed at
// every query and mutation of the schema with tenant A's ids and names; A's rows must not move.

const SCHEMA_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schema.graphql');
const CONTRACT_CODES = ['UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT', 'CONFLICT', 'QUOTA_EXCEEDED'];

interface TenantFixture {
  id: string;
  token: string;
  receiver: TestReceiver;
  eventTypeId: string;
  subscriptionId: string;
  eventId: string;
  deliveryId: string;
}

let hooklane: TestHooklane;
let a: TenantFixture;
let b: TenantFixture;
/** Everything of tenant A in the database, taken once A and B are set up. */
let aSnapshot: unknown;

async function tenantRows(tenantId: string) {
  const { sql } = hooklane;
  return {
    tenant: await sql`select * from tenants where id = ${tenantId}`,
    eventTypes: await sql`select * from event_types where tenant_id = ${tenantId} order by id`,
    subscriptions: await sql`select * from subscriptions where tenant_id = ${tenantId} order by id`,
    events: await sql`select * from events where tenant_id = ${tenantId} order by id`,
    deliveries: await sql`select * from deliveries where tenant_id = ${tenantId} order by id`,
    attempts: await sql`select * from delivery_attempts where tenant_id = ${tenantId} order by id`,
    stats: await sql`select * from delivery_stats where tenant_id = ${tenantId} order by subscription_id, bucket_start`,
  };
}

async function jobCount(): Promise<number> {
  const [row] = await hooklane.sql<{ count: number }[]>`select count(*)::int as count from graphile_worker.jobs`;
  return row!.count;
}

/** The single error of a refused operation, checked to carry a contract code and no data. */
function refusal(response: GraphQLResponse, field: string): { code: string; message: string } {
  expect(response.errors, JSON.stringify(response)).toHaveLength(1);
  const [error] = response.errors!;
  expect(CONTRACT_CODES).toContain(error!.extensions?.code);
  expect(response.data?.[field] ?? null).toBeNull();
  return { code: error!.extensions!.code!, message: error!.message };
}

/** A's rows are exactly as they were, and no job was queued. */
async function expectAUntouched(jobsBefore: number) {
  expect(await tenantRows(a.id)).toEqual(aSnapshot);
  expect(await jobCount()).toBe(jobsBefore);
}

/** An id shaped like `real` that exists nowhere, to compare "someone else's" with "nobody's". */
function unknownIdLike(real: string): string {
  return `${real.slice(0, 4)}${'0'.repeat(real.length - 4)}`;
}

async function setUpTenant(name: string, eventTypeName: string, idempotencyKey: string): Promise<TenantFixture> {
  const tenant = await hooklane.createTenant(name);
  const receiver = await TestReceiver.start();
  const eventType = await createEventType(hooklane, tenant.token, {
    name: eventTypeName,
    schema: { type: 'object', required: ['amount'], properties: { amount: { type: 'integer' } } },
  });
  const { subscription } = await createSubscription(hooklane, tenant.token, {
    url: receiver.url,
    eventTypes: [eventTypeName],
    description: `${name}'s subscription`,
  });
  const event = await publish(hooklane, tenant.token, { eventType: eventTypeName, payload: { amount: 1 }, idempotencyKey });
  expect(event.deliveries).toHaveLength(1);
  const deliveryId = event.deliveries[0]!.id;
  // Let the delivery settle so that its row only changes if someone changes it.
  await waitForDelivery(hooklane, tenant.token, deliveryId, 'SUCCEEDED');
  return {
    id: tenant.id,
    token: tenant.token,
    receiver,
    eventTypeId: eventType.id,
    subscriptionId: subscription.id,
    eventId: event.id,
    deliveryId,
  };
}

const SUBSCRIPTION_FIELDS = 'id url eventTypes description enabled';
const EVENT_FIELDS = 'id eventType payload deliveries(first: 10) { id status subscription { id url } }';

/**
 * One case per Query and Mutation field of the schema; the schema walk below fails when a field
 * has no case here, so a new field cannot escape this test.
 */
const queryCases: Record<string, () => Promise<void>> = {
  async tenant() {
    const own = await hooklane.gql(b.token, '{ tenant { id name stats { deliveries succeeded attempts } } }');
    expect(own.errors).toBeUndefined();
    // B's one delivery, never A's.
    expect(own.data!.tenant).toEqual({ id: b.id, name: 'Tenant B', stats: { deliveries: 1, succeeded: 1, attempts: 1 } });
  },

  async tenants() {
    const response = await hooklane.gql(b.token, '{ tenants(first: 10) { edges { node { id name } } } }');
    expect(refusal(response, 'tenants').code).toBe('FORBIDDEN');
    expect(JSON.stringify(response)).not.toContain(a.id);
  },

  async eventTypes() {
    const response = await hooklane.gql(b.token, '{ eventTypes(first: 100) { edges { node { id name } } } }');
    expect(response.errors).toBeUndefined();
    const ids = response.data!.eventTypes.edges.map((edge: { node: { id: string } }) => edge.node.id);
    const own = await hooklane.sql<{ id: string }[]>`select id from event_types where tenant_id = ${b.id} order by id desc`;
    // B's own, then the built-in ones every tenant has.
    expect(ids).toEqual([...own.map((row) => row.id), ...BUILT_IN_EVENT_TYPE_LIST.map((builtIn) => builtIn.id)]);
    expect(ids).toContain(b.eventTypeId);
    expect(ids).not.toContain(a.eventTypeId);
    const archived = await hooklane.gql(b.token, '{ eventTypes(first: 100, includeArchived: true) { edges { node { id } } } }');
    expect(archived.data!.eventTypes.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual(ids);
  },

  async eventCatalog() {
    const response = await hooklane.gql(b.token, '{ eventCatalog }');
    expect(response.errors).toBeUndefined();
    const { webhooks } = response.data!.eventCatalog;
    expect(Object.keys(webhooks).sort()).toEqual(['b.created', ...BUILT_IN_EVENT_TYPE_LIST.map((builtIn) => builtIn.name)].sort());
    expect(JSON.stringify(response.data)).not.toContain('a.only');
    expect(JSON.stringify(response.data)).not.toContain(a.eventTypeId);
  },

  async subscription() {
    const foreign = await hooklane.gql(b.token, `query($id: ID!) { subscription(id: $id) { ${SUBSCRIPTION_FIELDS} stats { deliveries } } }`, {
      id: a.subscriptionId,
    });
    expect(foreign).toEqual({ status: 200, data: { subscription: null } });
    const own = await hooklane.gql(b.token, `query($id: ID!) { subscription(id: $id) { id } }`, { id: b.subscriptionId });
    expect(own.data!.subscription).toEqual({ id: b.subscriptionId });
  },

  async subscriptions() {
    const response = await hooklane.gql(b.token, `{ subscriptions(first: 100) { edges { node { ${SUBSCRIPTION_FIELDS} } } } }`);
    expect(response.errors).toBeUndefined();
    const ids = response.data!.subscriptions.edges.map((edge: { node: { id: string } }) => edge.node.id);
    const own = await hooklane.sql<{ id: string }[]>`select id from subscriptions where tenant_id = ${b.id} order by id desc`;
    expect(ids).toEqual(own.map((row) => row.id));
    expect(ids).toContain(b.subscriptionId);
    expect(ids).not.toContain(a.subscriptionId);
  },

  async event() {
    const foreign = await hooklane.gql(b.token, `query($id: ID!) { event(id: $id) { ${EVENT_FIELDS} } }`, { id: a.eventId });
    expect(foreign).toEqual({ status: 200, data: { event: null } });
    // B's own event shows only B's deliveries, to B's subscription.
    const own = await hooklane.gql(b.token, `query($id: ID!) { event(id: $id) { ${EVENT_FIELDS} } }`, { id: b.eventId });
    expect(own.data!.event.deliveries).toEqual([
      { id: b.deliveryId, status: 'SUCCEEDED', subscription: { id: b.subscriptionId, url: b.receiver.url } },
    ]);
  },

  async events() {
    const response = await hooklane.gql(b.token, `{ events(first: 100) { edges { node { ${EVENT_FIELDS} } } } }`);
    expect(response.errors).toBeUndefined();
    const nodes = response.data!.events.edges.map((edge: { node: { id: string } }) => edge.node);
    const own = await hooklane.sql<{ id: string }[]>`select id from events where tenant_id = ${b.id} order by id desc`;
    expect(nodes.map((node: { id: string }) => node.id)).toEqual(own.map((row) => row.id));
    expect(JSON.stringify(nodes)).not.toContain(a.eventId);
    expect(JSON.stringify(nodes)).not.toContain(a.deliveryId);
    expect(JSON.stringify(nodes)).not.toContain(a.subscriptionId);
  },

  async delivery() {
    const foreign = await hooklane.gql(
      b.token,
      'query($id: ID!) { delivery(id: $id) { id status attempts { id } subscription { id } event { id } } }',
      { id: a.deliveryId },
    );
    expect(foreign).toEqual({ status: 200, data: { delivery: null } });
    const own = await hooklane.gql(b.token, 'query($id: ID!) { delivery(id: $id) { id event { id } } }', { id: b.deliveryId });
    expect(own.data!.delivery).toEqual({ id: b.deliveryId, event: { id: b.eventId } });
  },

  async deliveries() {
    const query = 'query($filter: DeliveryFilter) { deliveries(first: 100, filter: $filter) { edges { node { id subscriptionId event { id } } } } }';
    const all = await hooklane.gql(b.token, query, { filter: null });
    expect(all.errors).toBeUndefined();
    const own = await hooklane.sql<{ id: string }[]>`select id from deliveries where tenant_id = ${b.id} order by id desc`;
    expect(all.data!.deliveries.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual(own.map((row) => row.id));
    expect(JSON.stringify(all.data)).not.toContain(a.deliveryId);
    // A's subscription, or A's event type, as a filter: nothing, as for a subscription nobody has.
    for (const filter of [{ subscriptionId: a.subscriptionId }, { subscriptionId: unknownIdLike(a.subscriptionId) }, { eventTypes: ['a.only'] }]) {
      expect(await hooklane.gql(b.token, query, { filter })).toEqual({ status: 200, data: { deliveries: { edges: [] } } });
    }
    const events = await hooklane.gql(b.token, 'query($filter: EventFilter) { events(filter: $filter) { edges { node { id } } } }', {
      filter: { subscriptionId: a.subscriptionId },
    });
    expect(events).toEqual({ status: 200, data: { events: { edges: [] } } });
  },

  async auditLog() {
    // Both tenants made management mutations; each log holds only its own tenant's entries.
    const seen = await hooklane.gql(b.token, '{ auditLog(first: 100) { edges { node { id action targetId } } } }');
    expect(seen.errors).toBeUndefined();
    const ids = seen.data!.auditLog.edges.map((edge: { node: { id: string } }) => edge.node.id);
    const rows = await hooklane.sql`select id from audit_log where tenant_id = ${b.id} order by id desc`;
    expect(ids).toEqual(rows.map((row) => row.id));
    expect(ids.length).toBeGreaterThan(0);
    const [aCount] = await hooklane.sql`select count(*)::int as count from audit_log where tenant_id = ${a.id}`;
    expect(aCount!.count).toBeGreaterThan(0);
  },
};

/** Runs `mutation` on A's id and on an id nobody has: both must be the same NOT_FOUND. */
async function expectNotFoundLikeNobodys(field: string, inputType: string, input: Record<string, unknown>, idOfA: string) {
  const jobsBefore = await jobCount();
  const selections: Record<string, string> = { deleteSubscription: 'id', retryDelivery: 'delivery { id }', replayEvent: 'event { id }', expungeEventPayload: 'event { id }' };
  const selection = selections[field] ?? 'subscription { id }';
  const query = `mutation($input: ${inputType}!) { ${field}(input: $input) { ${selection} } }`;
  const foreign = refusal(await hooklane.gql(b.token, query, { input: { ...input, id: idOfA } }), field);
  expect(foreign.code).toBe('NOT_FOUND');
  const nobodys = unknownIdLike(idOfA);
  const missing = refusal(await hooklane.gql(b.token, query, { input: { ...input, id: nobodys } }), field);
  expect(missing.code).toBe('NOT_FOUND');
  expect(foreign.message.replaceAll(idOfA, '<id>')).toBe(missing.message.replaceAll(nobodys, '<id>'));
  await expectAUntouched(jobsBefore);
}

/** Operator mutations on A with B's tenant token: FORBIDDEN, and A is untouched. */
async function expectForbiddenForTenantToken(field: string, inputType: string, input: Record<string, unknown>, selection: string) {
  const jobsBefore = await jobCount();
  const [before] = await hooklane.sql`select * from tenants where id = ${a.id}`;
  const response = await hooklane.gql(b.token, `mutation($input: ${inputType}!) { ${field}(input: $input) { ${selection} } }`, { input });
  expect(refusal(response, field).code).toBe('FORBIDDEN');
  const [after] = await hooklane.sql`select * from tenants where id = ${a.id}`;
  expect(after).toEqual(before);
  await expectAUntouched(jobsBefore);
}

const mutationCases: Record<string, () => Promise<void>> = {
  async createTenant() {
    const before = await hooklane.sql`select id from tenants order by id`;
    const response = await hooklane.gql(b.token, 'mutation { createTenant(input: { name: "Mallory" }) { tenant { id } } }');
    expect(refusal(response, 'createTenant').code).toBe('FORBIDDEN');
    expect(await hooklane.sql`select id from tenants order by id`).toEqual(before);
  },

  async suspendTenant() {
    await expectForbiddenForTenantToken('suspendTenant', 'SuspendTenantInput', { id: a.id }, 'tenant { id }');
  },

  async resumeTenant() {
    await expectForbiddenForTenantToken('resumeTenant', 'ResumeTenantInput', { id: a.id }, 'tenant { id }');
  },

  async deleteTenant() {
    await expectForbiddenForTenantToken('deleteTenant', 'DeleteTenantInput', { id: a.id }, 'id');
  },

  async updateTenantQuotas() {
    await expectForbiddenForTenantToken('updateTenantQuotas', 'UpdateTenantQuotasInput', { tenantId: a.id, subscriptions: 1 }, 'tenant { id }');
  },

  async createPortalSession() {
    // B's token starts sessions for B only: A is NOT_FOUND like a tenant nobody has, and no session for A exists.
    const query = 'mutation($input: CreatePortalSessionInput!) { createPortalSession(input: $input) { url token expiresAt } }';
    for (const readOnly of [false, true]) {
      const foreign = refusal(await hooklane.gql(b.token, query, { input: { tenantId: a.id, readOnly } }), 'createPortalSession');
      const nobodys = unknownIdLike(a.id);
      const missing = refusal(await hooklane.gql(b.token, query, { input: { tenantId: nobodys, readOnly } }), 'createPortalSession');
      expect(foreign.code).toBe('NOT_FOUND');
      expect(missing.code).toBe('NOT_FOUND');
      expect(foreign.message.replaceAll(a.id, '<id>')).toBe(missing.message.replaceAll(nobodys, '<id>'));
    }
    // B's own session sees B's tenant, never A's objects.
    const own = await hooklane.gql<{ createPortalSession: { token: string } }>(b.token, query, { input: {} });
    expect(own.errors).toBeUndefined();
    const session = own.data!.createPortalSession.token;
    expect((await hooklane.gql(session, '{ tenant { id } }')).data).toEqual({ tenant: { id: b.id } });
    const peek = await hooklane.gql(session, `{ subscription(id: "${a.subscriptionId}") { id } }`);
    expect(peek.data).toEqual({ subscription: null });
  },

  async revokeTokens() {
    // B's token, unscoped, may revoke only B's own tokens: A is NOT_FOUND like a tenant nobody has.
    const jobsBefore = await jobCount();
    const query = 'mutation($input: RevokeTokensInput!) { revokeTokens(input: $input) { tenant { id } } }';
    const foreign = refusal(await hooklane.gql(b.token, query, { input: { tenantId: a.id } }), 'revokeTokens');
    const nobodys = unknownIdLike(a.id);
    const missing = refusal(await hooklane.gql(b.token, query, { input: { tenantId: nobodys } }), 'revokeTokens');
    expect(foreign.code).toBe('NOT_FOUND');
    expect(missing.code).toBe('NOT_FOUND');
    expect(foreign.message.replaceAll(a.id, '<id>')).toBe(missing.message.replaceAll(nobodys, '<id>'));
    await expectAUntouched(jobsBefore);
    const stillIn = await hooklane.gql(a.token, '{ tenant { id } }');
    expect(stillIn.data?.tenant?.id, JSON.stringify(stillIn)).toBe(a.id);
  },

  async createEventType() {
    // A has invoice.paid; B does not, so B can neither publish to it nor subscribe to it...
    const jobsBefore = await jobCount();
    const publishForeign = await hooklane.gql(
      b.token,
      'mutation { publishEvent(input: { eventType: "invoice.paid", payload: { amount: 2 } }) { event { id } } }',
    );
    expect(refusal(publishForeign, 'publishEvent').code).toBe('BAD_USER_INPUT');
    await expectAUntouched(jobsBefore);
    expect(a.receiver.requests).toHaveLength(1);

    // ...until B declares its own invoice.paid: allowed, and independent of A's (no schema here).
    const own = await createEventType(hooklane, b.token, { name: 'invoice.paid' });
    expect(own.id).not.toBe(a.eventTypeId);
    expect(own.schema).toBeNull();
    const published = await publish(hooklane, b.token, { eventType: 'invoice.paid', payload: { amount: 'not an integer' } });
    expect(published.deliveries).toEqual([]);
    const [row] = await hooklane.sql`select tenant_id from events where id = ${published.id}`;
    expect(row!.tenant_id).toBe(b.id);
    await expectAUntouched(jobsBefore);
    expect(a.receiver.requests).toHaveLength(1);
  },

  async updateEventType() {
    // B names A's event type: it is nobody's as far as B can tell.
    const jobsBefore = await jobCount();
    const query = 'mutation($input: UpdateEventTypeInput!) { updateEventType(input: $input) { eventType { id } } }';
    const foreign = refusal(await hooklane.gql(b.token, query, { input: { name: 'a.only', schema: { type: 'string' }, deprecated: true } }), 'updateEventType');
    const nobodys = refusal(await hooklane.gql(b.token, query, { input: { name: 'n.one', schema: { type: 'string' }, deprecated: true } }), 'updateEventType');
    expect([foreign.code, nobodys.code]).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    expect(foreign.message.replace('a.only', '<name>')).toBe(nobodys.message.replace('n.one', '<name>'));
    await expectAUntouched(jobsBefore);
  },

  async archiveEventType() {
    const jobsBefore = await jobCount();
    const query = 'mutation($input: ArchiveEventTypeInput!) { archiveEventType(input: $input) { eventType { id } } }';
    expect(refusal(await hooklane.gql(b.token, query, { input: { name: 'a.only' } }), 'archiveEventType').code).toBe('NOT_FOUND');
    await expectAUntouched(jobsBefore);
    // A can still publish it.
    const [row] = await hooklane.sql`select archived_at from event_types where tenant_id = ${a.id} and name = 'a.only'`;
    expect(row!.archived_at).toBeNull();
  },

  async sendTestEvent() {
    const jobsBefore = await jobCount();
    const query = 'mutation($input: SendTestEventInput!) { sendTestEvent(input: $input) { delivery { id } } }';
    const foreign = refusal(await hooklane.gql(b.token, query, { input: { subscriptionId: a.subscriptionId } }), 'sendTestEvent');
    const nobodys = unknownIdLike(a.subscriptionId);
    const missing = refusal(await hooklane.gql(b.token, query, { input: { subscriptionId: nobodys } }), 'sendTestEvent');
    expect([foreign.code, missing.code]).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    expect(foreign.message.replaceAll(a.subscriptionId, '<id>')).toBe(missing.message.replaceAll(nobodys, '<id>'));
    await expectAUntouched(jobsBefore);
    expect(a.receiver.requests).toHaveLength(1);
  },

  async createSubscription() {
    const jobsBefore = await jobCount();
    const subscriptionsOfB = await hooklane.sql`select id from subscriptions where tenant_id = ${b.id}`;
    const response = await hooklane.gql(
      b.token,
      'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { id } secret } }',
      { input: { url: b.receiver.url, eventTypes: ['a.only'] } },
    );
    expect(refusal(response, 'createSubscription').code).toBe('BAD_USER_INPUT');
    expect(await hooklane.sql`select id from subscriptions where tenant_id = ${b.id}`).toEqual(subscriptionsOfB);
    await expectAUntouched(jobsBefore);
  },

  async updateSubscription() {
    await expectNotFoundLikeNobodys(
      'updateSubscription',
      'UpdateSubscriptionInput',
      { url: b.receiver.url, eventTypes: ['b.created'], description: 'taken over', enabled: false, filter: { 'data.amount': 0 } },
      a.subscriptionId,
    );
    const [row] = await hooklane.sql`select url, enabled, description, event_types from subscriptions where id = ${a.subscriptionId}`;
    expect(row).toEqual({ url: a.receiver.url, enabled: true, description: "Tenant A's subscription", event_types: ['invoice.paid', 'a.only'] });
  },

  async deleteSubscription() {
    await expectNotFoundLikeNobodys('deleteSubscription', 'DeleteSubscriptionInput', {}, a.subscriptionId);
    const rows = await hooklane.sql`select id from subscriptions where id = ${a.subscriptionId}`;
    expect(rows).toHaveLength(1);
  },

  async rotateSubscriptionSecret() {
    const [before] = await hooklane.sql`select secrets from subscriptions where id = ${a.subscriptionId}`;
    await expectNotFoundLikeNobodys('rotateSubscriptionSecret', 'RotateSubscriptionSecretInput', {}, a.subscriptionId);
    const [after] = await hooklane.sql`select secrets from subscriptions where id = ${a.subscriptionId}`;
    expect(after!.secrets).toEqual(before!.secrets);
  },

  async retryDelivery() {
    await expectNotFoundLikeNobodys('retryDelivery', 'RetryDeliveryInput', {}, a.deliveryId);
    const [row] = await hooklane.sql`select status, attempt_count, next_attempt_at from deliveries where id = ${a.deliveryId}`;
    expect(row).toEqual({ status: 'SUCCEEDED', attempt_count: 1, next_attempt_at: null });
    const jobs = await hooklane.sql`select id from graphile_worker.jobs where key = ${`deliver:${a.deliveryId}`}`;
    expect(jobs).toHaveLength(0);
    await tenantIdle(hooklane, a.id);
    expect(a.receiver.requests).toHaveLength(1);
  },

  async publishEvents() {
    const jobsBefore = await jobCount();
    const query = 'mutation($input: PublishEventsInput!) { publishEvents(input: $input) { events { id } } }';
    const named = await hooklane.gql(b.token, query, { input: { tenantId: a.id, events: [{ eventType: 'a.only', payload: {} }] } });
    expect(refusal(named, 'publishEvents').code).toBe('FORBIDDEN');
    // One event of the batch names A's event type: the whole batch is refused and nothing is written.
    const eventsOfB = await hooklane.sql`select id from events where tenant_id = ${b.id}`;
    const mixed = await hooklane.gql(b.token, query, {
      input: { events: [{ eventType: 'b.created', payload: {} }, { eventType: 'a.only', payload: {} }] },
    });
    expect(refusal(mixed, 'publishEvents').code).toBe('BAD_USER_INPUT');
    expect(await hooklane.sql`select id from events where tenant_id = ${b.id}`).toEqual(eventsOfB);
    await expectAUntouched(jobsBefore);
  },

  async replayEvent() {
    await expectNotFoundLikeNobodys('replayEvent', 'ReplayEventInput', {}, a.eventId);
    // B's own event replayed to A's subscription: that subscription does not exist for B.
    const own = await hooklane.sql`select id from events where tenant_id = ${b.id} order by id limit 1`;
    const jobsBefore = await jobCount();
    const response = await hooklane.gql(
      b.token,
      'mutation($input: ReplayEventInput!) { replayEvent(input: $input) { deliveries { id } } }',
      { input: { id: own[0]!.id, subscriptionIds: [a.subscriptionId] } },
    );
    expect(refusal(response, 'replayEvent').code).toBe('NOT_FOUND');
    await expectAUntouched(jobsBefore);
  },

  async expungeEventPayload() {
    await expectNotFoundLikeNobodys('expungeEventPayload', 'ExpungeEventPayloadInput', {}, a.eventId);
  },

  async recoverSubscription() {
    await expectNotFoundLikeNobodys('recoverSubscription', 'RecoverSubscriptionInput', { since: '2020-01-01T00:00:00Z' }, a.subscriptionId);
  },

  async retryDeliveries() {
    const jobsBefore = await jobCount();
    const query = 'mutation($input: RetryDeliveriesInput!) { retryDeliveries(input: $input) { count } }';
    // A's succeeded delivery, named by A's subscription: B re-sends nothing of A's.
    for (const dryRun of [true, false]) {
      const foreign = await hooklane.gql(b.token, query, { input: { filter: { subscriptionId: a.subscriptionId, status: 'SUCCEEDED' }, dryRun } });
      expect(foreign).toEqual({ status: 200, data: { retryDeliveries: { count: 0 } } });
    }
    await expectAUntouched(jobsBefore);
    await tenantIdle(hooklane, a.id);
    expect(a.receiver.requests).toHaveLength(1);
  },

  async discardHeldDeliveries() {
    const jobsBefore = await jobCount();
    const query = 'mutation($input: DiscardHeldDeliveriesInput!) { discardHeldDeliveries(input: $input) { discardedCount } }';
    const foreign = await hooklane.gql(b.token, query, { input: { subscriptionId: a.subscriptionId } });
    expect(refusal(foreign, 'discardHeldDeliveries').code).toBe('NOT_FOUND');
    await expectAUntouched(jobsBefore);
  },

  async previewSubscriptionFilter() {
    const jobsBefore = await jobCount();
    const query = 'mutation($input: PreviewSubscriptionFilterInput!) { previewSubscriptionFilter(input: $input) { examined matched } }';
    // A's event types do not exist for B.
    const foreign = await hooklane.gql(b.token, query, { input: { filter: { 'data.amount': 1 }, eventTypes: ['a.only'] } });
    expect(refusal(foreign, 'previewSubscriptionFilter').code).toBe('BAD_USER_INPUT');
    // Over every type B has, a filter that A's events match too: only B's own events are counted.
    const own = await hooklane.gql(b.token, query, { input: { filter: { 'data.amount': { $exists: true } }, eventTypes: ['*'], last: 1000 } });
    expect(own.errors).toBeUndefined();
    const [count] = await hooklane.sql<{ all: number; matching: number }[]>`
      select count(*)::int as all, count(*) filter (where body::jsonb #> '{data,amount}' is not null)::int as matching
      from events where tenant_id = ${b.id} and event_type not like 'hooklane.%'`;
    expect(count!.matching).toBeGreaterThan(0);
    expect(own.data!.previewSubscriptionFilter).toEqual({ examined: count!.all, matched: count!.matching });
    await expectAUntouched(jobsBefore);
  },

  async publishEvent() {
    const jobsBefore = await jobCount();
    // A tenant token may not name a tenant, not even to publish to an event type B also has.
    const named = await hooklane.gql(
      b.token,
      'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }',
      { input: { eventType: 'a.only', payload: { amount: 3 }, tenantId: a.id } },
    );
    expect(refusal(named, 'publishEvent').code).toBe('FORBIDDEN');
    await expectAUntouched(jobsBefore);

    // A's idempotency key means nothing in B: B gets a new event of its own, not A's.
    const reused = await publish(hooklane, b.token, { eventType: 'b.created', payload: { amount: 4 }, idempotencyKey: 'key-a' });
    expect(reused.id).not.toBe(a.eventId);
    expect(reused.payload).toEqual({ amount: 4 });
    expect(reused.deliveries).toHaveLength(1);
    await waitForDelivery(hooklane, b.token, reused.deliveries[0]!.id, 'SUCCEEDED');
    expect(await tenantRows(a.id)).toEqual(aSnapshot);
    expect(a.receiver.requests).toHaveLength(1);

    // An admin token naming A publishes for A, to A's subscription only.
    const bRequestsBefore = b.receiver.requests.length;
    const asAdmin = await publish(hooklane, hooklane.adminToken, { eventType: 'a.only', payload: { by: 'admin' }, tenantId: a.id });
    expect(asAdmin.deliveries).toHaveLength(1);
    expect(asAdmin.deliveries[0]!.subscription.id).toBe(a.subscriptionId);
    const [stored] = await hooklane.sql`select tenant_id, event_type from events where id = ${asAdmin.id}`;
    expect(stored).toEqual({ tenant_id: a.id, event_type: 'a.only' });
    const [request] = (await a.receiver.waitForRequests(2)).slice(1);
    expect(request!.headers['webhook-id']).toBe(asAdmin.id);
    await waitForDelivery(hooklane, a.token, asAdmin.deliveries[0]!.id, 'SUCCEEDED');
    // B still cannot see it, and B's receiver got nothing from it.
    const seenByB = await hooklane.gql(b.token, 'query($id: ID!) { event(id: $id) { id } }', { id: asAdmin.id });
    expect(seenByB.data).toEqual({ event: null });
    expect(b.receiver.requests).toHaveLength(bRequestsBefore);
    aSnapshot = await tenantRows(a.id);
  },
};

describe('tenant isolation', () => {
  beforeAll(async () => {
    hooklane = await startTestHooklane();
    a = await setUpTenant('Tenant A', 'invoice.paid', 'key-a');
    // A second event type of A that B never gets, and A's subscription receives it too.
    await createEventType(hooklane, a.token, { name: 'a.only' });
    await hooklane.gql(
      a.token,
      'mutation($input: UpdateSubscriptionInput!) { updateSubscription(input: $input) { subscription { id } } }',
      { input: { id: a.subscriptionId, eventTypes: ['invoice.paid', 'a.only'] } },
    );
    b = await setUpTenant('Tenant B', 'b.created', 'key-b');
    aSnapshot = await tenantRows(a.id);
    expect((aSnapshot as { subscriptions: unknown[] }).subscriptions).toHaveLength(1);
  });

  afterAll(async () => {
    await a?.receiver.close();
    await b?.receiver.close();
    await hooklane?.stop();
  });

  it('has a case for every Query and Mutation field of schema.graphql', () => {
    const schema = buildSchema(readFileSync(SCHEMA_FILE, 'utf8'));
    const queryFields = Object.keys(schema.getQueryType()!.getFields()).sort();
    const mutationFields = Object.keys(schema.getMutationType()!.getFields()).sort();
    expect(Object.keys(queryCases).sort()).toEqual(queryFields);
    expect(Object.keys(mutationCases).sort()).toEqual(mutationFields);
    expect(schema.getSubscriptionType()).toBeFalsy();
  });

  describe('queries with B’s token', () => {
    for (const [field, run] of Object.entries(queryCases)) it(field, run);
  });

  describe('mutations with B’s token', () => {
    for (const [field, run] of Object.entries(mutationCases)) it(field, run);
  });

  it('left A exactly as A made it, and delivered nothing of B to A', async () => {
    expect(await tenantRows(a.id)).toEqual(aSnapshot);
    const ownEvents = await hooklane.sql<{ id: string }[]>`select id from events where tenant_id = ${a.id}`;
    const ids = new Set(ownEvents.map((row) => row.id));
    for (const request of a.receiver.requests) expect(ids.has(String(request.headers['webhook-id']))).toBe(true);
    const ofB = new Set(
      (await hooklane.sql<{ id: string }[]>`select id from events where tenant_id = ${b.id}`).map((row) => row.id),
    );
    for (const request of b.receiver.requests) expect(ofB.has(String(request.headers['webhook-id']))).toBe(true);
  });
});
