import { GraphQLError } from 'graphql';
import { BadUserInputError } from '../../errors.js';
import { recoverSubscription, retryDeliveries, retryDelivery } from '../../domain/manual-control.js';
import { deliverySearch } from '../../domain/search-filters.js';
import { TenantScope } from '../../db/tenant-scope.js';
import { tenantScopeFor } from '../access.js';
import { nestedListSize, pageRequest, toConnection } from '../connection.js';
import type { Resolvers } from '../generated/resolvers-types.js';

async function required<T>(value: Promise<T | undefined>, what: string): Promise<T> {
  const found = await value;
  // The foreign keys make this unreachable; fail loudly rather than return a broken object.
  if (found === undefined) throw new GraphQLError(`${what} of a delivery is missing`);
  return found;
}

function toDate(value: Date | string, field: string): Date {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw new BadUserInputError(`${field} is not a date-time`, field);
  return date;
}

export const deliveryResolvers: Resolvers = {
  Query: {
    delivery: async (_parent, { id }, context) => {
      const scope = tenantScopeFor(context, 'events:read');
      return (await scope.deliveries.find(id)) ?? null;
    },
    deliveries: async (_parent, args, context) => {
      const scope = tenantScopeFor(context, 'events:read');
      const page = pageRequest(args, context.services.config.api.maxPageSize);
      return toConnection(await scope.deliveries.search(deliverySearch(args.filter), page));
    },
  },
  Mutation: {
    retryDelivery: async (_parent, { input }, context) => {
      const scope = tenantScopeFor(context, 'events:publish');
      return { delivery: await retryDelivery(scope, input.id, context.services.config.quotas) };
    },
    recoverSubscription: async (_parent, { input }, context) => {
      const scope = tenantScopeFor(context, 'events:publish');
      const window = { id: input.id, since: toDate(input.since, 'since'), until: input.until ? toDate(input.until, 'until') : null };
      return recoverSubscription(scope, window, context.services.config.quotas);
    },
    retryDeliveries: async (_parent, { input }, context) => {
      const scope = tenantScopeFor(context, 'events:publish');
      const filter = deliverySearch(input.filter);
      return retryDeliveries(scope, { filter, dryRun: input.dryRun === true }, context.services.config.quotas);
    },
  },
  WebhookSubscription: {
    deliveries: async (subscription, args, context) => {
      // Field access has checked events:read; the subscription names its tenant.
      const scope = new TenantScope(context.services.db, subscription.tenantId);
      const page = pageRequest(args, context.services.config.api.maxPageSize);
      const search = deliverySearch({ subscriptionId: subscription.id, status: args.status ?? null });
      return toConnection(await scope.deliveries.search(search, page));
    },
  },
  Delivery: {
    subscription: (delivery, _args, context) =>
      required(context.loaders(delivery.tenantId).subscription.load(delivery.subscriptionId), 'The subscription'),
    event: (delivery, _args, context) => required(context.loaders(delivery.tenantId).event.load(delivery.eventId), 'The event'),
    attempts: (delivery, { first }, context) =>
      context.loaders(delivery.tenantId).attemptsOfDelivery.load({ parentId: delivery.id, first: nestedListSize(first) }),
  },
};
