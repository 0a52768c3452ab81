import type { EventRow } from '../../db/schema.js';
import { replayEvent } from '../../domain/manual-control.js';
import { eventSearch } from '../../domain/search-filters.js';
import { publishEvent, publishEvents } from '../../publish/publish-event.js';
import { tenantScopeFor, tenantWithQuotas } from '../access.js';
import { nestedListSize, pageRequest, toConnection } from '../connection.js';
import type { Resolvers } from '../generated/resolvers-types.js';

/** The payload is the `data` member of the stored delivery body. */
function payloadOf(event: EventRow): unknown {
  return (JSON.parse(event.body) as { data: unknown }).data;
}

export const eventResolvers: Resolvers = {
  Query: {
    event: async (_parent, { id }, context) => {
      const scope = tenantScopeFor(context, 'events:read');
      return (await context.loaders(scope.tenantId).event.load(id)) ?? null;
    },
    events: async (_parent, args, context) => {
      const scope = tenantScopeFor(context, 'events:read');
      const page = pageRequest(args, context.services.config.api.maxPageSize);
      return toConnection(await scope.events.search(eventSearch(args.filter), page));
    },
  },
  Mutation: {
    publishEvent: async (_parent, { input }, context) => {
      const { scope, quotas } = await tenantWithQuotas(context, 'events:publish', input.tenantId);
      const { event } = await publishEvent(context.services.publisher, scope, context.services.schemas, quotas, input, context.services.handoff);
      return { event };
    },
    publishEvents: async (_parent, { input }, context) => {
      const { scope, quotas } = await tenantWithQuotas(context, 'events:publish', input.tenantId);
      const written = await publishEvents(context.services.publisher, scope, context.services.schemas, quotas, input.events, {
        batch: true,
        handoff: context.services.handoff,
      });
      return { events: written.map(({ event }) => event) };
    },
    replayEvent: async (_parent, { input }, context) => {
      const scope = tenantScopeFor(context, 'events:publish');
      return replayEvent(scope, input, context.services.config.quotas);
    },
  },
  Event: {
    payload: (event) => payloadOf(event),
    deliveries: (event, { first }, context) =>
      context.loaders(event.tenantId).deliveriesOfEvent.load({ parentId: event.id, first: nestedListSize(first) }),
  },
};
