import { and, asc, eq, getTableColumns, gt, gte, inArray, isNotNull, lt, lte, sql } from 'drizzle-orm';
import { newId } from '../../ids.js';
import type { Executor, Run } from '../client.js';
import { toPage, type Page, type PageRequest } from '../pagination.js';
import { deliverySearchConditions, deliverySearchQuery, type DeliverySearch } from './search.js';
import {
  deliveries,
  deliveryAttempts,
  events,
  subscriptions,
  type AttemptOutcomeName,
  type DeliveryAttemptRow,
  type DeliveryRow,
  type DeliveryStatus,
  type PayloadMode,
} from '../schema.js';

/** Everything one attempt needs, read by the claim that starts it. */
export interface DeliveryWork {
  id: string;
  attemptCount: number;
  orderingKey: string | null;
  eventId: string;
  eventType: string;
  eventCreatedAt: Date;
  /** Null when the event's payload is expunged: there is nothing to send. */
  body: string | null;
  subscriptionId: string;
  url: string;
  /** Sealed HMAC secrets in force now: the current one, and the previous one during a rotation's overlap. */
  secrets: string[];
  /** Sealed `whsk_` key when the subscription signs with Ed25519 too. */
  ed25519SecretKey: string | null;
  subscriptionEnabled: boolean;
  /** The subscription's failing clock runs (a success must stop it). */
  subscriptionFailing: boolean;
  payloadMode: PayloadMode;
  retryScheduleMs: number[] | null;
  rateLimit: number | null;
  maxInFlight: number | null;
  ordered: boolean;
  /** The tenant's own deliveries-in-flight quota, when an operator set one. */
  tenantInFlightQuota: number | null;
  /** The version of the subscription's endpoint settings (headers, auth, TLS); null when it has none. */
  endpointVersion: number | null;
  /** A test event's delivery (sendTestEvent): one attempt, sent while the subscription is disabled too. */
  test: boolean;
  /** The event's stored `traceparent` (see src/observability/trace-context.ts); null: it has none. */
  traceContext: string | null;
}

export interface AttemptRecord {
  statusCode: number | null;
  outcome: AttemptOutcomeName;
  error: string | null;
  durationMs: number;
  responseBody: string | null;
}

export interface NewDelivery {
  eventId: string;
  subscriptionId: string;
  status: 'PENDING' | 'HELD';
  orderingKey: string | null;
}

export type WorkRow = {
  id: string;
  attempt_count: number;
  ordering_key: string | null;
  event_id: string;
  event_type: string;
  event_created_at: Date | string;
  body: string | null;
  subscription_id: string;
  url: string;
  secrets: string[];
  ed25519_secret_key: string | null;
  enabled: boolean;
  failing: boolean;
  payload_mode: PayloadMode;
  retry_schedule_ms: number[] | null;
  rate_limit: number | null;
  max_in_flight: number | null;
  ordered: boolean;
  quota_deliveries_in_flight: number | null;
  endpoint_version: number | null;
  test: boolean;
  trace_context: string | null;
};

/**
 * True for a delivery whose event still has its payload. Every path that sends a delivery again
 * (retryDelivery, replayEvent, recoverSubscription, bulk retries) leaves out the others: an
 * expunged event has nothing left to send (see assertPayloadKept in src/domain/manual-control.ts).
 */
export const eventPayloadKept = sql`not exists (select from ${events} where ${events.tenantId} = ${deliveries.tenantId}
  and ${events.id} = ${deliveries.eventId} and ${events.payloadExpungedAt} is not null)`;

export class DeliveryStore {
  constructor(
    private readonly run: Run,
    private readonly tenantId: string,
    /** For functions that declare the tenant themselves. */
    private readonly direct: Executor,
  ) {}

  private owned(id: string) {
    return and(eq(deliveries.tenantId, this.tenantId), eq(deliveries.id, id));
  }

  /**
   * New deliveries, to those of their subscriptions that still exist. Each subscription stays locked
   * (FOR KEY SHARE) until the transaction ends, so its deletion waits and then deletes these
   * deliveries too (hooklane_delete_dependents), as hooklane_write_event_columns does for a publish.
   */
  async insertMany(rows: readonly NewDelivery[]): Promise<DeliveryRow[]> {
    if (rows.length === 0) return [];
    const wanted = [...new Set(rows.map((row) => row.subscriptionId))];
    const locked = await this.run((db) => db
      .select({ id: subscriptions.id })
      .from(subscriptions)
      .where(and(eq(subscriptions.tenantId, this.tenantId), inArray(subscriptions.id, wanted)))
      .orderBy(asc(subscriptions.id))
      .for('key share'));
    const present = new Set(locked.map((row) => row.id));
    const kept = rows.filter((row) => present.has(row.subscriptionId));
    if (kept.length === 0) return [];
    return this.run((db) => db
      .insert(deliveries)
      .values(
        kept.map((row) => ({
          id: newId('delivery'),
          tenantId: this.tenantId,
          ...row,
          nextAttemptAt: row.status === 'PENDING' ? sql`now()` : null,
        })),
      )
      .returning());
  }

  async find(id: string): Promise<DeliveryRow | undefined> {
    const [row] = await this.run((db) => db.select().from(deliveries).where(this.owned(id)));
    return row;
  }

  /** The deliveries of each event, oldest first, at most `perEvent` of each. */
  async listForEvents(eventIds: readonly string[], perEvent: number): Promise<DeliveryRow[]> {
    if (eventIds.length === 0) return [];
    return this.run(async (db) => {
      const ranked = db
        .select({
          ...getTableColumns(deliveries),
          position: sql<number>`row_number() over (partition by ${deliveries.eventId} order by ${deliveries.id})`.as('position'),
        })
        .from(deliveries)
        .where(and(eq(deliveries.tenantId, this.tenantId), inArray(deliveries.eventId, [...eventIds])))
        .as('ranked');
      const rows = await db.select().from(ranked).where(lte(ranked.position, perEvent)).orderBy(asc(ranked.id));
      return rows.map(({ position: _position, ...row }) => row);
    });
  }

  /** The attempts of each delivery, oldest first, at most `perDelivery` of each. */
  async listAttempts(deliveryIds: readonly string[], perDelivery: number): Promise<DeliveryAttemptRow[]> {
    if (deliveryIds.length === 0) return [];
    return this.run(async (db) => {
      const ranked = db
        .select({
          ...getTableColumns(deliveryAttempts),
          position: sql<number>`row_number() over (partition by ${deliveryAttempts.deliveryId} order by ${deliveryAttempts.id})`.as('position'),
        })
        .from(deliveryAttempts)
        .where(and(eq(deliveryAttempts.tenantId, this.tenantId), inArray(deliveryAttempts.deliveryId, [...deliveryIds])))
        .as('ranked');
      const rows = await db.select().from(ranked).where(lte(ranked.position, perDelivery)).orderBy(asc(ranked.id));
      return rows.map(({ position: _position, ...row }) => row);
    });
  }

  /**
   * Starts attempts: marks each delivery claimed for `claimMs` and returns what its attempt needs,
   * in one statement (the ids in a stable order, so that two batches never wait on each other in
   * a cycle). A delivery that is not PENDING, not yet due, or already being attempted is left out:
   * so two jobs for one delivery never make two attempts at once.
   */
  async claimMany(ids: readonly string[], claimMs: number, countEveryClaim: boolean): Promise<Map<string, DeliveryWork>> {
    const rows = (await this.direct.execute(
      sql`select * from hooklane_claim_deliveries(${this.tenantId}, ${JSON.stringify(ids)}::json, ${Math.round(claimMs)}, ${countEveryClaim})`,
    )) as unknown as WorkRow[];
    return new Map(rows.map((row) => [row.id, toDeliveryWork(row)]));
  }

  /** The tenant's PENDING deliveries, counted up to `cap` (an index-only scan of at most `cap` entries). */
  async countPending(cap: number): Promise<number> {
    const rows = (await this.run((db) =>
      db.execute(sql`select count(*)::int as count from (
        select 1 from deliveries where tenant_id = ${this.tenantId} and status = 'PENDING' limit ${cap}) as backlog`),
    )) as unknown as { count: number }[];
    return rows[0]?.count ?? 0;
  }

  /**
   * How many of the tenant's deliveries are being attempted right now, by any worker: the claims
   * counted for an in-flight limit (see claimMany), all of them when a default tenant quota is set.
   */
  async countInFlight(): Promise<number> {
    const [row] = await this.run((db) =>
      db
        .select({ count: sql<number>`count(*)::int` })
        .from(deliveries)
        .where(
          and(
            eq(deliveries.tenantId, this.tenantId),
            sql`${deliveries.countedClaimUntil} is not null`,
            sql`${deliveries.countedClaimUntil} > now()`,
          ),
        ),
    );
    return row?.count ?? 0;
  }

  /** The oldest PENDING delivery of a subscription that is due now and not being attempted. */
  async oldestDue(subscriptionId: string): Promise<Pick<DeliveryRow, 'id'> | undefined> {
    const [row] = await this.run((db) =>
      db
        .select({ id: deliveries.id })
        .from(deliveries)
        .where(
          and(
            eq(deliveries.tenantId, this.tenantId),
            eq(deliveries.subscriptionId, subscriptionId),
            eq(deliveries.status, 'PENDING'),
            sql`(${deliveries.nextAttemptAt} is null or ${deliveries.nextAttemptAt} <= now())`,
            sql`(${deliveries.claimedUntil} is null or ${deliveries.claimedUntil} < now())`,
          ),
        )
        .orderBy(asc(deliveries.id))
        .limit(1),
    );
    return row;
  }

  /** The oldest PENDING delivery of an ordered stream, with when it is due. */
  async headOfStream(subscriptionId: string, orderingKey: string | null): Promise<Pick<DeliveryRow, 'id' | 'nextAttemptAt' | 'claimedUntil'> | undefined> {
    const [row] = await this.run((db) => db
      .select({ id: deliveries.id, nextAttemptAt: deliveries.nextAttemptAt, claimedUntil: deliveries.claimedUntil })
      .from(deliveries)
      .where(
        and(
          eq(deliveries.tenantId, this.tenantId),
          eq(deliveries.subscriptionId, subscriptionId),
          eq(deliveries.status, 'PENDING'),
          orderingKey === null ? sql`${deliveries.orderingKey} is null` : eq(deliveries.orderingKey, orderingKey),
        ),
      )
      .orderBy(asc(deliveries.id))
      .limit(1));
    return row;
  }

  /** Gives a claimed delivery back without an attempt, due again at `runAt`. */
  async defer(id: string, runAt: Date): Promise<void> {
    await this.run((db) => db.update(deliveries).set({ claimedUntil: null, countedClaimUntil: null, nextAttemptAt: runAt, updatedAt: sql`now()` }).where(this.owned(id)));
  }

  /** Keeps a delivery while its subscription is disabled. */
  async hold(id: string): Promise<void> {
    await this.run((db) => db
      .update(deliveries)
      .set({ status: 'HELD', claimedUntil: null, countedClaimUntil: null, nextAttemptAt: null, updatedAt: sql`now()` })
      .where(this.owned(id)));
  }

  /** Stores one attempt and the delivery's new state; the claim ends (hooklane_record_attempts). */
  async recordAttempt(id: string, attempt: AttemptRecord, next: { status: DeliveryStatus; nextAttemptAt: Date | null }): Promise<void> {
    await this.recordAttempts([{ deliveryId: id, attempt, ...next }]);
  }

  /** Records many successful attempts at once, in one statement (hooklane_record_attempts). */
  async recordSuccesses(entries: readonly { deliveryId: string; attempt: AttemptRecord }[]): Promise<void> {
    await this.recordAttempts(entries.map((entry) => ({ ...entry, status: 'SUCCEEDED', nextAttemptAt: null })));
  }

  /**
   * Attempts, their deliveries' new states and the delivery_stats rollup of this minute, in one
   * statement: in the caller's transaction when this scope is bound to one.
   */
  private async recordAttempts(
    entries: readonly { deliveryId: string; attempt: AttemptRecord; status: DeliveryStatus; nextAttemptAt: Date | null }[],
  ): Promise<void> {
    if (entries.length === 0) return;
    const attempts = entries.map(({ deliveryId, attempt, status, nextAttemptAt }) => ({
      id: newId('attempt'),
      delivery_id: deliveryId,
      status_code: attempt.statusCode,
      outcome: attempt.outcome,
      error: attempt.error,
      duration_ms: attempt.durationMs,
      response_body: attempt.responseBody,
      status,
      next_attempt_at: nextAttemptAt?.toISOString() ?? null,
    }));
    await this.direct.execute(sql`select hooklane_record_attempts(${this.tenantId}, ${JSON.stringify(attempts)}::json)`);
  }

  /** Makes a delivery due now (manual retry); an attempt in flight keeps its claim. */
  async makeDueNow(id: string): Promise<DeliveryRow | undefined> {
    const [row] = await this.run((db) => db
      .update(deliveries)
      .set({ status: 'PENDING', nextAttemptAt: sql`now()`, updatedAt: sql`now()` })
      .where(this.owned(id))
      .returning());
    return row;
  }

  /**
   * The deliveries of an event whose payload was just expunged: those still to be sent (PENDING,
   * HELD) become FAILED, since nothing is left to send, and the response bodies of its attempts
   * (a receiver may echo what it got) are erased; status codes, outcomes and timings stay.
   * Returns the deliveries it failed.
   */
  async settleExpungedEvent(eventId: string): Promise<DeliveryRow[]> {
    const failed = await this.run((db) => db
      .update(deliveries)
      .set({ status: 'FAILED', nextAttemptAt: null, updatedAt: sql`now()` })
      .where(and(eq(deliveries.tenantId, this.tenantId), eq(deliveries.eventId, eventId), inArray(deliveries.status, ['PENDING', 'HELD'])))
      .returning());
    await this.run((db) => db.execute(sql`update ${deliveryAttempts} a set response_body = null
      from ${deliveries} d
      where d.tenant_id = ${this.tenantId} and d.event_id = ${eventId}
        and a.tenant_id = ${this.tenantId} and a.delivery_id = d.id and a.response_body is not null`));
    return failed;
  }

  /**
   * A claimed delivery of an expunged event (a job queued before the erasure, or a retry scheduled
   * by an attempt that was in flight during it): FAILED without an attempt, its claim ended, and
   * the response bodies of its attempts (the one in flight was recorded after the erasure) erased.
   */
  async failExpunged(id: string): Promise<void> {
    await this.run(async (db) => {
      await db
        .update(deliveries)
        .set({ status: 'FAILED', nextAttemptAt: null, claimedUntil: null, countedClaimUntil: null, updatedAt: sql`now()` })
        .where(this.owned(id));
      await db
        .update(deliveryAttempts)
        .set({ responseBody: null })
        .where(and(eq(deliveryAttempts.tenantId, this.tenantId), eq(deliveryAttempts.deliveryId, id), isNotNull(deliveryAttempts.responseBody)));
    });
  }

  /** HELD deliveries of a subscription become PENDING, returned in publish order. */
  async releaseHeld(subscriptionId: string): Promise<DeliveryRow[]> {
    const rows = await this.run((db) => db
      .update(deliveries)
      .set({ status: 'PENDING', nextAttemptAt: sql`now()`, updatedAt: sql`now()` })
      .where(and(eq(deliveries.tenantId, this.tenantId), eq(deliveries.subscriptionId, subscriptionId), eq(deliveries.status, 'HELD')))
      .returning());
    return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async discardHeld(subscriptionId: string): Promise<number> {
    const rows = await this.run((db) => db
      .delete(deliveries)
      .where(and(eq(deliveries.tenantId, this.tenantId), eq(deliveries.subscriptionId, subscriptionId), eq(deliveries.status, 'HELD')))
      .returning({ id: deliveries.id }));
    return rows.length;
  }

  /** The FAILED deliveries of a subscription created in [since, until), but those of test events (sent once, never again). */
  private failedInWindowOfAnyPayload(subscriptionId: string, since: Date, until: Date) {
    return and(
      eq(deliveries.tenantId, this.tenantId),
      eq(deliveries.subscriptionId, subscriptionId),
      eq(deliveries.status, 'FAILED'),
      gte(deliveries.createdAt, since),
      lt(deliveries.createdAt, until),
      sql`not exists (select from ${events} where ${events.id} = ${deliveries.eventId} and ${events.test})`,
    );
  }

  /** Those of them that can be re-sent: their event's payload is kept. */
  private failedInWindow(subscriptionId: string, since: Date, until: Date) {
    return and(this.failedInWindowOfAnyPayload(subscriptionId, since, until), eventPayloadKept);
  }

  /** The FAILED deliveries of the window that a recovery re-sends, and those it skips because their event's payload is expunged. */
  async countFailed(subscriptionId: string, since: Date, until: Date): Promise<{ resendable: number; expunged: number }> {
    const [row] = await this.run((db) => db
      .select({
        resendable: sql<number>`count(*) filter (where ${eventPayloadKept})::int`,
        expunged: sql<number>`count(*) filter (where not ${eventPayloadKept})::int`,
      })
      .from(deliveries)
      .where(this.failedInWindowOfAnyPayload(subscriptionId, since, until)));
    return { resendable: row?.resendable ?? 0, expunged: row?.expunged ?? 0 };
  }

  /**
   * The first `limit` FAILED deliveries created in [since, until), in publish order, after the
   * delivery `after` (a recovery's cursor), locked until the transaction ends.
   */
  async lockFailedBatch(subscriptionId: string, since: Date, until: Date, after: string | null, limit: number): Promise<string[]> {
    const rows = await this.run((db) => db
      .select({ id: deliveries.id })
      .from(deliveries)
      .where(and(this.failedInWindow(subscriptionId, since, until), after === null ? undefined : gt(deliveries.id, after)))
      .orderBy(asc(deliveries.id))
      .limit(limit)
      .for('update'));
    return rows.map((row) => row.id);
  }

  /** A page of the deliveries that match `search`, newest first. */
  async search(search: DeliverySearch, page: PageRequest): Promise<Page<DeliveryRow>> {
    const rows = await this.run((db) => deliverySearchQuery(db, this.tenantId, search, page.afterId, page.first + 1));
    return toPage(rows, page.first);
  }

  /**
   * The newest `cap` deliveries that match `search`: how many they are, and the range of their ids
   * (a bulk retry re-sends exactly those; one made since is above `lastId`).
   */
  async matchingRange(search: DeliverySearch, cap: number): Promise<{ count: number; firstId: string | null; lastId: string | null }> {
    const [row] = await this.run((db) => {
      // The search's own page query, `cap` long: read through the same indexes as `deliveries(filter)`.
      const matching = deliverySearchQuery(db, this.tenantId, search, undefined, cap).as('matching');
      return db
        .select({
          // An expunged event's deliveries are in the range but never re-sent (eventPayloadKept).
          count: sql<number>`count(*) filter (where not exists (select from ${events} where ${events.tenantId} = ${this.tenantId}
            and ${events.id} = ${matching.eventId} and ${events.payloadExpungedAt} is not null))::int`,
          firstId: sql<string | null>`min(${matching.id})`,
          lastId: sql<string | null>`max(${matching.id})`,
        })
        .from(matching);
    });
    return { count: row?.count ?? 0, firstId: row?.firstId ?? null, lastId: row?.lastId ?? null };
  }

  /**
   * The first `limit` deliveries that match `search` with ids in [firstId, lastId] after `after`,
   * oldest first, locked until the transaction ends (a bulk retry's next batch).
   */
  async lockMatchingBatch(search: DeliverySearch, firstId: string, lastId: string, after: string | null, limit: number): Promise<DeliveryRow[]> {
    return this.run((db) => db
      .select()
      .from(deliveries)
      .where(and(
        deliverySearchConditions(this.tenantId, search),
        gte(deliveries.id, firstId),
        after === null ? undefined : gt(deliveries.id, after),
        lte(deliveries.id, lastId),
        eventPayloadKept,
      ))
      .orderBy(asc(deliveries.id))
      .limit(limit)
      .for('update'));
  }

  /** These deliveries, if still in `status`, become PENDING and due now, returned in publish order. */
  async reopen(ids: readonly string[], status: DeliveryStatus): Promise<DeliveryRow[]> {
    if (ids.length === 0) return [];
    const rows = await this.run((db) => db
      .update(deliveries)
      .set({ status: 'PENDING', nextAttemptAt: sql`now()`, updatedAt: sql`now()` })
      .where(and(eq(deliveries.tenantId, this.tenantId), inArray(deliveries.id, [...ids]), eq(deliveries.status, status)))
      .returning());
    return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}

export function toDeliveryWork(row: WorkRow): DeliveryWork {
  return {
    id: row.id,
    attemptCount: row.attempt_count,
    orderingKey: row.ordering_key,
    eventId: row.event_id,
    eventType: row.event_type,
    eventCreatedAt: new Date(row.event_created_at),
    body: row.body,
    subscriptionId: row.subscription_id,
    url: row.url,
    secrets: row.secrets,
    ed25519SecretKey: row.ed25519_secret_key,
    subscriptionEnabled: row.enabled,
    subscriptionFailing: row.failing,
    payloadMode: row.payload_mode,
    retryScheduleMs: row.retry_schedule_ms,
    rateLimit: row.rate_limit,
    maxInFlight: row.max_in_flight,
    ordered: row.ordered,
    tenantInFlightQuota: row.quota_deliveries_in_flight,
    endpointVersion: row.endpoint_version,
    test: row.test,
    traceContext: row.trace_context,
  };
}
