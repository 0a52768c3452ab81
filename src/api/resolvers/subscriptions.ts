import { formatDuration } from '../../duration.js';
import {
  createSubscription,
  deleteSubscription,
  discardHeldDeliveries,
  rotateSubscriptionSecret,
  updateSubscription,
} from '../../domain/subscriptions.js';
import { previewSubscriptionFilter } from '../../domain/subscription-filters.js';
import { sendTestEvent } from '../../domain/test-events.js';
import { tenantReaderFor, tenantScopeFor, tenantWithQuotas } from '../access.js';
import { pageRequest, toConnection } from '../connection.js';
import type { RequestContext } from '../context.js';
import type { Resolvers } from '../generated/resolvers-types.js';

const rules = (context: RequestContext) => ({
  allowPrivateNetworks: context.services.config.delivery.allowPrivateNetworks,
  httpsOnly: context.services.config.delivery.httpsOnly,
  secretBox: context.services.secretBox,
});

export const subscriptionResolvers: Resolvers = {
  Query: {
    subscription: async (_parent, { id }, context) => {
      const scope = tenantScopeFor(context, 'subscriptions:read');
      return (await context.loaders(scope.tenantId).subscription.load(id)) ?? null;
    },
    subscriptions: async (_parent, args, context) => {
      const scope = tenantReaderFor(context, 'subscriptions:read');
      return toConnection(await scope.subscriptions.list(pageRequest(args, context.services.config.api.maxPageSize)));
    },
  },
  Mutation: {
    createSubscription: async (_parent, { input }, context) => {
      const { scope, quotas } = await tenantWithQuotas(context, 'subscriptions:write');
      return createSubscription(scope, rules(context), quotas, input);
    },
    updateSubscription: async (_parent, { input }, context) => {
      const scope = tenantScopeFor(context, 'subscriptions:write');
      return { subscription: await updateSubscription(context.services.publisher, scope, rules(context), input) };
    },
    deleteSubscription: async (_parent, { input }, context) => {
      const scope = tenantScopeFor(context, 'subscriptions:write');
      await deleteSubscription(scope, input.id);
      return { id: input.id };
    },
    rotateSubscriptionSecret: async (_parent, { input }, context) => {
      const scope = tenantScopeFor(context, 'subscriptions:write');
      return rotateSubscriptionSecret(scope, rules(context), input);
    },
    discardHeldDeliveries: async (_parent, { input }, context) => {
      const scope = tenantScopeFor(context, 'subscriptions:write');
      return discardHeldDeliveries(scope, input.subscriptionId);
    },
    // It reads the tenant's events and writes nothing: events:read.
    previewSubscriptionFilter: async (_parent, { input }, context) => {
      const scope = tenantScopeFor(context, 'events:read');
      return previewSubscriptionFilter(scope, input);
    },
    sendTestEvent: async (_parent, { input }, context) => {
      // subscriptions:write, not events:publish: it sends to one endpoint of the caller's choosing, as managing it does.
      const { scope, quotas } = await tenantWithQuotas(context, 'subscriptions:write');
      const { publisher, examples, handoff } = context.services;
      return { delivery: await sendTestEvent(publisher, scope, examples, quotas, input, handoff, context) };
    },
  },
  WebhookSubscription: {
    filter: (subscription) => subscription.filter ?? null,
    retrySchedule: (subscription, _args, context) =>
      (subscription.retryScheduleMs ?? context.services.config.delivery.retryScheduleMs).map(formatDuration),
    hasCustomRetrySchedule: (subscription) => subscription.retryScheduleMs !== null,
    previousSecretExpiresAt: (subscription) =>
      subscription.previousSecretsExpireAt && subscription.previousSecretsExpireAt > new Date() ? subscription.previousSecretsExpireAt : null,
    heldDeliveryCount: (subscription, _args, context) => context.loaders(subscription.tenantId).heldCount.load(subscription.id),
    headerNames: (subscription) => subscription.headerNames ?? [],
    authType: (subscription) => subscription.authType ?? 'NONE',
    tls: (subscription) => ({
      clientCertificateExpiresAt: subscription.tlsClientCertificateExpiresAt,
      caConfigured: subscription.tlsCaCertificate !== null,
    }),
  },
};
