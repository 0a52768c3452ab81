import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  doublePrecision,
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
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
  /** The publish-rate token bucket, shared by every API process. */
  publishTokens: doublePrecision('publish_tokens'),
  publishTokensAt: timestamp('publish_tokens_at', { withTimezone: true, mode: 'date' }),
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

/** Every management mutation: who, what, when, from which token subject. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: text('id').primaryKey(),
    /** The tenant acted on; null for platform actions that outlive their tenant (its deletion). */
    tenantId: text('tenant_id').references(() => tenants.id, { onDelete: 'cascade' }),
    actorSubject: text('actor_subject'),
    actorRole: text('actor_role').notNull(),
    action: text('action').notNull(),
    targetId: text('target_id'),
    details: jsonb('details'),
    createdAt: createdAt(),
  },
  (table) => [index('audit_log_tenant_idx').on(table.tenantId, table.id)],
);

export const eventTypes = pgTable(
  'event_types',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description'),
    schema: jsonb('schema'),
    createdAt: createdAt(),
  },
  (table) => [
    uniqueIndex('event_types_tenant_name_key').on(table.tenantId, table.name),
    unique('event_types_tenant_id_key').on(table.tenantId, table.id),
    check('event_types_name_format', sql`${table.name} ~ '^[a-zA-Z0-9_-]+(\\.[a-zA-Z0-9_-]+)*$'`),
  ],
);

export const payloadMode = pgEnum('payload_mode', ['FULL', 'THIN']);
export const disabledReason = pgEnum('subscription_disabled_reason', ['MANUAL', 'FAILING', 'GONE']);

export const subscriptions = pgTable(
  'subscriptions',
  {
    id: text('id').primaryKey(),
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
    payloadMode: payloadMode('payload_mode').notNull().default('FULL'),
    /** Deliveries per second; null is unlimited. The token bucket lives in the row. */
    rateLimit: integer('rate_limit'),
    rateTokens: doublePrecision('rate_tokens'),
    rateUpdatedAt: timestamp('rate_updated_at', { withTimezone: true, mode: 'date' }),
    /** Deliveries in flight at once, across all workers; null is unlimited. */
    maxInFlight: integer('max_in_flight'),
    disabledReason: disabledReason('disabled_reason'),
    /** Endpoint health: since when every attempt has failed, and how many deliveries failed in a row. */
    failingSince: timestamp('failing_since', { withTimezone: true, mode: 'date' }),
    failedDeliveriesInRow: integer('failed_deliveries_in_row').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    check('subscriptions_rate_limit_positive', sql`${table.rateLimit} is null or ${table.rateLimit} > 0`),
    check('subscriptions_max_in_flight_positive', sql`${table.maxInFlight} is null or ${table.maxInFlight} > 0`),
    unique('subscriptions_tenant_id_key').on(table.tenantId, table.id),
    index('subscriptions_event_types_idx').using('gin', table.eventTypes),
    check('subscriptions_has_secret', sql`cardinality(${table.secrets}) >= 1`),
  ],
);

export const events = pgTable(
  'events',
  {
    id: text('id').primaryKey(),
    // Its tenant must exist, and deleting the tenant deletes it: a trigger of drizzle/0000_baseline that
    // acts once per statement, not a foreign key checked row by row.
    tenantId: text('tenant_id').notNull(),
    eventType: text('event_type').notNull(),
    /** The exact bytes every delivery sends and signs: `{"type","timestamp","data"}`. */
    body: text('body').notNull(),
    idempotencyKey: text('idempotency_key'),
    orderingKey: text('ordering_key'),
    channels: text('channels').array(),
    createdAt: createdAt(),
  },
  (table) => [
    unique('events_tenant_id_key').on(table.tenantId, table.id),
    // Partial: an event without a key (most) costs no entry; NULLs never conflict anyway.
    uniqueIndex('events_tenant_idempotency_key').on(table.tenantId, table.idempotencyKey).where(sql`${table.idempotencyKey} is not null`),
  ],
);

/** HELD: kept while the subscription is disabled; drains in publish order when it is enabled. */
export const deliveryStatus = pgEnum('delivery_status', ['PENDING', 'SUCCEEDED', 'FAILED', 'HELD']);

export const deliveries = pgTable(
  'deliveries',
  {
    id: text('id').primaryKey(),
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
    // triggers of drizzle/0000_baseline that act once per statement, not foreign keys checked row by row.
    unique('deliveries_tenant_id_key').on(table.tenantId, table.id),
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
]);

export const deliveryAttempts = pgTable(
  'delivery_attempts',
  {
    id: text('id').primaryKey(),
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
    foreignKey({
      columns: [table.tenantId, table.deliveryId],
      foreignColumns: [deliveries.tenantId, deliveries.id],
    }).onDelete('cascade'),
    index('delivery_attempts_delivery_idx').on(table.deliveryId, table.id),
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
export type AttemptOutcomeName = (typeof attemptOutcome.enumValues)[number];
