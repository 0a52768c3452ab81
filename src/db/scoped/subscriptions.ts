import { and, arrayContains, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import { newId } from '../../ids.js';
import type { Executor } from '../client.js';
import { toPage, type Page, type PageRequest } from '../pagination.js';
import { subscriptions, type SubscriptionRow } from '../schema.js';

export interface SubscriptionChanges {
  url?: string;
  eventTypes?: string[];
  description?: string | null;
  enabled?: boolean;
}

export class SubscriptionStore {
  constructor(
    private readonly db: Executor,
    private readonly tenantId: string,
  ) {}

  private owned(id: string) {
    return and(eq(subscriptions.tenantId, this.tenantId), eq(subscriptions.id, id));
  }

  async create(input: { url: string; eventTypes: string[]; description: string | null; secret: string }): Promise<SubscriptionRow> {
    const [row] = await this.db
      .insert(subscriptions)
      .values({
        id: newId('subscription'),
        tenantId: this.tenantId,
        url: input.url,
        eventTypes: input.eventTypes,
        description: input.description,
        secrets: [input.secret],
      })
      .returning();
    return row!;
  }

  async find(id: string): Promise<SubscriptionRow | undefined> {
    const [row] = await this.db.select().from(subscriptions).where(this.owned(id));
    return row;
  }

  async findMany(ids: readonly string[]): Promise<SubscriptionRow[]> {
    if (ids.length === 0) return [];
    return this.db
      .select()
      .from(subscriptions)
      .where(and(eq(subscriptions.tenantId, this.tenantId), inArray(subscriptions.id, [...ids])));
  }

  /** Enabled subscriptions that receive `eventType`: the fan-out of one publish. */
  async matching(eventType: string): Promise<Pick<SubscriptionRow, 'id'>[]> {
    return this.db
      .select({ id: subscriptions.id })
      .from(subscriptions)
      .where(
        and(
          eq(subscriptions.tenantId, this.tenantId),
          eq(subscriptions.enabled, true),
          arrayContains(subscriptions.eventTypes, [eventType]),
        ),
      );
  }

  async list(page: PageRequest): Promise<Page<SubscriptionRow>> {
    const rows = await this.db
      .select()
      .from(subscriptions)
      .where(and(eq(subscriptions.tenantId, this.tenantId), page.afterId ? lt(subscriptions.id, page.afterId) : undefined))
      .orderBy(desc(subscriptions.id))
      .limit(page.first + 1);
    return toPage(rows, page.first);
  }

  async update(id: string, changes: SubscriptionChanges): Promise<SubscriptionRow | undefined> {
    const [row] = await this.db
      .update(subscriptions)
      .set({ ...changes, updatedAt: sql`now()` })
      .where(this.owned(id))
      .returning();
    return row;
  }

  async replaceSecret(id: string, secret: string): Promise<SubscriptionRow | undefined> {
    const [row] = await this.db
      .update(subscriptions)
      .set({ secrets: [secret], updatedAt: sql`now()` })
      .where(this.owned(id))
      .returning();
    return row;
  }

  async delete(id: string): Promise<boolean> {
    const rows = await this.db.delete(subscriptions).where(this.owned(id)).returning({ id: subscriptions.id });
    return rows.length > 0;
  }
}
