import { eventually, type GraphQLResponse, type TestHooklane } from './hooklane.js';

/**
 * Small typed wrappers around the GraphQL API for tests. Each helper takes a TestHooklane and a
 * bearer token, returns plain data, and throws a GraphQLCallError when the response has errors.
 */

export class GraphQLCallError extends Error {
  constructor(readonly response: GraphQLResponse) {
    super(`GraphQL error: ${JSON.stringify(response.errors)} (HTTP ${response.status})`);
    this.name = 'GraphQLCallError';
  }
  /** The `extensions.code` of the first error. */
  get code(): string | undefined {
    return this.response.errors?.[0]?.extensions?.code;
  }
}

/** Runs a query or mutation and returns `data`, throwing GraphQLCallError on any error. */
export async function gqlData<T = Record<string, any>>(
  hooklane: TestHooklane,
  token: string | undefined,
  query: string,
  variables?: Record<string, unknown>,
): Promise<T> {
  const response = await hooklane.gql<T>(token, query, variables);
  if (response.errors?.length || !response.data) throw new GraphQLCallError(response as GraphQLResponse);
  return response.data;
}

/** Runs an operation that must fail and returns the first error's `extensions.code`. */
export async function gqlErrorCode(
  hooklane: TestHooklane,
  token: string | undefined,
  query: string,
  variables?: Record<string, unknown>,
): Promise<string | undefined> {
  const response = await hooklane.gql(token, query, variables);
  if (!response.errors?.length) throw new Error(`expected a GraphQL error, got ${JSON.stringify(response.data)}`);
  return response.errors[0]!.extensions?.code;
}

export interface EventTypeData {
  id: string;
  name: string;
  description: string | null;
  schema: unknown;
}

export interface SubscriptionData {
  id: string;
  url: string;
  eventTypes: string[];
  description: string | null;
  enabled: boolean;
  createdAt: string;
}

export interface AttemptData {
  id: string;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  responseBody: string | null;
  createdAt: string;
}

export interface DeliveryData {
  id: string;
  status: 'PENDING' | 'SUCCEEDED' | 'FAILED';
  attemptCount: number;
  nextAttemptAt: string | null;
  createdAt: string;
  subscription: { id: string };
  event: { id: string };
  attempts: AttemptData[];
}

export interface EventData {
  id: string;
  eventType: string;
  payload: unknown;
  idempotencyKey: string | null;
  createdAt: string;
  deliveries: DeliveryData[];
}

const SUBSCRIPTION_FIELDS = 'id url eventTypes description enabled createdAt';
const ATTEMPT_FIELDS = 'id statusCode error durationMs responseBody createdAt';
export const DELIVERY_FIELDS = `id status attemptCount nextAttemptAt createdAt subscription { id } event { id } attempts { ${ATTEMPT_FIELDS} }`;
export const EVENT_FIELDS = `id eventType payload idempotencyKey createdAt deliveries { ${DELIVERY_FIELDS} }`;

export async function createEventType(
  hooklane: TestHooklane,
  token: string,
  input: { name: string; description?: string | null; schema?: unknown },
): Promise<EventTypeData> {
  const data = await gqlData<{ createEventType: { eventType: EventTypeData } }>(
    hooklane,
    token,
    'mutation($input: CreateEventTypeInput!) { createEventType(input: $input) { eventType { id name description schema } } }',
    { input },
  );
  return data.createEventType.eventType;
}

export async function createSubscription(
  hooklane: TestHooklane,
  token: string,
  input: { url: string; eventTypes: string[]; description?: string | null },
): Promise<{ subscription: SubscriptionData; secret: string }> {
  const data = await gqlData<{ createSubscription: { subscription: SubscriptionData; secret: string } }>(
    hooklane,
    token,
    `mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { ${SUBSCRIPTION_FIELDS} } secret } }`,
    { input },
  );
  return data.createSubscription;
}

export async function updateSubscription(
  hooklane: TestHooklane,
  token: string,
  input: { id: string; url?: string; eventTypes?: string[]; description?: string | null; enabled?: boolean },
): Promise<SubscriptionData> {
  const data = await gqlData<{ updateSubscription: { subscription: SubscriptionData } }>(
    hooklane,
    token,
    `mutation($input: UpdateSubscriptionInput!) { updateSubscription(input: $input) { subscription { ${SUBSCRIPTION_FIELDS} } } }`,
    { input },
  );
  return data.updateSubscription.subscription;
}

export async function publish(
  hooklane: TestHooklane,
  token: string,
  input: { eventType: string; payload: unknown; idempotencyKey?: string; tenantId?: string },
): Promise<EventData> {
  const data = await gqlData<{ publishEvent: { event: EventData } }>(
    hooklane,
    token,
    `mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { ${EVENT_FIELDS} } } }`,
    { input },
  );
  return data.publishEvent.event;
}

export async function getEvent(hooklane: TestHooklane, token: string, id: string): Promise<EventData | null> {
  const data = await gqlData<{ event: EventData | null }>(hooklane, token, `query($id: ID!) { event(id: $id) { ${EVENT_FIELDS} } }`, { id });
  return data.event;
}

export async function getDelivery(hooklane: TestHooklane, token: string, id: string): Promise<DeliveryData | null> {
  const data = await gqlData<{ delivery: DeliveryData | null }>(
    hooklane,
    token,
    `query($id: ID!) { delivery(id: $id) { ${DELIVERY_FIELDS} } }`,
    { id },
  );
  return data.delivery;
}

export async function retryDelivery(hooklane: TestHooklane, token: string, id: string): Promise<DeliveryData> {
  const data = await gqlData<{ retryDelivery: { delivery: DeliveryData } }>(
    hooklane,
    token,
    `mutation($input: RetryDeliveryInput!) { retryDelivery(input: $input) { delivery { ${DELIVERY_FIELDS} } } }`,
    { input: { id } },
  );
  return data.retryDelivery.delivery;
}

/** Polls `delivery(id)` until its status is `status` (default: any final status), then returns it. */
export async function waitForDelivery(
  hooklane: TestHooklane,
  token: string,
  id: string,
  status?: DeliveryData['status'],
  timeoutMs = 20_000,
): Promise<DeliveryData> {
  return eventually(
    async () => {
      const delivery = await getDelivery(hooklane, token, id);
      if (!delivery) return undefined;
      if (status ? delivery.status === status : delivery.status !== 'PENDING') return delivery;
      return undefined;
    },
    timeoutMs,
    `delivery ${id} to be ${status ?? 'final'}`,
  );
}

/** Rows in a table (e.g. `events`, `deliveries`, `graphile_worker.jobs`), straight from the database. */
export async function countRows(hooklane: TestHooklane, table: string): Promise<number> {
  if (!/^[a-z_]+(\.[a-z_]+)?$/.test(table)) throw new Error(`not a table name: ${table}`);
  const [row] = await hooklane.sql.unsafe<{ count: number }[]>(`select count(*)::int as count from ${table}`);
  return row!.count;
}

/** Webhook headers of a received request, shaped for `standardwebhooks` / `svix` `verify`. */
export function webhookHeadersOf(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  return {
    'webhook-id': String(headers['webhook-id']),
    'webhook-timestamp': String(headers['webhook-timestamp']),
    'webhook-signature': String(headers['webhook-signature']),
  };
}

/** `createSubscription` with any input (delivery-engine options included); returns the raw subscription fields asked for. */
export async function createSubscriptionWith(
  hooklane: TestHooklane,
  token: string,
  input: Record<string, unknown>,
  fields = 'id url eventTypes channels ordered payloadMode rateLimit maxInFlight enabled',
): Promise<{ subscription: Record<string, any> & { id: string }; secret: string }> {
  const data = await gqlData<{ createSubscription: { subscription: Record<string, any> & { id: string }; secret: string } }>(
    hooklane,
    token,
    `mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { ${fields} } secret } }`,
    { input },
  );
  return data.createSubscription;
}

/** `publishEvent` with any input (orderingKey, channels, …); returns the event's id and createdAt. */
export async function publishWith(
  hooklane: TestHooklane,
  token: string,
  input: Record<string, unknown>,
): Promise<{ id: string; createdAt: string; deliveries: { id: string; subscription: { id: string } }[] }> {
  const data = await gqlData<{ publishEvent: { event: { id: string; createdAt: string; deliveries: { id: string; subscription: { id: string } }[] } } }>(
    hooklane,
    token,
    'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id createdAt deliveries { id subscription { id } } } } }',
    { input },
  );
  return data.publishEvent.event;
}

/** `publishEvents` (batch); returns the raw GraphQL response so that refusals can be inspected. */
export async function publishBatch(
  hooklane: TestHooklane,
  token: string,
  events: Record<string, unknown>[],
  fields = 'id eventType payload idempotencyKey createdAt',
): Promise<GraphQLResponse<{ publishEvents: { events: (Record<string, any> & { id: string })[] } }>> {
  return hooklane.gql(token, `mutation($input: PublishEventsInput!) { publishEvents(input: $input) { events { ${fields} } } }`, {
    input: { events },
  });
}

/**
 * Runs any mutation by name: `name(input: $input) { <selection> }` with `$input: <Name>Input!`, and
 * returns its payload. Throws GraphQLCallError on errors (`.code` is the first error's code).
 */
export async function mutate<T = Record<string, any>>(
  hooklane: TestHooklane,
  token: string,
  name: string,
  input: Record<string, unknown>,
  selection: string,
): Promise<T> {
  const inputType = `${name[0]!.toUpperCase()}${name.slice(1)}Input`;
  const data = await gqlData<Record<string, T>>(
    hooklane,
    token,
    `mutation($input: ${inputType}!) { ${name}(input: $input) { ${selection} } }`,
    { input },
  );
  return data[name]!;
}

/** `subscription(id)` with the fields asked for (delivery-engine fields included), or null. */
export async function getSubscriptionWith(
  hooklane: TestHooklane,
  token: string,
  id: string,
  fields = 'id enabled disabledReason failingSince retrySchedule hasCustomRetrySchedule heldDeliveryCount',
): Promise<(Record<string, any> & { id: string }) | null> {
  const data = await gqlData<{ subscription: (Record<string, any> & { id: string }) | null }>(
    hooklane,
    token,
    `query($id: ID!) { subscription(id: $id) { ${fields} } }`,
    { id },
  );
  return data.subscription;
}
