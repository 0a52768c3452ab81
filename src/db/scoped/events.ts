import { and, desc, eq, inArray, lt } from 'drizzle-orm';
import type { Run } from '../client.js';
import { toPage, type Page, type PageRequest } from '../pagination.js';
import { events, type EventRow } from '../schema.js';

export interface NewEvent {
  id: string;
  eventType: string;
  body: string;
  idempotencyKey: string | null;
  orderingKey: string | null;
  channels: string[] | null;
  createdAt: Date;
}

export class EventStore {
  constructor(
    private readonly run: Run,
    private readonly tenantId: string,
  ) {}

  /** Inserts the events in one statement; those whose idempotency key was already used are skipped. */
  async insertMany(rows: readonly NewEvent[]): Promise<EventRow[]> {
    if (rows.length === 0) return [];
    return this.run((db) => db
      .insert(events)
      .values(rows.map((row) => ({ ...row, tenantId: this.tenantId })))
      .onConflictDoNothing({ target: [events.tenantId, events.idempotencyKey] })
      .returning());
  }

  async findByIdempotencyKeys(keys: readonly string[]): Promise<EventRow[]> {
    if (keys.length === 0) return [];
    return this.run((db) => db
      .select()
      .from(events)
      .where(and(eq(events.tenantId, this.tenantId), inArray(events.idempotencyKey, [...keys]))));
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
