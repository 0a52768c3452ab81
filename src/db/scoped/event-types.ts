import { and, desc, eq, inArray, lt } from 'drizzle-orm';
import { newId } from '../../ids.js';
import type { Run } from '../client.js';
import { toPage, type Page, type PageRequest } from '../pagination.js';
import { eventTypes, type EventTypeRow } from '../schema.js';

export class EventTypeStore {
  constructor(
    private readonly run: Run,
    private readonly tenantId: string,
  ) {}

  /** Inserts unless the name exists; returns undefined on a duplicate name. */
  async create(input: { name: string; description: string | null; schema: unknown }): Promise<EventTypeRow | undefined> {
    const [row] = await this.run((db) => db
      .insert(eventTypes)
      .values({ id: newId('eventType'), tenantId: this.tenantId, ...input })
      .onConflictDoNothing({ target: [eventTypes.tenantId, eventTypes.name] })
      .returning());
    return row;
  }

  /** The names among `names` that are not event types of this tenant. */
  async missingNames(names: readonly string[]): Promise<string[]> {
    if (names.length === 0) return [];
    const rows = await this.run((db) => db
      .select({ name: eventTypes.name })
      .from(eventTypes)
      .where(and(eq(eventTypes.tenantId, this.tenantId), inArray(eventTypes.name, [...names]))));
    const known = new Set(rows.map((row) => row.name));
    return names.filter((name) => !known.has(name));
  }

  async list(page: PageRequest): Promise<Page<EventTypeRow>> {
    const rows = await this.run((db) => db
      .select()
      .from(eventTypes)
      .where(and(eq(eventTypes.tenantId, this.tenantId), page.afterId ? lt(eventTypes.id, page.afterId) : undefined))
      .orderBy(desc(eventTypes.id))
      .limit(page.first + 1));
    return toPage(rows, page.first);
  }
}
