import { and, desc, eq, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
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

  /**
   * The event types whose names match subscription patterns (exact names, `prefix.*`, `*`), with
   * their schemas. Built-in `hooklane.*` types are not rows: they are not among them.
   */
  async matching(patterns: readonly string[]): Promise<Pick<EventTypeRow, 'name' | 'schema'>[]> {
    if (patterns.length === 0) return [];
    const exact = patterns.filter((pattern) => pattern !== '*' && !pattern.endsWith('.*'));
    const prefixes = patterns.filter((pattern) => pattern.endsWith('.*')).map((pattern) => pattern.slice(0, -1));
    const conditions: SQL[] = [];
    if (!patterns.includes('*')) {
      if (exact.length > 0) conditions.push(inArray(eventTypes.name, exact));
      for (const prefix of prefixes) conditions.push(sql`starts_with(${eventTypes.name}, ${prefix})`);
    }
    return this.run((db) => db
      .select({ name: eventTypes.name, schema: eventTypes.schema })
      .from(eventTypes)
      .where(and(eq(eventTypes.tenantId, this.tenantId), conditions.length > 0 ? or(...conditions) : undefined))
      .orderBy(eventTypes.name));
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
