import { ConflictError } from '../../errors.js';
import { MAX_DESCRIPTION_LENGTH, optionalText, requireEventTypeName } from '../../domain/input-rules.js';
import { tenantScopeFor } from '../access.js';
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
      const scope = tenantScopeFor(context, 'subscriptions:write');
      const name = requireEventTypeName(input.name);
      const description = optionalText(input.description, 'description', MAX_DESCRIPTION_LENGTH);
      // GraphQL hands JSON literals over as null-prototype objects; store a plain copy.
      const schema = input.schema === null || input.schema === undefined ? null : (JSON.parse(JSON.stringify(input.schema)) as unknown);
      if (schema !== null) context.services.schemas.assertValidSchema(schema);
      const eventType = await scope.eventTypes.create({ name, description, schema });
      if (!eventType) throw new ConflictError(`Event type ${JSON.stringify(name)} already exists`);
      return { eventType };
    },
  },
  EventType: {
    schema: (row) => row.schema ?? null,
  },
};
