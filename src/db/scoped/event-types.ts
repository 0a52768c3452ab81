import { and, desc, eq, inArray, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import { newId } from '../../ids.js';
import type { Run } from '../client.js';
import { toPage, type Page, type PageRequest } from '../pagination.js';
import { eventTypes, type EventTypeRow } from '../schema.js';

/** The changes updateEventType makes; an absent field keeps its value. */
export interface EventTypeChanges {
  description?: string | null;
  /** Null removes the schema. Any other value than the current one moves `version` on. */
  schema?: unknown;
  deprecated?: boolean;
  archived?: boolean;
}

export class EventTypeStore {
  constructor(
    private readonly run: Run,
    private readonly tenantId: string,
  ) {}

  private named(name: string) {
    return and(eq(eventTypes.tenantId, this.tenantId), eq(eventTypes.name, name));
  }

  /** Inserts unless the name exists; returns undefined on a duplicate name. */
  async create(input: { name: string; description: string | null; schema: unknown }): Promise<EventTypeRow | undefined> {
    const [row] = await this.run((db) => db
      .insert(eventTypes)
      .values({ id: newId('eventType'), tenantId: this.tenantId, ...input })
      .onConflictDoNothing({ target: [eventTypes.tenantId, eventTypes.name] })
      .returning());
    return row;
  }

  async findByName(name: string): Promise<EventTypeRow | undefined> {
    const [row] = await this.run((db) => db.select().from(eventTypes).where(this.named(name)));
    return row;
  }

  /** The event types of these names, archived ones included. */
  async findByNames(names: readonly string[]): Promise<EventTypeRow[]> {
    if (names.length === 0) return [];
    return this.run((db) => db
      .select()
      .from(eventTypes)
      .where(and(eq(eventTypes.tenantId, this.tenantId), inArray(eventTypes.name, [...names]))));
  }

  /**
   * Applies `changes` in one statement and returns the row as it is now, or undefined when there is
   * no such event type. The version moves only when the schema given differs from the stored one
   * (compared as JSON values, so key order does not count). Archiving keeps the first archive time.
   */
  async update(name: string, changes: EventTypeChanges): Promise<EventTypeRow | undefined> {
    const set: { [Column in keyof typeof eventTypes.$inferInsert]?: (typeof eventTypes.$inferInsert)[Column] | SQL } = {};
    if (changes.description !== undefined) set.description = changes.description;
    if (changes.deprecated !== undefined) set.deprecated = changes.deprecated;
    if (changes.archived !== undefined) {
      set.archivedAt = changes.archived ? sql`coalesce(${eventTypes.archivedAt}, now())` : null;
    }
    if (changes.schema !== undefined) {
      const schema = changes.schema === null ? sql`null::jsonb` : sql`${JSON.stringify(changes.schema)}::jsonb`;
      set.schema = schema;
      set.version = sql`case when ${eventTypes.schema} is distinct from ${schema} then ${eventTypes.version} + 1 else ${eventTypes.version} end`;
    }
    if (Object.keys(set).length === 0) return this.findByName(name);
    const [row] = await this.run((db) => db.update(eventTypes).set(set).where(this.named(name)).returning());
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

  /** Newest first; archived event types only when `includeArchived`. */
  async list(page: PageRequest, options: { includeArchived?: boolean } = {}): Promise<Page<EventTypeRow>> {
    const rows = await this.run((db) => db
      .select()
      .from(eventTypes)
      .where(
        and(
          eq(eventTypes.tenantId, this.tenantId),
          options.includeArchived ? undefined : isNull(eventTypes.archivedAt),
          page.afterId ? lt(eventTypes.id, page.afterId) : undefined,
        ),
      )
      .orderBy(desc(eventTypes.id))
      .limit(page.first + 1));
    return toPage(rows, page.first);
  }

  /** Every event type not archived, by name: for the catalog (bounded by the tenant's event type quota). */
  async listActive(): Promise<EventTypeRow[]> {
    return this.run((db) => db
      .select()
      .from(eventTypes)
      .where(and(eq(eventTypes.tenantId, this.tenantId), isNull(eventTypes.archivedAt)))
      .orderBy(eventTypes.name));
  }
}
