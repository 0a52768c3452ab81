import { GraphQLError } from 'graphql';
import { BadUserInputError } from '../../errors.js';
import { recoverSubscription, retryDelivery } from '../../domain/manual-control.js';
import { tenantScopeFor } from '../access.js';
import { nestedListSize } from '../connection.js';
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
  },
  Delivery: {
    subscription: (delivery, _args, context) =>
      required(context.loaders(delivery.tenantId).subscription.load(delivery.subscriptionId), 'The subscription'),
    event: (delivery, _args, context) => required(context.loaders(delivery.tenantId).event.load(delivery.eventId), 'The event'),
    attempts: (delivery, { first }, context) =>
      context.loaders(delivery.tenantId).attemptsOfDelivery.load({ parentId: delivery.id, first: nestedListSize(first) }),
  },
};
