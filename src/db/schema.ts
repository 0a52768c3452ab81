import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  doublePrecision,
  check,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();

export const tenantStatus = pgEnum('tenant_status', ['ACTIVE', 'SUSPENDED']);

export const tenants = pgTable('tenants', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  status: tenantStatus('status').notNull().default('ACTIVE'),
  /** Quota overrides set by an operator; null takes the configured default. */
  quotaPublishRate: integer('quota_publish_rate'),
  quotaPublishBurst: integer('quota_publish_burst'),
  quotaEventsPerMonth: integer('quota_events_per_month'),
  quotaSubscriptions: integer('quota_subscriptions'),
  quotaEventTypes: integer('quota_event_types'),
  quotaPayloadBytes: integer('quota_payload_bytes'),
  quotaDeliveriesInFlight: integer('quota_deliveries_in_flight'),
  /** How long the tenant's events are kept (RETENTION overridden), in milliseconds. */
  quotaRetentionMs: bigint('quota_retention_ms', { mode: 'number' }),
  /** The publish-rate token bucket, shared by every API process. */
  publishTokens: doublePrecision('publish_tokens'),
  publishTokensAt: timestamp('publish_tokens_at', { withTimezone: true, mode: 'date' }),
  /** revokeTokens: the tenant's tokens issued (`iat`) before this are refused; it only moves forward. */
  tokensRevokedBefore: timestamp('tokens_revoked_before', { withTimezone: true, mode: 'date' }),
  /** Moves with every change publishing reads (hooklane_bump_config_version): cached publish reads are checked against it. */
  configVersion: bigint('config_version', { mode: 'number' }).notNull().default(0),
  createdAt: createdAt(),
});

/** Events published per tenant and calendar month (UTC), for the monthly quota. */
export const tenantUsage = pgTable(
  'tenant_usage',
  {
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    period: text('period').notNull(),
    events: integer('events').notNull().default(0),
  },
  (table) => [primaryKey({ columns: [table.tenantId, table.period] }), check('tenant_usage_events_nonnegative', sql`${table.events} >= 0`)],
);

/** Every management mutation of a tenant: who, what, when, from which token subject. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: text('id').notNull(),
    /** The tenant acted on; platform actions that outlive their tenant go to platform_audit_log. */
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    actorSubject: text('actor_subject'),
    actorRole: text('actor_role').notNull(),
    action: text('action').notNull(),
    targetId: text('target_id'),
    details: jsonb('details'),
    createdAt: createdAt(),
  },
  // The primary key serves the tenant's log, newest first.
  (table) => [primaryKey({ name: 'audit_log_pkey', columns: [table.tenantId, table.id] })],
);

/**
 * Platform actions that outlive their tenant (its deletion): audit_log's rows belong to a tenant
 * and go with it.
 */
export const platformAuditLog = pgTable('platform_audit_log', {
  id: text('id').primaryKey(),
  actorSubject: text('actor_subject'),
  actorRole: text('actor_role').notNull(),
  action: text('action').notNull(),
  targetId: text('target_id'),
  details: jsonb('details'),
  createdAt: createdAt(),
});

export const eventTypes = pgTable(
  'event_types',
  {
    id: text('id').notNull(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description'),
    schema: jsonb('schema'),
    /** Moves by one with every change of `schema`; each event records the version it was checked against. */
    version: integer('version').notNull().default(1),
    /** Still published and delivered; the catalog marks it so receivers move off it. */
    deprecated: boolean('deprecated').notNull().default(false),
    /** Set while archived: publishing it is refused and `eventTypes` leaves it out unless asked. */
    archivedAt: timestamp('archived_at', { withTimezone: true, mode: 'date' }),
    createdAt: createdAt(),
  },
  (table) => [
    primaryKey({ name: 'event_types_pkey', columns: [table.tenantId, table.id] }),
    uniqueIndex('event_types_tenant_name_key').on(table.tenantId, table.name),
    check('event_types_name_format', sql`${table.name} ~ '^[a-zA-Z0-9_-]+(\\.[a-zA-Z0-9_-]+)*$'`),
  ],
);

export const payloadMode = pgEnum('payload_mode', ['FULL', 'THIN']);
export const disabledReason = pgEnum('subscription_disabled_reason', ['MANUAL', 'FAILING', 'GONE']);
/** How deliveries authenticate to the endpoint; a null auth_type is none. */
export const endpointAuthType = pgEnum('endpoint_auth_type', ['BEARER', 'BASIC', 'OAUTH2']);

export const subscriptions = pgTable(
  'subscriptions',
  {
    id: text('id').notNull(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    eventTypes: text('event_types').array().notNull(),
    description: text('description'),
    enabled: boolean('enabled').notNull().default(true),
    /**
     * HMAC secrets that sign deliveries, newest first, sealed with SECRETS_KEY. Entries after the
     * first are the previous secret, valid until `previousSecretsExpireAt` (a rotation's overlap).
     */
    secrets: text('secrets').array().notNull(),
    previousSecretsExpireAt: timestamp('previous_secrets_expire_at', { withTimezone: true, mode: 'date' }),
    /** Optional Ed25519 signing (`v1a`): the sealed `whsk_` key and its `whpk_` public key. */
    ed25519SecretKey: text('ed25519_secret_key'),
    ed25519PublicKey: text('ed25519_public_key'),
    /** Overrides DELIVERY_RETRY_SCHEDULE for this subscription. */
    retryScheduleMs: integer('retry_schedule_ms').array(),
    /** Deliver strictly in publish order (per ordering key). */
    ordered: boolean('ordered').notNull().default(false),
    /** Receives only events published on one of these channels; null receives all. */
    channels: text('channels').array(),
    /** A payload filter (src/publish/payload-filter.ts): receives only the events it matches; null receives all. */
    filter: jsonb('filter'),
    payloadMode: payloadMode('payload_mode').notNull().default('FULL'),
    /**
     * At most this many attempts start in any one second; null is unlimited. The starts of the
     * last second live in the row, counted per 10 ms tick (see hooklane_admit_flow).
     */
    rateLimit: integer('rate_limit'),
    rateWindowTicks: bigint('rate_window_ticks', { mode: 'number' }).array(),
    rateWindowCounts: integer('rate_window_counts').array(),
    /** Deliveries in flight at once, across all workers; null is unlimited. */
    maxInFlight: integer('max_in_flight'),
    /** The turn given last to a delivery that rateLimit or maxInFlight turned away (hooklane_admit_flow). */
    flowTurnAt: timestamp('flow_turn_at', { withTimezone: true, mode: 'date' }),
    disabledReason: disabledReason('disabled_reason'),
    /** Endpoint health: since when every attempt has failed, and how many deliveries failed in a row. */
    failingSince: timestamp('failing_since', { withTimezone: true, mode: 'date' }),
    failedDeliveriesInRow: integer('failed_deliveries_in_row').notNull().default(0),
    /**
     * Endpoint settings sent with every attempt (src/domain/endpoint-settings.ts). Secret parts are
     * sealed with SECRETS_KEY; the names, certificates and expiry are readable. All null: none.
     */
    headerNames: text('header_names').array(),
    /** The sealed JSON object of header name → value. */
    headers: text('headers'),
    authType: endpointAuthType('auth_type'),
    /** The sealed JSON of the credentials of auth_type. */
    authCredentials: text('auth_credentials'),
    /** PEM: the client certificate (and chain) presented to the endpoint, and its sealed key. */
    tlsClientCertificate: text('tls_client_certificate'),
    tlsClientKey: text('tls_client_key'),
    tlsClientCertificateExpiresAt: timestamp('tls_client_certificate_expires_at', { withTimezone: true, mode: 'date' }),
    /** PEM: certificate authorities trusted for this endpoint, beside the system's. */
    tlsCaCertificate: text('tls_ca_certificate'),
    /** Moves with every change of the settings above: caches of their opened form (tokens, TLS connections) are keyed by it. */
    endpointVersion: integer('endpoint_version').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    check('subscriptions_rate_limit_positive', sql`${table.rateLimit} is null or ${table.rateLimit} > 0`),
    check('subscriptions_max_in_flight_positive', sql`${table.maxInFlight} is null or ${table.maxInFlight} > 0`),
    primaryKey({ name: 'subscriptions_pkey', columns: [table.tenantId, table.id] }),
    index('subscriptions_event_types_idx').using('gin', table.eventTypes),
    check('subscriptions_has_secret', sql`cardinality(${table.secrets}) >= 1`),
    check('subscriptions_headers_complete', sql`(${table.headerNames} is null) = (${table.headers} is null)`),
    check('subscriptions_auth_complete', sql`(${table.authType} is null) = (${table.authCredentials} is null)`),
    check('subscriptions_tls_client_complete', sql`(${table.tlsClientCertificate} is null) = (${table.tlsClientKey} is null)`),
  ],
);

/**
 * events, deliveries and delivery_attempts are partitioned by time, by the hand-written part of
 * the migration that made them so (drizzle-kit writes no PARTITION BY): by RANGE of the
 * time-ordered id (src/ids.ts), attempts by their delivery's id, so that an event's window holds
 * its deliveries and their attempts, a lookup by id reads one partition, and a window past every
 * tenant's retention is dropped whole (src/retention). Every primary key names the tenant and the
 * partition key.
 */
export const events = pgTable(
  'events',
  {
    id: text('id').notNull(),
    // Its tenant must exist, and deleting the tenant deletes it: triggers acting once per statement
    // (hooklane_check_event_references, hooklane_delete_dependents), not a foreign key checked row by row.
    tenantId: text('tenant_id').notNull(),
    eventType: text('event_type').notNull(),
    /**
     * The exact bytes every delivery sends and signs: `{"type","timestamp","data"}`. Null once the
     * payload is expunged (expungeEventPayload): nothing of it is kept, nothing is sent again.
     */
    body: text('body'),
    /** When expungeEventPayload erased the payload; null while it is kept. */
    payloadExpungedAt: timestamp('payload_expunged_at', { withTimezone: true, mode: 'date' }),
    /** Unique per tenant through event_idempotency_keys (a partitioned table has no such index). */
    idempotencyKey: text('idempotency_key'),
    orderingKey: text('ordering_key'),
    channels: text('channels').array(),
    /** The version of its event type's schema the payload was checked against. */
    eventTypeVersion: integer('event_type_version').notNull().default(1),
    /** Sent by sendTestEvent: one delivery, no retries, not counted in the monthly quota. */
    test: boolean('test').notNull().default(false),
    /**
     * The W3C `traceparent` (version 00, 55 characters) the publish belongs to: every attempt
     * sends one with its trace id and a span id of its own (src/observability/trace-context.ts).
     */
    traceContext: text('trace_context'),
    createdAt: createdAt(),
  },
  (table) => [
    primaryKey({ name: 'events_pkey', columns: [table.tenantId, table.id] }),
    // The last events of given types (previewSubscriptionFilter): newest first within each type.
    index('events_tenant_type_idx').on(table.tenantId, table.eventType, table.id),
    // events(filter: { orderingKey }), newest first; events without an ordering key add no entry.
    index('events_tenant_ordering_key_idx').on(table.tenantId, table.orderingKey, table.id).where(sql`${table.orderingKey} is not null`),
  ],
);

/**
 * Each idempotency key a tenant used, and its event: unique per tenant across every partition of
 * events. Written with the event (hooklane_write_event_columns, hooklane_check_event_references),
 * deleted with it.
 */
export const eventIdempotencyKeys = pgTable(
  'event_idempotency_keys',
  {
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    idempotencyKey: text('idempotency_key').notNull(),
    eventId: text('event_id').notNull(),
  },
  (table) => [
    primaryKey({ name: 'event_idempotency_keys_pkey', columns: [table.tenantId, table.idempotencyKey] }),
    // The retention sweep deletes the keys of a window of events before dropping it.
    index('event_idempotency_keys_event_idx').on(table.eventId),
  ],
);

/** HELD: kept while the subscription is disabled; drains in publish order when it is enabled. */
export const deliveryStatus = pgEnum('delivery_status', ['PENDING', 'SUCCEEDED', 'FAILED', 'HELD']);

export const deliveries = pgTable(
  'deliveries',
  {
    id: text('id').notNull(),
    tenantId: text('tenant_id').notNull(),
    eventId: text('event_id').notNull(),
    subscriptionId: text('subscription_id').notNull(),
    status: deliveryStatus('status').notNull().default('PENDING'),
    /** Copied from the event: an ordered subscription keeps order per key. */
    orderingKey: text('ordering_key'),
    attemptCount: integer('attempt_count').notNull().default(0),
    /** Set while a worker makes an attempt: no second attempt starts. In no index, so a claim is a HOT update. */
    claimedUntil: timestamp('claimed_until', { withTimezone: true, mode: 'date' }),
    /**
     * claimedUntil again, for the claims a limit counts (the subscription's maxInFlight, the tenant's
     * in-flight quota): only those are indexed, so counting them is cheap and other claims stay HOT.
     */
    countedClaimUntil: timestamp('counted_claim_until', { withTimezone: true, mode: 'date' }),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, mode: 'date' }),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    // A delivery's (tenant_id, event_id) and (tenant_id, subscription_id) must exist, so it cannot
    // point at another tenant's rows; deleting a subscription deletes its deliveries. Both are
    // triggers acting once per statement (hooklane_check_delivery_references, hooklane_delete_dependents),
    // not foreign keys checked row by row.
    primaryKey({ name: 'deliveries_pkey', columns: [table.tenantId, table.id] }),
    index('deliveries_event_idx').on(table.eventId),
    // Every read by subscription names a status, or only the subscription (a prefix of this index):
    // no (subscription_id, id) index, one index entry less per delivery written.
    index('deliveries_subscription_status_idx').on(table.subscriptionId, table.status, table.id),
    index('deliveries_pending_by_tenant_idx').on(table.tenantId).where(sql`${table.status} = 'PENDING'`),
    index('deliveries_counted_claims_idx').on(table.tenantId, table.subscriptionId).where(sql`${table.countedClaimUntil} is not null`),
    check('deliveries_attempt_count_nonnegative', sql`${table.attemptCount} >= 0`),
  ],
);

export const attemptOutcome = pgEnum('attempt_outcome', [
  'SUCCESS',
  'HTTP_ERROR',
  'RATE_LIMITED',
  'GONE',
  'TIMEOUT',
  'DNS_ERROR',
  'CONNECTION_ERROR',
  'TLS_ERROR',
  'REFUSED',
  'PROXY_ERROR',
  'OAUTH2_ERROR',
]);

export const deliveryAttempts = pgTable(
  'delivery_attempts',
  {
    id: text('id').notNull(),
    tenantId: text('tenant_id').notNull(),
    deliveryId: text('delivery_id').notNull(),
    statusCode: integer('status_code'),
    outcome: attemptOutcome('outcome').notNull(),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
    responseBody: text('response_body'),
    createdAt: createdAt(),
  },
  (table) => [
    // Partitioned by delivery_id; its delivery must exist, and deleting the delivery deletes it:
    // triggers acting once per statement (hooklane_check_attempt_references, hooklane_delete_dependents);
    // a foreign key to a partitioned table would be checked again whenever a partition is detached.
    primaryKey({ name: 'delivery_attempts_pkey', columns: [table.tenantId, table.deliveryId, table.id] }),
    check('delivery_attempts_duration_nonnegative', sql`${table.durationMs} >= 0`),
  ],
);

/**
 * Per subscription and minute, what the attempts recorded in that minute came to: the rollup that
 * `stats` reads, kept by the statement that records attempts (hooklane_record_attempts), so that
 * reading stats never scans deliveries. Rows older than a week are folded into one row per hour,
 * and rows past the rollup's retention deleted, by hooklane_sweep_delivery_stats.
 */
export const deliveryStats = pgTable(
  'delivery_stats',
  {
    tenantId: text('tenant_id').notNull(),
    subscriptionId: text('subscription_id').notNull(),
    /** The minute (UTC), or the hour once folded. */
    bucketStart: timestamp('bucket_start', { withTimezone: true, mode: 'date' }).notNull(),
    /** Deliveries whose first attempt was recorded in the bucket. */
    deliveries: integer('deliveries').notNull().default(0),
    /** Deliveries that became SUCCEEDED (each by a successful attempt) or FAILED in the bucket. */
    succeeded: integer('succeeded').notNull().default(0),
    failed: integer('failed').notNull().default(0),
    attempts: integer('attempts').notNull().default(0),
    /**
     * Response times of the attempts that got an HTTP answer: element i counts those that took
     * [1.2^i, 1.2^(i+1)) ms (hooklane_latency_bin), the last element open-ended; trailing empty bins left out.
     */
    latencyHistogram: integer('latency_histogram').array().notNull().default(sql`'{}'::integer[]`),
    lastSuccessAt: timestamp('last_success_at', { withTimezone: true, mode: 'date' }),
    /** The last attempt that failed, whether or not its delivery is retried. */
    lastFailureAt: timestamp('last_failure_at', { withTimezone: true, mode: 'date' }),
  },
  (table) => [
    // No foreign keys: a subscription's rows go with it (hooklane_delete_dependents), and only
    // hooklane_record_attempts writes them, from the deliveries it updates.
    primaryKey({ columns: [table.tenantId, table.subscriptionId, table.bucketStart] }),
    // The tenant's stats, and the sweep, read a tenant's rows by time.
    index('delivery_stats_tenant_bucket_idx').on(table.tenantId, table.bucketStart),
  ],
);

/**
 * Worker liveness: each worker pool's last heartbeat. The application role reaches it only through
 * functions (src/db/functions/hooklane_worker_*.sql, hooklane_unlock_dead_workers.sql).
 */
export const workerHeartbeats = pgTable('hooklane_worker_heartbeats', {
  workerId: text('worker_id').primaryKey(),
  heartbeatAt: timestamp('heartbeat_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

export type TenantRow = typeof tenants.$inferSelect;
export type AuditLogRow = typeof auditLog.$inferSelect;
export type PlatformAuditLogRow = typeof platformAuditLog.$inferSelect;
export type TenantStatus = (typeof tenantStatus.enumValues)[number];
export type EventTypeRow = typeof eventTypes.$inferSelect;
export type SubscriptionRow = typeof subscriptions.$inferSelect;
export type EventRow = typeof events.$inferSelect;
export type DeliveryRow = typeof deliveries.$inferSelect;
export type DeliveryAttemptRow = typeof deliveryAttempts.$inferSelect;
export type DeliveryStatsRow = typeof deliveryStats.$inferSelect;
export type DeliveryStatus = (typeof deliveryStatus.enumValues)[number];
export type PayloadMode = (typeof payloadMode.enumValues)[number];
export type DisabledReason = (typeof disabledReason.enumValues)[number];
export type EndpointAuthType = (typeof endpointAuthType.enumValues)[number];
export type AttemptOutcomeName = (typeof attemptOutcome.enumValues)[number];
