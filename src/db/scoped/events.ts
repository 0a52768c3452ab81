import { and, desc, eq, inArray, isNotNull, lt, sql, type SQL } from 'drizzle-orm';
import { findInErrorChain } from '../../errors.js';
import type { Executor, Run } from '../client.js';
import { jobSpecRecord, type JobSpec } from '../jobs.js';
import { deliverBatchJobs, type FirstAttempt, type HandedOffJobs } from '../../publish/job-policy.js';
import { toPage, type Page, type PageRequest } from '../pagination.js';
import { eventIdempotencyKeys, events, type EventRow, type EventTypeRow, type SubscriptionRow } from '../schema.js';
import { toDeliveryWork, type DeliveryWork, type WorkRow } from './deliveries.js';
import { eventSearchQuery, type EventSearch } from './search.js';

export interface NewEvent {
  id: string;
  eventType: string;
  body: string;
  idempotencyKey: string | null;
  orderingKey: string | null;
  channels: string[] | null;
  /** The version of the event type's schema the payload was checked against. */
  eventTypeVersion: number;
  /** A test event (sendTestEvent). */
  test?: boolean;
  createdAt: Date;
  /** The payload as published (in memory only), for payload filters; absent, they read `body`. */
  payload?: unknown;
  /** The `traceparent` its deliveries carry on (src/observability/trace-context.ts); absent or null: none. */
  traceContext?: string | null;
}

/** A planned delivery of an event, written only if its event is (see EventWrite). */
export interface PlannedDelivery {
  id: string;
  eventId: string;
  subscriptionId: string;
  status: 'PENDING' | 'HELD';
  orderingKey: string | null;
}

/** Events with everything that goes with them, written by one statement (hooklane_write_event_columns). */
export interface EventWrite {
  events: readonly NewEvent[];
  deliveries: readonly PlannedDelivery[];
  /**
   * The first attempts of PENDING deliveries to unordered subscriptions: written as `deliver_batch`
   * jobs (see deliverBatchJobs), each enqueued if any of its events is inserted.
   */
  firstAttempts: readonly FirstAttempt[];
  /** The first attempts are handed to this process's worker: their jobs wait (see HandedOffJobs). */
  handoff?: HandedOffJobs | null;
  /** A stream's job: enqueued if any of its events is inserted; a waiting stream keeps its run time if `preserveStreamRunAt`. */
  streamJobs: readonly { eventIds: readonly string[]; spec: JobSpec }[];
  preserveStreamRunAt: boolean;
  /**
   * Taken from the tenant's publish budget in the same statement, after the writes; null takes
   * nothing. A null `monthlyLimit` takes from the publish rate alone (test events).
   */
  quota: { count: number; rate: number; burst: number; monthlyLimit: number | null; period: string } | null;
  /**
   * The tenant's publish context version the plan was made from (a reused read): the write is
   * refused with StaleContextError if it has moved since. Null: read for this write, nothing to check.
   */
  contextVersion: number | null;
}

/** The stream jobs of an EventWrite, one per stream key, each with every event that needs it. */
export class StreamJobs {
  private readonly byKey = new Map<string, { eventIds: string[]; spec: JobSpec }>();

  add(spec: JobSpec, eventIds: readonly string[]): void {
    const stream = this.byKey.get(spec.jobKey!) ?? { eventIds: [], spec };
    stream.eventIds.push(...eventIds);
    this.byKey.set(spec.jobKey!, stream);
  }

  list(): EventWrite['streamJobs'] {
    return [...this.byKey.values()];
  }
}

/**
 * One column of a write as hooklane_write_event_columns takes it: the values joined by newlines.
 * They are ids, event type names, statuses, timestamps and compact JSON bodies, none of which holds
 * a newline; one that did would shift every row after it, so it is refused here.
 */
function lines<T>(rows: readonly T[], value: (row: T) => string): string {
  const joined = rows.map(value).join('\n');
  // A lone empty value would read as no row at all.
  const intact = rows.length === 0 || (countNewlines(joined) === rows.length - 1 && (rows.length > 1 || joined.length > 0));
  if (!intact) throw new Error('a value of a write column holds a newline, or is a lone empty value');
  return joined;
}

function countNewlines(text: string): number {
  let count = 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) count++;
  return count;
}

/** The publish budget's state when the write refused the quota (error HL429). */
export interface QuotaRefusal {
  quota: string;
  tokens: number;
  rate: number;
  burst: number;
}

export class QuotaRefusedError extends Error {
  override readonly name = 'QuotaRefusedError';
  constructor(readonly refusal: QuotaRefusal) {
    super(`publish quota refused: ${refusal.quota}`);
  }
}

const QUOTA_REFUSED_SQLSTATE = 'HL429';
const STALE_CONTEXT_SQLSTATE = 'HL409';

/** The event types or subscriptions a write was planned from changed since they were read (HL409): nothing was written. */
export class StaleContextError extends Error {
  override readonly name = 'StaleContextError';
  constructor() {
    super('the publish context changed since it was read');
  }
}

function quotaRefusal(error: unknown): QuotaRefusal | undefined {
  return findInErrorChain(error, ({ code, detail }) =>
    code === QUOTA_REFUSED_SQLSTATE && typeof detail === 'string' ? (JSON.parse(detail) as QuotaRefusal) : undefined,
  );
}

/** An event type as publishing checks payloads against it. */
export type PublishEventType = Pick<EventTypeRow, 'id' | 'name' | 'schema' | 'version'> & { archived: boolean };
/** A subscription as fan-out matches events to it. */
export type FanOutSubscription = Pick<SubscriptionRow, 'id' | 'enabled' | 'ordered' | 'eventTypes' | 'channels' | 'filter'>;

/** What publishing reads before it writes (hooklane_publish_context). */
export interface PublishContext {
  eventTypes: PublishEventType[];
  subscriptions: FanOutSubscription[];
  /** The tenant's publish context version (hooklane_bump_config_version): it moves with any change to the above. */
  version: number;
}

export class EventStore {
  constructor(
    private readonly run: Run,
    private readonly tenantId: string,
    /** For functions that declare the tenant themselves. */
    private readonly direct: Executor,
  ) {}

  /**
   * Writes events, their deliveries and jobs, and takes the quota, in one statement (one round trip,
   * one implicit transaction unless the scope is inside one). Returns the ids of the events
   * inserted: an event whose idempotency key was used before is not, nor are its deliveries.
   * Throws QuotaRefusedError, having written nothing, when the quota refuses.
   */
  async write(plan: EventWrite): Promise<Set<string>> {
    const rows = (await this.execute(sql`select id from ${this.writeCall(plan)} as id`)) as unknown as { id: string }[];
    return new Set(rows.map((row) => row.id));
  }

  /**
   * The write, then a claim of `deliveryIds` (hooklane_claim_deliveries, as a worker claims) in the
   * same statement and transaction: the claims commit with the publish, and the caller gets each
   * claimed delivery's work without another round trip. Used when the first attempts are handed
   * to this process's worker (FirstAttemptHandoff); the write's jobs then wait (plan.handoff).
   */
  async writeAndClaim(
    plan: EventWrite,
    deliveryIds: readonly string[],
    claimMs: number,
    countEveryClaim: boolean,
  ): Promise<{ inserted: Set<string>; claimed: Map<string, DeliveryWork> }> {
    // The claim's arguments refer to the write's result, so it runs after the write (one row of w;
    // a left join, so that the inserted ids come back even when nothing could be claimed).
    const rows = (await this.execute(sql`with w as materialized (select coalesce(array_agg(id), '{}') as ids from ${this.writeCall(plan)} as id)
      select w.ids as inserted_ids, c.* from w left join lateral hooklane_claim_deliveries(${this.tenantId},
        case when w.ids is null then null else ${JSON.stringify(deliveryIds)}::json end, ${Math.round(claimMs)}, ${countEveryClaim}) c on true`)) as unknown as (WorkRow & { inserted_ids: string[] })[];
    const inserted = new Set(rows[0]?.inserted_ids ?? []);
    const claimed = new Map(rows.filter((row) => row.id !== null).map((row) => [row.id, toDeliveryWork(row)]));
    return { inserted, claimed };
  }

  /** Runs a write statement, turning the write function's refusals into their errors. */
  private async execute(statement: SQL): Promise<unknown> {
    try {
      return await this.direct.execute(statement);
    } catch (error) {
      const refusal = quotaRefusal(error);
      if (refusal) throw new QuotaRefusedError(refusal);
      if (findInErrorChain(error, ({ code }) => (code === STALE_CONTEXT_SQLSTATE ? true : undefined))) throw new StaleContextError();
      throw error;
    }
  }

  /** The call of hooklane_write_event_columns that writes `plan`. */
  private writeCall(plan: EventWrite): SQL {
    const { events: newEvents, deliveries } = plan;
    const hasOptions = newEvents.some(
      (event) =>
        event.idempotencyKey !== null || event.orderingKey !== null || event.channels !== null || event.test === true || event.traceContext != null,
    );
    const eventOptions = hasOptions
      ? newEvents.map((event) => [event.idempotencyKey, event.orderingKey, event.channels, event.test === true, event.traceContext ?? null])
      : null;
    const deliveryOrderingKeys = deliveries.some((delivery) => delivery.orderingKey !== null)
      ? deliveries.map((delivery) => delivery.orderingKey)
      : null;
    // Jobs that go with several events are enqueued if any of them is inserted (hooklane_write_event_columns'
    // p_stream_jobs): a stream's job, and a batch of first attempts. A delivery of an event that was
    // not inserted is not written either, and the batch job skips what it cannot claim.
    const sharedJobs = [...plan.streamJobs, ...deliverBatchJobs(this.tenantId, plan.firstAttempts, plan.handoff ?? null)].map((job) => ({
      event_ids: job.eventIds,
      spec: jobSpecRecord(job.spec),
    }));
    const quota = plan.quota && {
      count: plan.quota.count,
      rate: plan.quota.rate,
      burst: plan.quota.burst,
      monthly: plan.quota.monthlyLimit,
      period: plan.quota.period,
    };
    return sql`hooklane_write_event_columns(${this.tenantId},
        ${lines(newEvents, (event) => event.id)}, ${lines(newEvents, (event) => event.eventType)},
        ${lines(newEvents, (event) => event.body)}, ${lines(newEvents, (event) => event.createdAt.toISOString())},
        ${lines(newEvents, (event) => String(event.eventTypeVersion))},
        ${eventOptions === null ? null : JSON.stringify(eventOptions)}::jsonb,
        ${lines(deliveries, (delivery) => delivery.id)}, ${lines(deliveries, (delivery) => delivery.eventId)},
        ${lines(deliveries, (delivery) => delivery.subscriptionId)}, ${lines(deliveries, (delivery) => delivery.status)},
        ${deliveryOrderingKeys === null ? null : JSON.stringify(deliveryOrderingKeys)}::jsonb,
        ${JSON.stringify(sharedJobs)}::json, ${plan.preserveStreamRunAt}, ${quota === null ? null : JSON.stringify(quota)}::json,
        ${plan.contextVersion}::bigint)`;
  }

  /**
   * What publishing reads, in one statement (hooklane_publish_context): the event types named
   * `names`, the subscriptions with an event type pattern among `patterns`, and the version of
   * the tenant's publish context they were read at.
   */
  async publishContext(names: readonly string[], patterns: readonly string[]): Promise<PublishContext> {
    const rows = (await this.direct.execute(
      sql`select hooklane_publish_context(${this.tenantId}, ${JSON.stringify(names)}::json, ${JSON.stringify(patterns)}::json) as context`,
    )) as unknown as { context: PublishContext }[];
    return rows[0]!.context;
  }

  /**
   * The tenant's last `limit` events of the types `names` before the event `beforeId` (null: the
   * newest), newest first, with their bodies (events_tenant_type_idx). Events whose payload is
   * expunged are left out.
   */
  async latestOfTypes(names: readonly string[], limit: number, beforeId: string | null): Promise<{ id: string; body: string }[]> {
    if (names.length === 0) return [];
    const rows = await this.run((db) => db
      .select({ id: events.id, body: events.body })
      .from(events)
      .where(and(
        eq(events.tenantId, this.tenantId),
        inArray(events.eventType, [...names]),
        beforeId === null ? undefined : lt(events.id, beforeId),
        isNotNull(events.body),
      ))
      .orderBy(desc(events.id))
      .limit(limit));
    return rows as { id: string; body: string }[];
  }

  /** The events that took these idempotency keys: through event_idempotency_keys, then each event in its partition. */
  async findByIdempotencyKeys(keys: readonly string[]): Promise<EventRow[]> {
    if (keys.length === 0) return [];
    return this.run(async (db) => {
      const taken = await db
        .select({ eventId: eventIdempotencyKeys.eventId })
        .from(eventIdempotencyKeys)
        .where(and(eq(eventIdempotencyKeys.tenantId, this.tenantId), inArray(eventIdempotencyKeys.idempotencyKey, [...keys])));
      if (taken.length === 0) return [];
      return db
        .select()
        .from(events)
        .where(and(eq(events.tenantId, this.tenantId), inArray(events.id, taken.map((row) => row.eventId))));
    });
  }

  /**
   * Erases the event's payload (expungeEventPayload): its body becomes null, and the time of the
   * first erasure stays. By primary key, so only the event's partition is read. Undefined when the
   * tenant has no such event.
   */
  async expungePayload(id: string): Promise<EventRow | undefined> {
    const [row] = await this.run((db) => db
      .update(events)
      .set({ body: null, payloadExpungedAt: sql`coalesce(${events.payloadExpungedAt}, now())` })
      .where(and(eq(events.tenantId, this.tenantId), eq(events.id, id)))
      .returning());
    return row;
  }

  async find(id: string): Promise<EventRow | undefined> {
    const [row] = await this.run((db) => db
      .select()
      .from(events)
      .where(and(eq(events.tenantId, this.tenantId), eq(events.id, id))));
    return row;
  }

  async findMany(ids: readonly string[]): Promise<EventRow[]> {
    if (ids.length === 0) return [];
    return this.run((db) => db
      .select()
      .from(events)
      .where(and(eq(events.tenantId, this.tenantId), inArray(events.id, [...ids]))));
  }

  /** A page of the events that match `search`, newest first. */
  async search(search: EventSearch, page: PageRequest): Promise<Page<EventRow>> {
    const rows = await this.run((db) => eventSearchQuery(db, this.tenantId, search, page.afterId, page.first + 1));
    return toPage(rows, page.first);
  }

  async list(page: PageRequest): Promise<Page<EventRow>> {
    const rows = await this.run((db) => db
      .select()
      .from(events)
      .where(and(eq(events.tenantId, this.tenantId), page.afterId ? lt(events.id, page.afterId) : undefined))
      .orderBy(desc(events.id))
      .limit(page.first + 1));
    return toPage(rows, page.first);
  }
}
