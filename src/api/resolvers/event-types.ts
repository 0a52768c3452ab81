import { archiveEventType, builtInEventTypeRows, createEventType, listEventTypes, updateEventType } from '../../domain/event-types.js';
import { eventCatalog } from '../../domain/event-catalog.js';
import { NotFoundError } from '../../errors.js';
import { isBuiltInEventType } from '../../publish/operational-events.js';
import { tenantReaderFor, tenantScopeFor, tenantWithQuotas } from '../access.js';
import { pageRequest, toConnection } from '../connection.js';
import type { RequestContext } from '../context.js';
import type { Resolvers } from '../generated/resolvers-types.js';

/** The tenant a scope acts for, as built-in event types and the catalog show it. */
async function tenantOf(context: RequestContext, tenantId: string) {
  const tenant = await context.tenants.activeTenant(tenantId);
  if (!tenant) throw new NotFoundError('Tenant', tenantId);
  return tenant;
}

export const eventTypeResolvers: Resolvers = {
  Query: {
    eventTypes: async (_parent, args, context) => {
      const scope = tenantReaderFor(context, 'events:read');
      const page = pageRequest(args, context.services.config.api.maxPageSize);
      const tenant = await tenantOf(context, scope.tenantId);
      return toConnection(await listEventTypes(scope, tenant, page, { includeArchived: args.includeArchived === true }));
    },
    eventCatalog: async (_parent, _args, context) => {
      const scope = tenantReaderFor(context, 'events:read');
      const tenant = await tenantOf(context, scope.tenantId);
      const rows = [...(await scope.eventTypes.listActive()), ...builtInEventTypeRows(tenant)];
      const eventTypes = rows.map((row) => ({ ...row, builtIn: isBuiltInEventType(row.name) }));
      return eventCatalog(tenant, eventTypes, context.services.examples);
    },
  },
  Mutation: {
    createEventType: async (_parent, { input }, context) => {
      const { scope, quotas } = await tenantWithQuotas(context, 'subscriptions:write');
      return { eventType: await createEventType(scope, context.services.schemas, quotas, input) };
    },
    updateEventType: async (_parent, { input }, context) => {
      const scope = tenantScopeFor(context, 'subscriptions:write');
      return { eventType: await updateEventType(context.services.publisher, scope, context.services.schemas, input) };
    },
    archiveEventType: async (_parent, { input }, context) => {
      const scope = tenantScopeFor(context, 'subscriptions:write');
      return { eventType: await archiveEventType(context.services.publisher, scope, input) };
    },
  },
  EventType: {
    schema: (row) => row.schema ?? null,
    builtIn: (row) => isBuiltInEventType(row.name),
  },
};
