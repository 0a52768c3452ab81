import { and, arrayOverlaps, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Run } from '../client.js';
import { jobSpecRecord, type JobSpec } from '../jobs.js';
import { toPage, type Page, type PageRequest } from '../pagination.js';
import { deliveries, subscriptions, type DisabledReason, type PayloadMode, type SubscriptionRow } from '../schema.js';

/** The settings a tenant chooses; every one of them optional on update. */
export interface SubscriptionSettings {
  url: string;
  eventTypes: string[];
  description: string | null;
  channels: string[] | null;
  /** A payload filter, checked (src/domain/subscription-filters.ts); null receives every matching event. */
  filter: unknown;
  retryScheduleMs: number[] | null;
  ordered: boolean;
  payloadMode: PayloadMode;
  rateLimit: number | null;
  maxInFlight: number | null;
  /** Sealed `whsk_` key and its `whpk_` public key, or null for HMAC signatures only. */
  ed25519SecretKey: string | null;
  ed25519PublicKey: string | null;
}

export type SubscriptionChanges = Partial<SubscriptionSettings & EndpointColumns>;

/** The columns of a subscription's endpoint settings (src/domain/endpoint-settings.ts). */
export type EndpointColumns = Pick<
  SubscriptionRow,
  'headerNames' | 'headers' | 'authType' | 'authCredentials' | 'tlsClientCertificate' | 'tlsClientKey' | 'tlsClientCertificateExpiresAt' | 'tlsCaCertificate'
>;

const ENDPOINT_COLUMNS: readonly (keyof EndpointColumns)[] = [
  'headerNames',
  'headers',
  'authType',
  'authCredentials',
  'tlsClientCertificate',
  'tlsClientKey',
  'tlsClientCertificateExpiresAt',
  'tlsCaCertificate',
];

/** A subscription's endpoint settings as stored (secrets sealed), at `endpointVersion`. */
export type StoredEndpointSettings = Pick<SubscriptionRow, 'endpointVersion' | keyof EndpointColumns>;

export class SubscriptionStore {
  constructor(
    private readonly run: Run,
    private readonly tenantId: string,
  ) {}

  private owned(id: string) {
    return and(eq(subscriptions.tenantId, this.tenantId), eq(subscriptions.id, id));
  }

  /** `id` is the caller's (newId('subscription')): the sealed values are bound to it. */
  async create(settings: SubscriptionSettings & Partial<EndpointColumns> & { id: string; secret: string }): Promise<SubscriptionRow> {
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

  /** A change of the endpoint settings moves endpointVersion, so caches of their opened form let go. */
  async update(id: string, changes: SubscriptionChanges): Promise<SubscriptionRow | undefined> {
    // New limits start a new line: deliveries turned away from now on are paced by them.
    const newLimits = changes.rateLimit !== undefined || changes.maxInFlight !== undefined;
    const endpointChanged = ENDPOINT_COLUMNS.some((column) => changes[column] !== undefined);
    const [row] = await this.run((db) => db
      .update(subscriptions)
      .set({
        ...changes,
        ...(newLimits ? { flowTurnAt: null } : {}),
        ...(endpointChanged ? { endpointVersion: sql`${subscriptions.endpointVersion} + 1` } : {}),
        updatedAt: sql`now()`,
      })
      .where(this.owned(id))
      .returning());
    return row;
  }

  /** The endpoint settings a delivery sends with (read by the worker when it does not hold them opened). */
  async endpointSettings(id: string): Promise<StoredEndpointSettings | undefined> {
    const [row] = await this.run((db) => db
      .select({
        endpointVersion: subscriptions.endpointVersion,
        headerNames: subscriptions.headerNames,
        headers: subscriptions.headers,
        authType: subscriptions.authType,
        authCredentials: subscriptions.authCredentials,
        tlsClientCertificate: subscriptions.tlsClientCertificate,
        tlsClientKey: subscriptions.tlsClientKey,
        tlsClientCertificateExpiresAt: subscriptions.tlsClientCertificateExpiresAt,
        tlsCaCertificate: subscriptions.tlsCaCertificate,
      })
      .from(subscriptions)
      .where(this.owned(id)));
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
   * Admits one claimed delivery under the subscription's maxInFlight and rateLimit, across all
   * workers (hooklane_admit_flow, src/db/functions): undefined when admitted, else how long until
   * its turn and which limit turned it away. With `nextJob`, a delivery turned away is deferred
   * to its turn in the same statement, `nextJob` due then. `attemptMs`: how long its attempts
   * usually take.
   */
  async admitFlow(
    id: string,
    deliveryId: string,
    limits: { rateLimit: number | null; maxInFlight: number | null; attemptMs: number },
    nextJob: JobSpec | null,
  ): Promise<{ waitMs: number; reason: 'rate_limit' | 'max_in_flight' } | undefined> {
    const job = nextJob === null ? null : JSON.stringify(jobSpecRecord(nextJob));
    const rows = (await this.run((db) =>
      db.execute(sql`select wait_ms, reason from hooklane_admit_flow(${this.tenantId}, ${id}, ${deliveryId},
        ${limits.rateLimit}::integer, ${limits.maxInFlight}::integer, ${limits.attemptMs}::float8, ${job}::json)`),
    )) as unknown as { wait_ms: number; reason: 'rate_limit' | 'max_in_flight' | null }[];
    const row = rows[0];
    return row && row.reason !== null ? { waitMs: row.wait_ms, reason: row.reason } : undefined;
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
