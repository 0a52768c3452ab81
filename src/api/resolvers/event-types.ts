import { createEventType } from '../../domain/event-types.js';
import { tenantScopeFor, tenantWithQuotas } from '../access.js';
import { pageRequest, toConnection } from '../connection.js';
import type { Resolvers } from '../generated/resolvers-types.js';

export const eventTypeResolvers: Resolvers = {
  Query: {
    eventTypes: async (_parent, args, context) => {
      const scope = tenantScopeFor(context, 'events:read');
      return toConnection(await scope.eventTypes.list(pageRequest(args, context.services.config.api.maxPageSize)));
    },
  },
  Mutation: {
    createEventType: async (_parent, { input }, context) => {
      const { scope, quotas } = await tenantWithQuotas(context, 'subscriptions:write');
      return { eventType: await createEventType(scope, context.services.schemas, quotas, input) };
    },
  },
  EventType: {
    schema: (row) => row.schema ?? null,
  },
};
