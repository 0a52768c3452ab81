import { and, arrayOverlaps, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Run } from '../client.js';
import { toPage, type Page, type PageRequest } from '../pagination.js';
import { deliveries, subscriptions, type DisabledReason, type PayloadMode, type SubscriptionRow } from '../schema.js';

/** The settings a tenant chooses; every one of them optional on update. */
export interface SubscriptionSettings {
  url: string;
  eventTypes: string[];
  description: string | null;
  channels: string[] | null;
  retryScheduleMs: number[] | null;
  ordered: boolean;
  payloadMode: PayloadMode;
  rateLimit: number | null;
  maxInFlight: number | null;
  /** Sealed `whsk_` key and its `whpk_` public key, or null for HMAC signatures only. */
  ed25519SecretKey: string | null;
  ed25519PublicKey: string | null;
}

export type SubscriptionChanges = Partial<SubscriptionSettings>;

export class SubscriptionStore {
  constructor(
    private readonly run: Run,
    private readonly tenantId: string,
  ) {}

  private owned(id: string) {
    return and(eq(subscriptions.tenantId, this.tenantId), eq(subscriptions.id, id));
  }

  /** `id` is the caller's (newId('subscription')): the sealed `secret` is bound to it. */
  async create(settings: SubscriptionSettings & { id: string; secret: string }): Promise<SubscriptionRow> {
    const { secret, ...rest } = settings;
    const [row] = await this.run((db) => db
      .insert(subscriptions)
      .values({ tenantId: this.tenantId, ...rest, secrets: [secret] })
      .returning());
    return row!;
  }

  async find(id: string): Promise<SubscriptionRow | undefined> {
    const [row] = await this.run((db) => db.select().from(subscriptions).where(this.owned(id)));
    return row;
  }

  /** Reads the row and locks it until the transaction ends: enable/disable transitions are serialised. */
  async findForUpdate(id: string): Promise<SubscriptionRow | undefined> {
    const [row] = await this.run((db) => db.select().from(subscriptions).where(this.owned(id)).for('update'));
    return row;
  }

  async findMany(ids: readonly string[]): Promise<SubscriptionRow[]> {
    if (ids.length === 0) return [];
    return this.run((db) => db
      .select()
      .from(subscriptions)
      .where(and(eq(subscriptions.tenantId, this.tenantId), inArray(subscriptions.id, [...ids]))));
  }

  /** Subscriptions with an event type pattern among `patterns` (enabled or not): fan-out candidates. */
  async candidates(patterns: readonly string[]): Promise<SubscriptionRow[]> {
    if (patterns.length === 0) return [];
    return this.run((db) => db
      .select()
      .from(subscriptions)
      .where(and(eq(subscriptions.tenantId, this.tenantId), arrayOverlaps(subscriptions.eventTypes, [...patterns]))));
  }

  async list(page: PageRequest): Promise<Page<SubscriptionRow>> {
    const rows = await this.run((db) => db
      .select()
      .from(subscriptions)
      .where(and(eq(subscriptions.tenantId, this.tenantId), page.afterId ? lt(subscriptions.id, page.afterId) : undefined))
      .orderBy(desc(subscriptions.id))
      .limit(page.first + 1));
    return toPage(rows, page.first);
  }

  async update(id: string, changes: SubscriptionChanges): Promise<SubscriptionRow | undefined> {
    const [row] = await this.run((db) => db
      .update(subscriptions)
      .set({ ...changes, updatedAt: sql`now()` })
      .where(this.owned(id))
      .returning());
    return row;
  }

  async setEnabled(id: string, enabled: boolean, reason: DisabledReason | null): Promise<SubscriptionRow | undefined> {
    const [row] = await this.run((db) => db
      .update(subscriptions)
      .set({
        enabled,
        disabledReason: enabled ? null : reason,
        // A fresh start: an enabled subscription's health clock starts again.
        ...(enabled ? { failingSince: null, failedDeliveriesInRow: 0 } : {}),
        updatedAt: sql`now()`,
      })
      .where(this.owned(id))
      .returning());
    return row;
  }

  /**
   * Makes `sealedSecret` the signing secret. With an overlap, the current secret stays valid (and
   * keeps signing beside the new one) until the overlap ends; without, it is dropped at once.
   */
  async replaceSecret(id: string, sealedSecret: string, overlapMs: number): Promise<SubscriptionRow | undefined> {
    const [row] = await this.run((db) =>
      db
        .update(subscriptions)
        .set({
          secrets: overlapMs > 0 ? sql`array[${sealedSecret}]::text[] || ${subscriptions.secrets}[1:1]` : sql`array[${sealedSecret}]::text[]`,
          previousSecretsExpireAt: overlapMs > 0 ? sql`now() + ${overlapMs} * interval '1 millisecond'` : null,
          updatedAt: sql`now()`,
        })
        .where(this.owned(id))
        .returning(),
    );
    return row;
  }

  async delete(id: string): Promise<boolean> {
    const rows = await this.run((db) => db.delete(subscriptions).where(this.owned(id)).returning({ id: subscriptions.id }));
    return rows.length > 0;
  }

  /** Endpoint health after a success: the failing clock stops (written only when it was running). */
  async markHealthy(id: string): Promise<void> {
    await this.run((db) => db
      .update(subscriptions)
      .set({ failingSince: null, failedDeliveriesInRow: 0 })
      .where(and(this.owned(id), sql`(${subscriptions.failingSince} is not null or ${subscriptions.failedDeliveriesInRow} > 0)`)));
  }

  /** Endpoint health after a failed attempt: the failing clock starts if it was not running. */
  async markFailingAttempt(id: string): Promise<void> {
    await this.run((db) => db
      .update(subscriptions)
      .set({ failingSince: sql`now()` })
      .where(and(this.owned(id), sql`${subscriptions.failingSince} is null`)));
  }

  /** A delivery of this subscription spent its schedule; returns the health counters after it. */
  async markFailedDelivery(id: string): Promise<Pick<SubscriptionRow, 'failingSince' | 'failedDeliveriesInRow' | 'enabled'> | undefined> {
    const [row] = await this.run((db) => db
      .update(subscriptions)
      .set({
        failingSince: sql`coalesce(${subscriptions.failingSince}, now())`,
        failedDeliveriesInRow: sql`${subscriptions.failedDeliveriesInRow} + 1`,
      })
      .where(this.owned(id))
      .returning({
        failingSince: subscriptions.failingSince,
        failedDeliveriesInRow: subscriptions.failedDeliveriesInRow,
        enabled: subscriptions.enabled,
      }));
    return row;
  }

  /**
   * Takes one token from the subscription's bucket (capacity and refill = rateLimit per second),
   * atomically in PostgreSQL so that every worker shares one budget. Returns 0 when a token was
   * taken, else the milliseconds until one will be there.
   */
  async takeRateToken(id: string, rateLimit: number): Promise<number> {
    const refilled = sql`least(${rateLimit}::float8, coalesce(${subscriptions.rateTokens}, ${rateLimit}::float8)
      + extract(epoch from clock_timestamp() - coalesce(${subscriptions.rateUpdatedAt}, clock_timestamp())) * ${rateLimit}::float8)`;
    const [taken] = await this.run((db) => db
      .update(subscriptions)
      .set({ rateTokens: sql`${refilled} - 1`, rateUpdatedAt: sql`clock_timestamp()` })
      .where(and(this.owned(id), sql`${refilled} >= 1`))
      .returning({ id: subscriptions.id }));
    if (taken) return 0;
    const [state] = await this.run((db) => db.select({ tokens: sql<number>`${refilled}` }).from(subscriptions).where(this.owned(id)));
    const missing = 1 - Number(state?.tokens ?? 0);
    return Math.max(1, Math.ceil((missing / rateLimit) * 1000));
  }

  /** How many deliveries of this subscription are being attempted right now, by any worker (its claims are counted when it has maxInFlight). */
  async countInFlight(id: string): Promise<number> {
    const [row] = await this.run((db) => db
      .select({ count: sql<number>`count(*)::int` })
      .from(deliveries)
      .where(
        and(
          eq(deliveries.tenantId, this.tenantId),
          eq(deliveries.subscriptionId, id),
          sql`${deliveries.countedClaimUntil} is not null`,
          sql`${deliveries.countedClaimUntil} > now()`,
        ),
      ));
    return row?.count ?? 0;
  }

  async countHeld(ids: readonly string[]): Promise<Map<string, number>> {
    if (ids.length === 0) return new Map();
    const rows = await this.run((db) => db
      .select({ subscriptionId: deliveries.subscriptionId, count: sql<number>`count(*)::int` })
      .from(deliveries)
      .where(
        and(eq(deliveries.tenantId, this.tenantId), inArray(deliveries.subscriptionId, [...ids]), eq(deliveries.status, 'HELD')),
      )
      .groupBy(deliveries.subscriptionId));
    return new Map(rows.map((row) => [row.subscriptionId, row.count]));
  }
}
