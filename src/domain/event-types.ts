import { BadUserInputError, ConflictError } from '../errors.js';
import type { EventTypeRow } from '../db/schema.js';
import type { TenantScope } from '../db/tenant-scope.js';
import { isBuiltInEventType } from '../publish/operational-events.js';
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
  const taken = () => new ConflictError(`Event type ${JSON.stringify(name)} already exists`);
  const eventType = await scope.transaction(async (tx) => {
    await assertRoomFor(tx, 'eventTypes', quotas);
    if ((await tx.eventTypes.missingNames([name])).length === 0) throw taken();
    // The schema is compiled only once the event type may be created: a refused create costs none.
    const schema = input.schema === null || input.schema === undefined ? null : schemas.checkedSchema(input.schema);
    return tx.eventTypes.create({ name, description, schema });
  });
  if (!eventType) throw taken();
  return eventType;
}
