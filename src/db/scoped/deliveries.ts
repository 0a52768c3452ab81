import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { newId } from '../../ids.js';
import type { Executor } from '../client.js';
import {
  deliveries,
  deliveryAttempts,
  events,
  subscriptions,
  type DeliveryAttemptRow,
  type DeliveryRow,
  type DeliveryStatus,
} from '../schema.js';

/** Everything one attempt needs, read in one query. */
export interface DeliveryWork {
  id: string;
  status: DeliveryStatus;
  attemptCount: number;
  eventId: string;
  body: string;
  url: string;
  secrets: string[];
  subscriptionEnabled: boolean;
}

export interface AttemptRecord {
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  responseBody: string | null;
}

export class DeliveryStore {
  constructor(
    private readonly db: Executor,
    private readonly tenantId: string,
  ) {}

  private owned(id: string) {
    return and(eq(deliveries.tenantId, this.tenantId), eq(deliveries.id, id));
  }

  async insertForEvent(eventId: string, subscriptionIds: readonly string[]): Promise<DeliveryRow[]> {
    if (subscriptionIds.length === 0) return [];
    return this.db
      .insert(deliveries)
      .values(
        subscriptionIds.map((subscriptionId) => ({
          id: newId('delivery'),
          tenantId: this.tenantId,
          eventId,
          subscriptionId,
          nextAttemptAt: sql`now()`,
        })),
      )
      .returning();
  }

  async find(id: string): Promise<DeliveryRow | undefined> {
    const [row] = await this.db.select().from(deliveries).where(this.owned(id));
    return row;
  }

  async listForEvents(eventIds: readonly string[]): Promise<DeliveryRow[]> {
    if (eventIds.length === 0) return [];
    return this.db
      .select()
      .from(deliveries)
      .where(and(eq(deliveries.tenantId, this.tenantId), inArray(deliveries.eventId, [...eventIds])))
      .orderBy(asc(deliveries.id));
  }

  async listAttempts(deliveryIds: readonly string[]): Promise<DeliveryAttemptRow[]> {
    if (deliveryIds.length === 0) return [];
    return this.db
      .select()
      .from(deliveryAttempts)
      .where(and(eq(deliveryAttempts.tenantId, this.tenantId), inArray(deliveryAttempts.deliveryId, [...deliveryIds])))
      .orderBy(asc(deliveryAttempts.id));
  }

  async loadWork(id: string): Promise<DeliveryWork | undefined> {
    const [row] = await this.db
      .select({
        id: deliveries.id,
        status: deliveries.status,
        attemptCount: deliveries.attemptCount,
        eventId: deliveries.eventId,
        body: events.body,
        url: subscriptions.url,
        secrets: subscriptions.secrets,
        subscriptionEnabled: subscriptions.enabled,
      })
      .from(deliveries)
      .innerJoin(events, and(eq(events.tenantId, deliveries.tenantId), eq(events.id, deliveries.eventId)))
      .innerJoin(
        subscriptions,
        and(eq(subscriptions.tenantId, deliveries.tenantId), eq(subscriptions.id, deliveries.subscriptionId)),
      )
      .where(this.owned(id));
    return row;
  }

  /** Stores one attempt and the delivery's new state together. */
  async recordAttempt(
    id: string,
    attempt: AttemptRecord | undefined,
    next: { status: DeliveryStatus; nextAttemptAt: Date | null },
  ): Promise<void> {
    if (attempt) {
      await this.db.insert(deliveryAttempts).values({ id: newId('attempt'), tenantId: this.tenantId, deliveryId: id, ...attempt });
    }
    await this.db
      .update(deliveries)
      .set({
        status: next.status,
        nextAttemptAt: next.nextAttemptAt,
        attemptCount: attempt ? sql`${deliveries.attemptCount} + 1` : deliveries.attemptCount,
        updatedAt: sql`now()`,
      })
      .where(this.owned(id));
  }

  async markPending(id: string, nextAttemptAt: Date): Promise<DeliveryRow | undefined> {
    const [row] = await this.db
      .update(deliveries)
      .set({ status: 'PENDING', nextAttemptAt, updatedAt: sql`now()` })
      .where(this.owned(id))
      .returning();
    return row;
  }
}
