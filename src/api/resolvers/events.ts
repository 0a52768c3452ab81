import type { EventRow } from '../../db/schema.js';
import { expungeEventPayload, replayEvent } from '../../domain/manual-control.js';
import { eventSearch } from '../../domain/search-filters.js';
import { publishEvent, publishEvents } from '../../publish/publish-event.js';
import { tenantReaderFor, tenantScopeFor, tenantWithQuotas } from '../access.js';
import { nestedListSize, pageRequest, toConnection } from '../connection.js';
import type { Resolvers } from '../generated/resolvers-types.js';

/** The payload is the `data` member of the stored delivery body; null once expunged. */
function payloadOf(event: EventRow): unknown {
  return event.body === null ? null : (JSON.parse(event.body) as { data: unknown }).data;
}

export const eventResolvers: Resolvers = {
  Query: {
    event: async (_parent, { id }, context) => {
      const scope = tenantScopeFor(context, 'events:read');
      return (await context.loaders(scope.tenantId).event.load(id)) ?? null;
    },
    events: async (_parent, args, context) => {
      const scope = tenantReaderFor(context, 'events:read');
      const page = pageRequest(args, context.services.config.api.maxPageSize);
      return toConnection(await scope.events.search(eventSearch(args.filter), page));
    },
  },
  Mutation: {
    publishEvent: async (_parent, { input }, context) => {
      const { scope, quotas } = await tenantWithQuotas(context, 'events:publish', input.tenantId);
      const { event } = await publishEvent(context.services.publisher, scope, context.services.schemas, quotas, input, context.services.handoff, context);
      return { event };
    },
    publishEvents: async (_parent, { input }, context) => {
      const { scope, quotas } = await tenantWithQuotas(context, 'events:publish', input.tenantId);
      const written = await publishEvents(context.services.publisher, scope, context.services.schemas, quotas, input.events, {
        batch: true,
        handoff: context.services.handoff,
        trace: context,
      });
      return { events: written.map(({ event }) => event) };
    },
    replayEvent: async (_parent, { input }, context) => {
      const scope = tenantScopeFor(context, 'events:publish');
      return replayEvent(scope, input, context.services.config.quotas);
    },
    expungeEventPayload: async (_parent, { input }, context) => {
      const scope = tenantScopeFor(context, 'events:publish');
      return { event: await expungeEventPayload(scope, input.id) };
    },
  },
  Event: {
    payload: (event) => payloadOf(event),
    payloadExpunged: (event) => event.payloadExpungedAt !== null,
    deliveries: (event, { first }, context) =>
      context.loaders(event.tenantId).deliveriesOfEvent.load({ parentId: event.id, first: nestedListSize(first) }),
  },
};
