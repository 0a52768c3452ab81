import { documentText, type GraphQLDocument, type ResultOf, type VariablesOf } from './document.js';
import {
  AuditLogDocument,
  CreateEventTypeDocument,
  CreatePortalSessionDocument,
  CreateSubscriptionDocument,
  CreateTenantDocument,
  DeleteSubscriptionDocument,
  DeleteTenantDocument,
  DeliveriesDocument,
  DeliveryDocument,
  DiscardHeldDeliveriesDocument,
  ArchiveEventTypeDocument,
  EventCatalogDocument,
  EventDocument,
  EventsDocument,
  EventTypesDocument,
  ExpungeEventPayloadDocument,
  PreviewSubscriptionFilterDocument,
  PublishEventDocument,
  PublishEventsDocument,
  RecoverSubscriptionDocument,
  ReplayEventDocument,
  ResumeTenantDocument,
  RetryDeliveriesDocument,
  RetryDeliveryDocument,
  RevokeTokensDocument,
  RotateSubscriptionSecretDocument,
  SubscriptionDocument,
  SubscriptionsDocument,
  SuspendTenantDocument,
  TenantDocument,
  TenantsDocument,
  SendTestEventDocument,
  UpdateEventTypeDocument,
  UpdateSubscriptionDocument,
  UpdateTenantQuotasDocument,
} from './generated/graphql.js';
import { HooklaneError, isContractErrorCode, type ContractErrorCode, type GraphQLErrorEntry } from './errors.js';

/** One Query field → the operation in src/operations that runs it. The method is named after the field. */
export const QUERY_DOCUMENTS = {
  tenant: TenantDocument,
  tenants: TenantsDocument,
  eventTypes: EventTypesDocument,
  eventCatalog: EventCatalogDocument,
  subscription: SubscriptionDocument,
  subscriptions: SubscriptionsDocument,
  event: EventDocument,
  events: EventsDocument,
  delivery: DeliveryDocument,
  deliveries: DeliveriesDocument,
  auditLog: AuditLogDocument,
} as const;

/** One Mutation field → its operation. Every mutation takes one `input` argument. */
export const MUTATION_DOCUMENTS = {
  createTenant: CreateTenantDocument,
  suspendTenant: SuspendTenantDocument,
  resumeTenant: ResumeTenantDocument,
  deleteTenant: DeleteTenantDocument,
  updateTenantQuotas: UpdateTenantQuotasDocument,
  revokeTokens: RevokeTokensDocument,
  createPortalSession: CreatePortalSessionDocument,
  createEventType: CreateEventTypeDocument,
  updateEventType: UpdateEventTypeDocument,
  archiveEventType: ArchiveEventTypeDocument,
  createSubscription: CreateSubscriptionDocument,
  updateSubscription: UpdateSubscriptionDocument,
  deleteSubscription: DeleteSubscriptionDocument,
  rotateSubscriptionSecret: RotateSubscriptionSecretDocument,
  publishEvent: PublishEventDocument,
  publishEvents: PublishEventsDocument,
  retryDelivery: RetryDeliveryDocument,
  replayEvent: ReplayEventDocument,
  expungeEventPayload: ExpungeEventPayloadDocument,
  recoverSubscription: RecoverSubscriptionDocument,
  retryDeliveries: RetryDeliveriesDocument,
  discardHeldDeliveries: DiscardHeldDeliveriesDocument,
  previewSubscriptionFilter: PreviewSubscriptionFilterDocument,
  sendTestEvent: SendTestEventDocument,
} as const;

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal;
  /** Extra request headers for this call. */
  headers?: Record<string, string>;
}

type FieldResult<D, K extends PropertyKey> = K extends keyof ResultOf<D> ? ResultOf<D>[K] : never;

/** A query method takes the query's variables (optional when none is required) and resolves to the field's value. */
type QueryMethod<D, K extends PropertyKey> = {} extends VariablesOf<D>
  ? (variables?: VariablesOf<D>, options?: CallOptions) => Promise<FieldResult<D, K>>
  : (variables: VariablesOf<D>, options?: CallOptions) => Promise<FieldResult<D, K>>;

/** A mutation method takes the mutation's `input` and resolves to its payload. */
type MutationMethod<D, K extends PropertyKey> = VariablesOf<D> extends { input: infer I }
  ? (input: I, options?: CallOptions) => Promise<FieldResult<D, K>>
  : never;

export type QueryMethods = { [K in keyof typeof QUERY_DOCUMENTS]: QueryMethod<(typeof QUERY_DOCUMENTS)[K], K> };
export type MutationMethods = { [K in keyof typeof MUTATION_DOCUMENTS]: MutationMethod<(typeof MUTATION_DOCUMENTS)[K], K> };

export interface RetryQuotaExceededOptions {
  /** Retries after the first attempt (default 3). */
  maxRetries: number;
  /** Give up at once when the server asks to wait longer than this (default 60 seconds). */
  maxWaitSeconds?: number;
  /** Wait used when a QUOTA_EXCEEDED error carries no `retryAfter` (default 1 second). */
  defaultWaitSeconds?: number;
}

export interface ClientOptions {
  /** The GraphQL endpoint, e.g. `http://127.0.0.1:4000/graphql`. */
  url: string | URL;
  /** A bearer JWT, or a function returning one (called before every request, e.g. to refresh it). */
  token?: string | (() => string | Promise<string>);
  /** A fetch implementation (default: the global fetch). */
  fetch?: typeof globalThis.fetch;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /**
   * Retry requests refused with QUOTA_EXCEEDED after waiting `retryAfter` seconds. `true` means
   * `{ maxRetries: 3 }`. A refused request writes nothing, so mutations are retried too. Off by default.
   */
  retryQuotaExceeded?: boolean | RetryQuotaExceededOptions;
}

export interface HooklaneClient extends QueryMethods, MutationMethods {
  /**
   * Runs any document (e.g. your own operation) and returns its whole `data`: its text, a typed
   * document string, or a parsed document that kept its source (`graphql`'s `parse`, `graphql-tag`).
   */
  request<TResult, TVariables extends Record<string, unknown> = Record<string, never>>(
    document: GraphQLDocument<TResult, TVariables>,
    variables?: TVariables,
    options?: CallOptions,
  ): Promise<TResult>;
}

/** `Retry-After` as seconds: delta-seconds or an HTTP date. */
function parseRetryAfterHeader(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

function errorFromResponse(errors: ReadonlyArray<GraphQLErrorEntry>, status: number, retryAfterHeader: number | undefined): HooklaneError {
  const first = errors[0]!;
  const extensions = first.extensions ?? {};
  const rawCode = typeof extensions.code === 'string' ? extensions.code : undefined;
  const code: ContractErrorCode = isContractErrorCode(rawCode) ? rawCode : 'INTERNAL_SERVER_ERROR';
  const retryAfter = typeof extensions.retryAfter === 'number' ? extensions.retryAfter : retryAfterHeader;
  return new HooklaneError(code, first.message, { retryAfter, path: first.path, status, extensions, errors });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function retryPolicy(option: ClientOptions['retryQuotaExceeded']): Required<RetryQuotaExceededOptions> | undefined {
  if (!option) return undefined;
  const given = option === true ? { maxRetries: 3 } : option;
  return { maxWaitSeconds: 60, defaultWaitSeconds: 1, ...given };
}

/**
 * A typed client for Hooklane's GraphQL API: one method per Query and Mutation field, named after
 * it. Queries take their variables (`client.subscription({ id })`), mutations their input
 * (`client.publishEvent({ eventType, payload })`); each resolves to the field's value and throws a
 * {@link HooklaneError} on any error.
 */
export function createClient(options: ClientOptions): HooklaneClient {
  const url = String(options.url);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const retry = retryPolicy(options.retryQuotaExceeded);

  async function once<TResult>(query: string, variables: unknown, call: CallOptions): Promise<TResult> {
    const token = typeof options.token === 'function' ? await options.token() : options.token;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...options.headers,
      ...call.headers,
    };
    if (token) headers.authorization = `Bearer ${token}`;
    let response: Response;
    try {
      response = await fetchImpl(url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query, variables: variables ?? {} }),
        signal: call.signal,
      });
    } catch (error) {
      throw new HooklaneError('NETWORK_ERROR', `Could not reach ${url}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
    }
    const retryAfterHeader = parseRetryAfterHeader(response.headers.get('retry-after'));
    const text = await response.text().catch((error: unknown) => {
      throw new HooklaneError('NETWORK_ERROR', `The response from ${url} was cut short`, { status: response.status, cause: error });
    });
    let body: { data?: unknown; errors?: GraphQLErrorEntry[] } | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = undefined;
    }
    if (body && Array.isArray(body.errors) && body.errors.length > 0) {
      throw errorFromResponse(body.errors, response.status, retryAfterHeader);
    }
    if (!body || typeof body !== 'object' || body.data === undefined || body.data === null || !response.ok) {
      const status = response.status;
      if (status === 401) throw new HooklaneError('UNAUTHENTICATED', 'The API refused the token', { status });
      if (status === 429) throw new HooklaneError('QUOTA_EXCEEDED', 'Too many requests', { status, retryAfter: retryAfterHeader });
      throw new HooklaneError('BAD_RESPONSE', `Expected a GraphQL result from ${url}, got HTTP ${status}: ${text.slice(0, 200)}`, {
        status,
        retryAfter: retryAfterHeader,
      });
    }
    return body.data as TResult;
  }

  async function request<TResult>(document: GraphQLDocument<any, any>, variables?: unknown, call: CallOptions = {}): Promise<TResult> {
    const query = documentText(document);
    for (let attempt = 0; ; attempt++) {
      try {
        return await once<TResult>(query, variables, call);
      } catch (error) {
        if (!retry || !(error instanceof HooklaneError) || error.code !== 'QUOTA_EXCEEDED' || attempt >= retry.maxRetries) throw error;
        const waitSeconds = error.retryAfter ?? retry.defaultWaitSeconds;
        if (waitSeconds > retry.maxWaitSeconds) throw error;
        await sleep(Math.max(0, waitSeconds) * 1000, call.signal);
      }
    }
  }

  const client: Record<string, unknown> = { request };
  for (const [field, document] of Object.entries(QUERY_DOCUMENTS)) {
    client[field] = async (variables?: Record<string, unknown>, call?: CallOptions) =>
      (await request<Record<string, unknown>>(document, variables, call))[field];
  }
  for (const [field, document] of Object.entries(MUTATION_DOCUMENTS)) {
    client[field] = async (input: unknown, call?: CallOptions) =>
      (await request<Record<string, unknown>>(document, { input }, call))[field];
  }
  return client as unknown as HooklaneClient;
}
