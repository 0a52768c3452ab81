import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, getNamedType, isObjectType, type GraphQLObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signHs256Token } from '../../src/auth/jwt.js';
import { countRows, createEventType, createSubscription, gqlData, publish, waitForDelivery } from '../support/graphql-helpers.js';
import { startTestHooklane, TEST_JWT_SECRET, type GraphQLResponse, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

// Scopes hold at every depth: a field a token may not read is refused with FORBIDDEN whatever path
// reaches it, not only at the root. READERS below says, for every field of every object type of
// schema.graphql, which tokens may read it; the walk of the schema fails when a field has none.
// Each field is then asked for by each token along a path the token may travel (from READERS), and
// must be read, or refused when no such path exists.

const SCHEMA = buildSchema(readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schema.graphql'), 'utf8'));

const PUBLISH = 'events:publish';
const READ = 'events:read';
const SUBS_READ = 'subscriptions:read';
const SUBS_WRITE = 'subscriptions:write';
/** A read-only dashboard's token: `scope: "events:read subscriptions:read"`. */
const READ_BOTH = 'events:read subscriptions:read';
/** A tenant token without `scope`: every right of its tenant. */
const UNSCOPED = 'unscoped tenant token';
/** `roles: ["admin"]` and no tenant. */
const ADMIN = 'admin token without a tenant';
/** `roles: ["admin"]` naming the tenant in `tenant_id`. */
const ADMIN_FOR_TENANT = 'admin token for the tenant';

const TOKEN_KINDS = [PUBLISH, READ, SUBS_READ, SUBS_WRITE, READ_BOTH, UNSCOPED, ADMIN, ADMIN_FOR_TENANT] as const;
type TokenKind = (typeof TOKEN_KINDS)[number];

const EVERY_TOKEN: readonly TokenKind[] = TOKEN_KINDS;
const ADMINS: readonly TokenKind[] = [ADMIN, ADMIN_FOR_TENANT];
/** Tokens with these scopes, and those holding every right of the tenant. */
const scoped = (...scopes: TokenKind[]): readonly TokenKind[] => [...scopes, UNSCOPED, ADMIN_FOR_TENANT];
const EVENT_READERS = scoped(READ, READ_BOTH);
const SUBSCRIPTION_READERS = scoped(SUBS_READ, READ_BOTH);
/** Delivery stats: either read right (an admin token reaches a tenant's through `tenants`). */
const STATS_READERS: readonly TokenKind[] = [...scoped(READ, SUBS_READ, READ_BOTH), ADMIN];
/** A read right starts a read-only portal session (the matrix asks for one); a full one needs every right. */
const PORTAL_SESSION_STARTERS: readonly TokenKind[] = [...scoped(READ, SUBS_READ, READ_BOTH), ADMIN];

function fields(type: string, readers: Record<string, readonly TokenKind[]>): Record<string, readonly TokenKind[]> {
  return Object.fromEntries(Object.entries(readers).map(([field, tokens]) => [`${type}.${field}`, tokens]));
}
function same(names: string[], readers: readonly TokenKind[]): Record<string, readonly TokenKind[]> {
  return Object.fromEntries(names.map((name) => [name, readers]));
}
const CONNECTION = ['edges', 'pageInfo'];
const EDGE = ['cursor', 'node'];

/** Who may read each field. Every field of the schema has an entry: add one with each new field. */
const READERS: Record<string, readonly TokenKind[]> = {
  ...fields('Query', {
    tenant: EVERY_TOKEN, // null for an admin token without a tenant
    tenants: ADMINS,
    eventTypes: EVENT_READERS,
    subscription: SUBSCRIPTION_READERS,
    subscriptions: SUBSCRIPTION_READERS,
    event: EVENT_READERS,
    events: EVENT_READERS,
    delivery: EVENT_READERS,
    deliveries: EVENT_READERS,
    auditLog: SUBSCRIPTION_READERS,
    eventCatalog: EVENT_READERS,
  }),
  ...fields('Mutation', {
    ...same(['createTenant', 'suspendTenant', 'resumeTenant', 'deleteTenant', 'updateTenantQuotas'], ADMINS),
    ...same(
      ['createEventType', 'createSubscription', 'updateSubscription', 'deleteSubscription', 'rotateSubscriptionSecret', 'discardHeldDeliveries'],
      scoped(SUBS_WRITE),
    ),
    ...same(['publishEvent', 'publishEvents', 'retryDelivery', 'replayEvent', 'recoverSubscription', 'expungeEventPayload', 'retryDeliveries'], scoped(PUBLISH)),
    previewSubscriptionFilter: EVENT_READERS,
    ...same(['updateEventType', 'archiveEventType', 'sendTestEvent'], scoped(SUBS_WRITE)),
    revokeTokens: [UNSCOPED, ADMIN, ADMIN_FOR_TENANT],
    createPortalSession: PORTAL_SESSION_STARTERS,
  }),
  ...fields('CreateTenantPayload', { tenant: ADMINS }),
  ...fields('SuspendTenantPayload', { tenant: ADMINS }),
  ...fields('ResumeTenantPayload', { tenant: ADMINS }),
  ...fields('DeleteTenantPayload', { id: ADMINS }),
  ...fields('UpdateTenantQuotasPayload', { tenant: ADMINS }),
  ...fields('CreateEventTypePayload', { eventType: scoped(SUBS_WRITE) }),
  ...fields('CreateSubscriptionPayload', same(['subscription', 'secret'], scoped(SUBS_WRITE))),
  ...fields('UpdateSubscriptionPayload', { subscription: scoped(SUBS_WRITE) }),
  ...fields('DeleteSubscriptionPayload', { id: scoped(SUBS_WRITE) }),
  ...fields('RotateSubscriptionSecretPayload', same(['subscription', 'secret'], scoped(SUBS_WRITE))),
  ...fields('DiscardHeldDeliveriesPayload', same(['subscription', 'discardedCount'], scoped(SUBS_WRITE))),
  ...fields('PublishEventPayload', { event: scoped(PUBLISH) }),
  ...fields('PublishEventsPayload', { events: scoped(PUBLISH) }),
  ...fields('RetryDeliveryPayload', { delivery: scoped(PUBLISH) }),
  ...fields('ReplayEventPayload', same(['event', 'deliveries'], scoped(PUBLISH))),
  // Recovering needs events:publish, reading the subscription a subscriptions right: no one scope has both.
  ...fields('RevokeTokensPayload', { tenant: [UNSCOPED, ADMIN, ADMIN_FOR_TENANT] }),
  ...fields('CreatePortalSessionPayload', same(['url', 'token', 'expiresAt'], PORTAL_SESSION_STARTERS)),
  ...fields('UpdateEventTypePayload', { eventType: scoped(SUBS_WRITE) }),
  ...fields('ArchiveEventTypePayload', { eventType: scoped(SUBS_WRITE) }),
  // Reading the test delivery back needs an events right too.
  ...fields('SendTestEventPayload', { delivery: scoped() }),
  ...fields('PreviewSubscriptionFilterPayload', same(['examined', 'matched'], EVENT_READERS)),
  ...fields('RecoverSubscriptionPayload', { subscription: scoped(), ...same(['deliveryCount', 'skippedExpungedCount'], scoped(PUBLISH)) }),
  ...fields('ExpungeEventPayloadPayload', { event: scoped(PUBLISH) }),
  ...fields('RetryDeliveriesPayload', { count: scoped(PUBLISH) }),
  ...fields('Tenant', { ...same(['id', 'name', 'status', 'quotas', 'usage', 'tokensRevokedBefore', 'createdAt'], EVERY_TOKEN), stats: STATS_READERS }),
  ...fields(
    'TenantQuotas',
    same(['publishRate', 'publishBurst', 'eventsPerMonth', 'subscriptions', 'eventTypes', 'payloadBytes', 'deliveriesInFlight', 'retention'], EVERY_TOKEN),
  ),
  ...fields('TenantUsage', same(['eventsThisMonth', 'subscriptions', 'eventTypes', 'pendingDeliveries', 'deliveriesInFlight'], EVERY_TOKEN)),
  ...fields('PageInfo', same(['hasNextPage', 'endCursor'], EVERY_TOKEN)),
  ...fields('TenantConnection', same(CONNECTION, ADMINS)),
  ...fields('TenantEdge', same(EDGE, ADMINS)),
  ...fields('AuditLogConnection', same(CONNECTION, SUBSCRIPTION_READERS)),
  ...fields('AuditLogEdge', same(EDGE, SUBSCRIPTION_READERS)),
  ...fields('AuditLogEntry', same(['id', 'action', 'targetId', 'actorSubject', 'actorRole', 'details', 'createdAt'], SUBSCRIPTION_READERS)),
  ...fields('EventTypeConnection', same(CONNECTION, EVENT_READERS)),
  ...fields('EventTypeEdge', same(EDGE, EVENT_READERS)),
  // Read with events:read; subscriptions:write reads back the event type it creates.
  ...fields('EventType', same(['id', 'name', 'description', 'schema', 'version', 'deprecated', 'archivedAt', 'builtIn', 'createdAt'], scoped(READ, READ_BOTH, SUBS_WRITE))),
  ...fields('WebhookSubscriptionConnection', same(CONNECTION, SUBSCRIPTION_READERS)),
  ...fields('WebhookSubscriptionEdge', same(EDGE, SUBSCRIPTION_READERS)),
  // Read with subscriptions:read; subscriptions:write reads back what it creates and changes.
  ...fields('WebhookSubscription', {
    ...same(
      [
        'id',
        'url',
        'eventTypes',
        'description',
        'enabled',
        'disabledReason',
        'failingSince',
        'channels',
        'retrySchedule',
        'hasCustomRetrySchedule',
        'ordered',
        'payloadMode',
        'rateLimit',
        'maxInFlight',
        'heldDeliveryCount',
        'filter',
        'headerNames',
        'authType',
        'tls',
        'ed25519PublicKey',
        'previousSecretExpiresAt',
        'createdAt',
        'updatedAt',
      ],
      scoped(SUBS_READ, READ_BOTH, SUBS_WRITE),
    ),
    // subscriptions:read only: subscriptions:write reads back the subscription, not its stats, and
    // events:read reaches no subscription through a delivery.
    stats: SUBSCRIPTION_READERS,
    // An events right for the deliveries, a subscriptions right to reach the subscription.
    deliveries: scoped(READ_BOTH),
  }),
  ...fields('SubscriptionTls', same(['clientCertificateExpiresAt', 'caConfigured'], scoped(SUBS_READ, READ_BOTH, SUBS_WRITE))),
  ...fields('EventConnection', same(CONNECTION, EVENT_READERS)),
  ...fields('EventEdge', same(EDGE, EVENT_READERS)),
  ...fields('DeliveryConnection', same(CONNECTION, EVENT_READERS)),
  ...fields('DeliveryEdge', same(EDGE, EVENT_READERS)),
  // events:publish reads back an event's identity and its deliveries' progress, not its payload.
  ...fields('Event', {
    ...same(
      ['id', 'eventType', 'idempotencyKey', 'orderingKey', 'channels', 'eventTypeVersion', 'test', 'payloadExpunged', 'createdAt', 'deliveries'],
      scoped(READ, READ_BOTH, PUBLISH),
    ),
    payload: EVENT_READERS,
  }),
  ...fields('Delivery', {
    ...same(['id', 'status', 'subscriptionId', 'event', 'attemptCount', 'nextAttemptAt', 'createdAt'], scoped(READ, READ_BOTH, PUBLISH)),
    // A delivery's subscription needs an events right and a subscriptions right.
    subscription: scoped(READ_BOTH),
    attempts: EVENT_READERS,
  }),
  ...fields('DeliveryAttempt', same(['id', 'statusCode', 'outcome', 'error', 'durationMs', 'responseBody', 'createdAt'], EVENT_READERS)),
  ...fields(
    'DeliveryStats',
    same(
      ['deliveries', 'succeeded', 'failed', 'pending', 'held', 'attempts', 'successRate', 'latencyP50Ms', 'latencyP95Ms', 'lastSuccessAt', 'lastFailureAt', 'buckets'],
      STATS_READERS,
    ),
  ),
  ...fields('StatsBucket', same(['start', 'succeeded', 'failed', 'latencyP50Ms'], STATS_READERS)),
};

// ---------------------------------------------------------------------------------------------
// The world the tokens look at.

let hooklane: TestHooklane;
let receiver: TestReceiver;
let tenantId: string;
let subscriptionId: string;
let eventId: string;
let deliveryId: string;
const tokens = {} as Record<TokenKind, string>;
const PUBLISHED = { eventType: 'matrix.thing', payload: { secret: 'only events:read sees this' }, idempotencyKey: 'matrix' };
let unique = 0;

/** A GraphQL literal for a JSON-like value (object keys are field names here). */
function literal(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(literal).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{ ${Object.entries(value).map(([key, inner]) => `${key}: ${literal(inner)}`).join(', ')} }`;
  }
  return JSON.stringify(value);
}

/**
 * A tenant or subscription to delete or change; when the call must be refused, an id that exists
 * nowhere instead: the refusal has to come before any lookup.
 */
async function throwawayTenant(runs: boolean): Promise<string> {
  return runs ? (await hooklane.createTenant(`Throwaway ${++unique}`)).id : 'ten_00000000000000000000000000000000';
}

async function throwawaySubscription(runs: boolean): Promise<string> {
  if (!runs) return 'sub_00000000000000000000000000000000';
  return (await createSubscription(hooklane, tokens[UNSCOPED], { url: receiver.url, eventTypes: ['matrix.quiet'] })).subscription.id;
}

/** An event to expunge: a new one each time, so the matrix's own event keeps its payload. */
async function throwawayEvent(runs: boolean): Promise<string> {
  if (!runs) return 'evt_00000000000000000000000000000000';
  const data = await gqlData<{ publishEvent: { event: { id: string } } }>(
    hooklane,
    tokens[UNSCOPED],
    'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }',
    { input: { eventType: 'matrix.quiet', payload: { n: ++unique } } },
  );
  return data.publishEvent.event.id;
}

async function throwawayEventType(runs: boolean): Promise<string> {
  const name = `matrix.archived.n${++unique}`;
  if (runs) await createEventType(hooklane, tokens[UNSCOPED], { name });
  return name;
}

interface RootCall {
  /** 0: a query; 1: a mutation that changes nothing here; 2: one that writes (used only when nothing else reaches). */
  rank: 0 | 1 | 2;
  /** The root field with its arguments, e.g. `event(id: "…")`, for a call that `runs` or must be refused. */
  call(runs: boolean): Promise<string>;
}

type Input = (runs: boolean) => Promise<Record<string, unknown>> | Record<string, unknown>;
const query = (text: () => string): RootCall => ({ rank: 0, call: async () => text() });
const mutation = (rank: 1 | 2, field: string, input: Input): RootCall => ({
  rank,
  call: async (runs) => `${field}(input: ${literal(await input(runs))})`,
});

/** How each Query and Mutation field is called; the schema walk fails when one has no entry. */
const ROOT_CALLS: Record<string, RootCall> = {
  'Query.tenant': query(() => 'tenant'),
  'Query.tenants': query(() => 'tenants(first: 5)'),
  'Query.eventTypes': query(() => 'eventTypes(first: 5)'),
  'Query.subscription': query(() => `subscription(id: ${literal(subscriptionId)})`),
  // Enough to reach the fixture's subscription (with deliveries) behind those the mutations create.
  'Query.subscriptions': query(() => 'subscriptions(first: 50)'),
  'Query.event': query(() => `event(id: ${literal(eventId)})`),
  'Query.events': query(() => 'events(first: 3)'),
  'Query.delivery': query(() => `delivery(id: ${literal(deliveryId)})`),
  'Query.deliveries': query(() => `deliveries(first: 3, filter: { subscriptionId: ${literal(subscriptionId)} })`),
  'Query.auditLog': query(() => 'auditLog(first: 5)'),
  'Query.eventCatalog': query(() => 'eventCatalog'),
  'Mutation.createTenant': mutation(2, 'createTenant', () => ({ name: `Created ${++unique}` })),
  'Mutation.suspendTenant': mutation(2, 'suspendTenant', async (runs) => ({ id: await throwawayTenant(runs) })),
  'Mutation.resumeTenant': mutation(1, 'resumeTenant', () => ({ id: tenantId })),
  'Mutation.deleteTenant': mutation(2, 'deleteTenant', async (runs) => ({ id: await throwawayTenant(runs) })),
  'Mutation.updateTenantQuotas': mutation(1, 'updateTenantQuotas', () => ({ tenantId })),
  'Mutation.createEventType': mutation(2, 'createEventType', () => ({ name: `matrix.created.n${++unique}` })),
  'Mutation.createSubscription': mutation(2, 'createSubscription', () => ({ url: receiver.url, eventTypes: ['matrix.quiet'] })),
  'Mutation.updateSubscription': mutation(1, 'updateSubscription', () => ({ id: subscriptionId })),
  'Mutation.deleteSubscription': mutation(2, 'deleteSubscription', async (runs) => ({ id: await throwawaySubscription(runs) })),
  'Mutation.rotateSubscriptionSecret': mutation(2, 'rotateSubscriptionSecret', async (runs) => ({ id: await throwawaySubscription(runs) })),
  'Mutation.discardHeldDeliveries': mutation(1, 'discardHeldDeliveries', () => ({ subscriptionId })),
  // The same idempotency key: the first event again, nothing new written.
  'Mutation.publishEvent': mutation(1, 'publishEvent', () => PUBLISHED),
  'Mutation.publishEvents': mutation(1, 'publishEvents', () => ({ events: [PUBLISHED] })),
  'Mutation.retryDelivery': mutation(2, 'retryDelivery', () => ({ id: deliveryId })),
  // A dry run: counts, writes nothing.
  'Mutation.retryDeliveries': mutation(1, 'retryDeliveries', () => ({ filter: { subscriptionId }, dryRun: true })),
  'Mutation.replayEvent': mutation(2, 'replayEvent', () => ({ id: eventId, subscriptionIds: [subscriptionId] })),
  'Mutation.recoverSubscription': mutation(1, 'recoverSubscription', () => ({
    id: subscriptionId,
    since: '2000-01-01T00:00:00Z',
    until: '2000-01-02T00:00:00Z',
  })),
  'Mutation.expungeEventPayload': mutation(2, 'expungeEventPayload', async (runs) => ({ id: await throwawayEvent(runs) })),
  // A cutoff long past: nothing the matrix uses is revoked.
  'Mutation.createPortalSession': mutation(1, 'createPortalSession', () => ({ tenantId, readOnly: true, expiresIn: '5m' })),
  'Mutation.revokeTokens': mutation(1, 'revokeTokens', () => ({ tenantId, issuedBefore: '2000-01-01T00:00:00Z' })),
  'Mutation.updateEventType': mutation(1, 'updateEventType', () => ({ name: 'matrix.quiet', description: `Described ${++unique}` })),
  'Mutation.archiveEventType': mutation(2, 'archiveEventType', async (runs) => ({ name: await throwawayEventType(runs) })),
  'Mutation.sendTestEvent': mutation(2, 'sendTestEvent', () => ({ subscriptionId })),
  'Mutation.previewSubscriptionFilter': mutation(1, 'previewSubscriptionFilter', () => ({ filter: { type: 'matrix.quiet' }, eventTypes: ['matrix.quiet'] })),
};

/** Root fields that answer null, not the object, to these tokens. */
const NULL_FOR: Record<string, readonly TokenKind[]> = { 'Query.tenant': [ADMIN] };

// ---------------------------------------------------------------------------------------------
// Paths through the schema.

/** A path from a root field down to an object: `Type.field` names, the first a root field. */
type Route = readonly string[];

function objectTypes(): GraphQLObjectType[] {
  return Object.values(SCHEMA.getTypeMap()).filter((type): type is GraphQLObjectType => isObjectType(type) && !type.name.startsWith('__'));
}

function returnedObject(fieldName: string): GraphQLObjectType | undefined {
  const [typeName, name] = fieldName.split('.') as [string, string];
  const type = getNamedType((SCHEMA.getType(typeName) as GraphQLObjectType).getFields()[name]!.type);
  return isObjectType(type) ? type : undefined;
}

/** Every path to each object type that passes through no type twice, best first: queries, then short. */
const ROUTES: Map<string, Route[]> = (() => {
  const routes = new Map<string, Route[]>();
  const roots = [SCHEMA.getQueryType()!, SCHEMA.getMutationType()!];
  const queue: { route: Route; seen: Set<string> }[] = roots.flatMap((root) =>
    Object.keys(root.getFields()).map((name) => ({ route: [`${root.name}.${name}`], seen: new Set([root.name]) })),
  );
  while (queue.length > 0) {
    const { route, seen } = queue.shift()!;
    const type = returnedObject(route.at(-1)!);
    if (!type || seen.has(type.name)) continue;
    routes.set(type.name, [...(routes.get(type.name) ?? []), route]);
    for (const name of Object.keys(type.getFields())) {
      queue.push({ route: [...route, `${type.name}.${name}`], seen: new Set([...seen, type.name]) });
    }
  }
  const rank = (route: Route) => ROOT_CALLS[route[0]!]?.rank ?? 3;
  for (const list of routes.values()) list.sort((a, b) => rank(a) - rank(b) || a.length - b.length);
  return routes;
})();

const mayRead = (token: TokenKind, field: string) => READERS[field]?.includes(token) ?? false;

/** The first field of `route` (then `field`) that `token` may not read, or undefined. */
function firstRefused(token: TokenKind, route: Route): string | undefined {
  return route.find((step) => !mayRead(token, step));
}

function travels(token: TokenKind, route: Route): boolean {
  return firstRefused(token, route) === undefined && !NULL_FOR[route[0]!]?.includes(token);
}

/** The operation asking for the last field of `route`: objects select only `__typename`. */
async function operationFor(route: Route, runs: boolean): Promise<string> {
  const [root, ...rest] = route as [string, ...string[]];
  const [operationType] = root.split('.') as [string];
  const leaf = returnedObject(route.at(-1)!) ? ' { __typename }' : '';
  let selection = `${rest.length > 0 ? rest.at(-1)!.split('.')[1] : ''}${leaf}`;
  for (const step of rest.slice(0, -1).reverse()) selection = `${step.split('.')[1]} { ${selection} }`;
  const call = await ROOT_CALLS[root]!.call(runs);
  const body = rest.length > 0 ? `${call} { ${selection} }` : `${call}${leaf}`;
  return `${operationType === 'Mutation' ? 'mutation' : 'query'} { ${body} }`;
}

/**
 * True when data holds every step of `route`, through at least one element of each list: an
 * object for each object-typed step, and the last field itself when it is a scalar (null included).
 */
function reached(value: unknown, steps: readonly string[]): boolean {
  if (Array.isArray(value)) return value.some((item) => reached(item, steps));
  if (value === null || typeof value !== 'object') return false;
  if (steps.length === 0) return true;
  const [step, ...rest] = steps as [string, ...string[]];
  const name = step.split('.')[1]!;
  if (!(name in value)) return false;
  const inner = (value as Record<string, unknown>)[name];
  return rest.length === 0 && !returnedObject(step) ? true : reached(inner, rest);
}


function expectRead(response: GraphQLResponse, route: Route, context: string) {
  expect(response.errors, context).toBeUndefined();
  expect(response.status, context).toBe(200);
  expect(reached(response.data, route), `${context}: the field is not in the answer (does the fixture hold one?)`).toBe(true);
}

function expectRefused(response: GraphQLResponse, token: TokenKind, route: Route, context: string) {
  expect(response.errors?.length, context).toBeGreaterThan(0);
  for (const error of response.errors!) expect(error.extensions?.code, context).toBe('FORBIDDEN');
  expect(reached(response.data ?? null, route), context).toBe(false);
  const refusedFields = response.errors![0]!.extensions?.fields as string[] | undefined;
  // Refused before execution, naming the field; an admin token without a tenant is refused by
  // the tenant-scoped root field itself, as any tenant-scoped field.
  if (token !== ADMIN || refusedFields) {
    expect(response.status, context).toBe(403);
    expect(refusedFields, context).toEqual([firstRefused(token, route)]);
    expect(response, context).not.toHaveProperty('data');
  }
}

/** Asks for the last field of `route` as `token`, expecting it read exactly when READERS lets every step be. */
async function check(token: TokenKind, route: Route) {
  const context = `${token} asking for ${route.join(' > ')}`;
  const allowed = firstRefused(token, route) === undefined;
  const response = await hooklane.gql(tokens[token], await operationFor(route, allowed));
  if (!allowed) expectRefused(response, token, route, context);
  else if (NULL_FOR[route[0]!]?.includes(token)) expect(response, context).toEqual({ status: 200, data: { [route[0]!.split('.')[1]!]: null } });
  else expectRead(response, route, context);
}

// ---------------------------------------------------------------------------------------------

describe('field access', () => {
  beforeAll(async () => {
    hooklane = await startTestHooklane();
    receiver = await TestReceiver.start();
    const tenant = await hooklane.createTenant('Matrix');
    tenantId = tenant.id;
    const sign = (claims: Record<string, unknown>) => signHs256Token(TEST_JWT_SECRET, { sub: `matrix-${unique++}`, ...claims }, { expiresIn: '1h' });
    for (const scope of [PUBLISH, READ, SUBS_READ, SUBS_WRITE, READ_BOTH] as const) tokens[scope] = await sign({ tenant_id: tenantId, scope });
    tokens[UNSCOPED] = tenant.token;
    tokens[ADMIN] = hooklane.adminToken;
    tokens[ADMIN_FOR_TENANT] = await sign({ tenant_id: tenantId, roles: ['admin'] });

    await createEventType(hooklane, tenant.token, { name: 'matrix.thing' });
    await createEventType(hooklane, tenant.token, { name: 'matrix.quiet' });
    subscriptionId = (await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['matrix.thing'] })).subscription.id;
    const event = await publish(hooklane, tenant.token, PUBLISHED);
    eventId = event.id;
    deliveryId = event.deliveries[0]!.id;
    // Settled, with an attempt: every list on the way to an attempt has something in it.
    await waitForDelivery(hooklane, tenant.token, deliveryId, 'SUCCEEDED');
  });

  afterAll(async () => {
    await receiver?.close();
    await hooklane?.stop();
  });

  it('has readers for every field of every object type of schema.graphql, and a call for every root field', () => {
    const schemaFields = objectTypes().flatMap((type) => Object.keys(type.getFields()).map((name) => `${type.name}.${name}`));
    expect(Object.keys(READERS).sort()).toEqual(schemaFields.sort());
    const rootFields = schemaFields.filter((name) => name.startsWith('Query.') || name.startsWith('Mutation.'));
    expect(Object.keys(ROOT_CALLS).sort()).toEqual(rootFields.sort());
    for (const type of objectTypes()) {
      if (type !== SCHEMA.getQueryType() && type !== SCHEMA.getMutationType()) expect(ROUTES.get(type.name), type.name).toBeDefined();
    }
  });

  describe('each field, asked for by each token along the best path it may travel', () => {
    for (const type of objectTypes()) {
      for (const name of Object.keys(type.getFields())) {
        const field = `${type.name}.${name}`;
        it(field, async () => {
          for (const token of TOKEN_KINDS) {
            const routes = ROUTES.get(type.name)?.map((route) => [...route, field]) ?? [[field]];
            // The best path the token travels to the field's object; else the best path there is.
            const route = routes.find((candidate) => travels(token, candidate.slice(0, -1))) ?? routes[0]!;
            await check(token, route);
          }
        });
      }
    }
  });

  describe('what only some tokens may read, along every path that does not write', () => {
    const sensitive = ['WebhookSubscription.url', 'WebhookSubscription.id', 'DeliveryAttempt.responseBody', 'Event.payload'];
    for (const field of sensitive) {
      it(field, async () => {
        const [typeName] = field.split('.') as [string];
        const routes = ROUTES.get(typeName)!.filter((route) => ROOT_CALLS[route[0]!]!.rank < 2);
        expect(routes.length).toBeGreaterThan(3);
        for (const route of routes) for (const token of TOKEN_KINDS) await check(token, [...route, field]);
      });
    }
  });

  describe('the paths of issue 22', () => {
    it('refuses an events:publish token subscription URLs and receivers’ answers through publishEvent, and writes nothing', async () => {
      const events = await countRows(hooklane, 'events');
      const deliveries = await countRows(hooklane, 'deliveries');
      for (const selection of ['deliveries { subscription { url } }', 'deliveries { attempts { responseBody } }', 'payload']) {
        const response = await hooklane.gql(
          tokens[PUBLISH],
          `mutation { publishEvent(input: { eventType: "matrix.thing", payload: {}, idempotencyKey: "new-${++unique}" }) { event { id ${selection} } } }`,
        );
        expect(response.status).toBe(403);
        expect(response.errors).toHaveLength(1);
        expect(response.errors![0]!.extensions?.code).toBe('FORBIDDEN');
        expect(response.errors![0]!.message).toMatch(/^This token may not read (Delivery\.subscription|Delivery\.attempts|Event\.payload) \(needs /);
      }
      expect(await countRows(hooklane, 'events')).toBe(events);
      expect(await countRows(hooklane, 'deliveries')).toBe(deliveries);
      // What it may read back: the event's identity and its deliveries' progress.
      const published = await gqlData(
        hooklane,
        tokens[PUBLISH],
        'mutation { publishEvent(input: { eventType: "matrix.thing", payload: { n: 2 } }) { event { id eventType createdAt deliveries { id status attemptCount } } } }',
      );
      expect(published.publishEvent.event.deliveries).toEqual([{ id: expect.any(String), status: expect.any(String), attemptCount: expect.any(Number) }]);
      expect(await countRows(hooklane, 'events')).toBe(events + 1);
    });

    it('refuses an events:publish token any event’s payload through replayEvent with no subscriptions', async () => {
      const replay = (selection: string) =>
        hooklane.gql(tokens[PUBLISH], `mutation { replayEvent(input: { id: ${literal(eventId)}, subscriptionIds: [] }) { event { ${selection} } } }`);
      const refused = await replay('id payload');
      expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(JSON.stringify(refused)).not.toContain(PUBLISHED.payload.secret);
      const allowed = await replay('id eventType');
      expect(allowed.data).toEqual({ replayEvent: { event: { id: eventId, eventType: 'matrix.thing' } } });
    });

    it('refuses an events:read token the subscription of a delivery', async () => {
      const response = await hooklane.gql(tokens[READ], `{ delivery(id: ${literal(deliveryId)}) { id subscription { id } } }`);
      expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(response.errors?.[0]?.message).toMatch(/Delivery\.subscription \(needs events:read, and to read WebhookSubscription: subscriptions:read or subscriptions:write\)/);
      expect(JSON.stringify(response)).not.toContain(subscriptionId);
    });

    it('checks fields reached through fragments, inline fragments and aliases too', async () => {
      const documents = [
        `query { event(id: ${literal(eventId)}) { ...E } } fragment E on Event { id deliveries { ...D } } fragment D on Delivery { subscription { url } }`,
        `query { event(id: ${literal(eventId)}) { ... on Event { deliveries { ... { attempts { responseBody } } } } } }`,
        `query { event(id: ${literal(eventId)}) { id hidden: payload } }`,
        `mutation { publishEvent(input: ${literal(PUBLISHED)}) { ...P } } fragment P on PublishEventPayload { event { deliveries { s: subscription { u: url } } } }`,
      ];
      for (const document of documents) {
        const response = await hooklane.gql(tokens[PUBLISH], document);
        expect(response.status, document).toBe(403);
        expect(response.errors?.[0]?.extensions?.code, document).toBe('FORBIDDEN');
      }
      // The same documents, read by a token with every right of the tenant.
      for (const document of documents) expect((await hooklane.gql(tokens[UNSCOPED], document)).errors, document).toBeUndefined();
    });
  });
});
