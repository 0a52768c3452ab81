import { BadUserInputError, ConflictError, NotFoundError } from '../errors.js';
import type { EventTypeRow } from '../db/schema.js';
import type { EventTypeChanges } from '../db/scoped/event-types.js';
import type { Page, PageRequest } from '../db/pagination.js';
import type { TenantScope } from '../db/tenant-scope.js';
import { BUILT_IN_EVENT_TYPE_LIST, builtInEventType } from '../publish/built-in-event-types.js';
import { isBuiltInEventType } from '../publish/operational-events.js';
import type { Publisher } from '../publish/publisher.js';
import { assertRoomFor, type Quotas } from '../tenancy/quotas.js';
import { MAX_DESCRIPTION_LENGTH, optionalText, requireEventTypeName } from './input-rules.js';
import type { PayloadSchemas } from './payload-schemas.js';

export async function createEventType(
  scope: TenantScope,
  schemas: PayloadSchemas,
  quotas: Quotas,
  input: { name: string; description?: string | null; schema?: unknown },
): Promise<EventTypeRow> {
  const name = requireEventTypeName(input.name);
  if (isBuiltInEventType(name)) throw new BadUserInputError(`${name}: the hooklane. prefix is reserved for built-in event types`, 'name');
  const description = optionalText(input.description, 'description', MAX_DESCRIPTION_LENGTH);
  const taken = (archived: boolean) =>
    new ConflictError(
      archived
        ? `Event type ${JSON.stringify(name)} already exists, archived: restore it with updateEventType(archived: false)`
        : `Event type ${JSON.stringify(name)} already exists`,
    );
  const eventType = await scope.transaction(async (tx) => {
    await assertRoomFor(tx, 'eventTypes', quotas);
    const existing = await tx.eventTypes.findByName(name);
    if (existing) throw taken(existing.archivedAt !== null);
    // The schema is compiled only once the event type may be created: a refused create costs none.
    const schema = input.schema === null || input.schema === undefined ? null : schemas.checkedSchema(input.schema, scope.tenantId);
    return tx.eventTypes.create({ name, description, schema });
  });
  if (!eventType) throw taken(false);
  return eventType;
}

export interface UpdateEventTypeInput {
  name: string;
  description?: string | null;
  schema?: unknown;
  deprecated?: boolean | null;
  archived?: boolean | null;
}

/**
 * Changes an event type; an omitted field keeps its value, `description: null` clears it and
 * `schema: null` removes the schema. A schema that differs from the current one moves `version`
 * on; from the moment this returns, every publish (in any process: the change moves the tenant's
 * publish context version, which every publish's write checks) is checked against it.
 */
export async function updateEventType(
  publisher: Publisher,
  scope: TenantScope,
  schemas: PayloadSchemas,
  input: UpdateEventTypeInput,
): Promise<EventTypeRow> {
  const name = changeableName(input.name);
  const changes: EventTypeChanges = {};
  if (input.description !== undefined) changes.description = optionalText(input.description, 'description', MAX_DESCRIPTION_LENGTH);
  if (input.deprecated !== undefined && input.deprecated !== null) changes.deprecated = input.deprecated;
  if (input.archived !== undefined && input.archived !== null) changes.archived = input.archived;
  if (input.schema !== undefined) changes.schema = input.schema === null ? null : schemas.checkedSchema(input.schema, scope.tenantId);
  return applyChanges(publisher, scope, name, changes);
}

/** Archives an event type: publishing it is refused, `eventTypes` leaves it out unless asked. Its events and deliveries stay. */
export function archiveEventType(publisher: Publisher, scope: TenantScope, input: { name: string }): Promise<EventTypeRow> {
  return applyChanges(publisher, scope, changeableName(input.name), { archived: true });
}

function changeableName(input: string): string {
  const name = requireEventTypeName(input);
  if (isBuiltInEventType(name)) throw new BadUserInputError(`${name} is a built-in event type: it cannot be changed`, 'name');
  return name;
}

async function applyChanges(publisher: Publisher, scope: TenantScope, name: string, changes: EventTypeChanges): Promise<EventTypeRow> {
  const eventType = await scope.eventTypes.update(name, changes);
  if (!eventType) throw new NotFoundError('Event type', name);
  // This process's own next publish reads afresh at once, rather than learn it from a refused write.
  publisher.reusedReads.forget(scope.tenantId);
  return eventType;
}

/** A built-in event type as a row of the tenant: the same for every tenant, there since the tenant was created. */
export function builtInEventTypeRow(name: string, tenant: { id: string; createdAt: Date }): EventTypeRow | undefined {
  const builtIn = builtInEventType(name);
  if (!builtIn) return undefined;
  return {
    id: builtIn.id,
    tenantId: tenant.id,
    name: builtIn.name,
    description: builtIn.description,
    schema: builtIn.schema,
    version: builtIn.version,
    deprecated: false,
    archivedAt: null,
    createdAt: tenant.createdAt,
  };
}

export function builtInEventTypeRows(tenant: { id: string; createdAt: Date }): EventTypeRow[] {
  return BUILT_IN_EVENT_TYPE_LIST.map((builtIn) => builtInEventTypeRow(builtIn.name, tenant)!);
}

/**
 * The tenant's event types, newest first, then the built-in ones (whose fixed ids sort below every
 * stored id, so one cursor pages through both).
 */
export async function listEventTypes(
  scope: TenantScope,
  tenant: { id: string; createdAt: Date },
  page: PageRequest,
  options: { includeArchived?: boolean } = {},
): Promise<Page<EventTypeRow>> {
  const stored = await scope.eventTypes.list(page, options);
  if (stored.hasNextPage) return stored;
  const builtIns = builtInEventTypeRows(tenant).filter((row) => page.afterId === undefined || row.id < page.afterId);
  const rows = [...stored.items, ...builtIns];
  return { items: rows.slice(0, page.first), hasNextPage: rows.length > page.first };
}
