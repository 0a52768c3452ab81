import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { Resolvers } from '../generated/resolvers-types.js';
import { deliveryResolvers } from './deliveries.js';
import { eventTypeResolvers } from './event-types.js';
import { eventResolvers } from './events.js';
import { subscriptionResolvers } from './subscriptions.js';
import { tenantResolvers } from './tenants.js';

const domains: Resolvers[] = [tenantResolvers, eventTypeResolvers, subscriptionResolvers, eventResolvers, deliveryResolvers];

/** Merges the per-domain resolver maps one type deep. */
export function buildResolvers(): Resolvers {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const domain of domains) {
    for (const [typeName, fields] of Object.entries(domain)) {
      merged[typeName] = { ...merged[typeName], ...(fields as Record<string, unknown>) };
    }
  }
  return { ...(merged as Resolvers), JSON: JSONResolver, DateTime: DateTimeResolver };
}
