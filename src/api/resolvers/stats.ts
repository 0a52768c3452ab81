import { TENANT_SUBJECT } from '../../db/scoped/delivery-stats.js';
import { bucketSeconds, statsWindow } from '../../domain/stats-window.js';
import type { RequestContext } from '../context.js';
import type { Resolvers } from '../generated/resolvers-types.js';
import type { StatsRequest } from '../loaders.js';

const totals = (request: StatsRequest, context: RequestContext) => context.loaders(request.tenantId).statsTotals.load(request);
const counts = (request: StatsRequest, context: RequestContext) =>
  context.loaders(request.tenantId).currentCounts.load(request.subscriptionId ?? TENANT_SUBJECT);

/**
 * `stats` of a subscription and of a tenant. Every window of a request ends at the same moment, and
 * each part (totals, buckets, current counts) is one query shared by every subscription of a list
 * that asks for the same window (see statsLoader).
 */
export const statsResolvers: Resolvers = {
  WebhookSubscription: {
    stats: (subscription, { since }, context) => ({
      tenantId: subscription.tenantId,
      subscriptionId: subscription.id,
      ...statsWindow(since, context.loaders(subscription.tenantId).statsUntil),
    }),
  },
  Tenant: {
    stats: (tenant, { since }, context) => ({
      tenantId: tenant.id,
      subscriptionId: null,
      ...statsWindow(since, context.loaders(tenant.id).statsUntil),
    }),
  },
  DeliveryStats: {
    deliveries: async (request, _args, context) => (await totals(request, context)).deliveries,
    succeeded: async (request, _args, context) => (await totals(request, context)).succeeded,
    failed: async (request, _args, context) => (await totals(request, context)).failed,
    attempts: async (request, _args, context) => (await totals(request, context)).attempts,
    successRate: async (request, _args, context) => {
      const { succeeded, failed } = await totals(request, context);
      return succeeded + failed === 0 ? null : succeeded / (succeeded + failed);
    },
    latencyP50Ms: async (request, _args, context) => (await totals(request, context)).latencyP50Ms,
    latencyP95Ms: async (request, _args, context) => (await totals(request, context)).latencyP95Ms,
    lastSuccessAt: async (request, _args, context) => (await totals(request, context)).lastSuccessAt,
    lastFailureAt: async (request, _args, context) => (await totals(request, context)).lastFailureAt,
    pending: async (request, _args, context) => (await counts(request, context)).pending,
    held: async (request, _args, context) => (await counts(request, context)).held,
    buckets: (request, { interval }, context) =>
      context.loaders(request.tenantId).statsBuckets.load({ ...request, intervalSeconds: bucketSeconds(interval, request) }),
  },
};
