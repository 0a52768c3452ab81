import type { Logger } from 'pino';
import { audited, payloadTargetId, type AuditTarget } from '../audit.js';
import { DateTimeScalar, JSONScalar } from '../scalars.js';
import type { RequestContext } from '../context.js';
import type { Resolvers } from '../generated/resolvers-types.js';
import { adminResolvers } from './admin.js';
import { deliveryResolvers } from './deliveries.js';
import { eventTypeResolvers } from './event-types.js';
import { eventResolvers } from './events.js';
import { portalSessionResolvers } from './portal-sessions.js';
import { statsResolvers } from './stats.js';
import { subscriptionResolvers } from './subscriptions.js';

const domains: Resolvers[] = [adminResolvers, eventTypeResolvers, subscriptionResolvers, eventResolvers, deliveryResolvers, statsResolvers, portalSessionResolvers];

type Input = { input: Record<string, unknown> };
const ownTenant = (_args: Input, result: unknown, context: RequestContext): AuditTarget => ({
  tenantId: context.viewer.tenantId ?? null,
  targetId: payloadTargetId(result),
});
const namedTenant = (args: Input): AuditTarget => {
  const id = String(args.input.id ?? args.input.tenantId);
  return { tenantId: id, targetId: id };
};

/**
 * The management mutations written to the audit log, and which tenant each entry belongs to.
 * Publishing is data, not management, and is not audited.
 */
const AUDITED: Record<string, (args: Input, result: unknown, context: RequestContext) => AuditTarget | null> = {
  createTenant: (_args, result) => ({ tenantId: payloadTargetId(result), targetId: payloadTargetId(result) }),
  suspendTenant: namedTenant,
  resumeTenant: namedTenant,
  updateTenantQuotas: namedTenant,
  revokeTokens: namedTenant,
  // The tenant's own log is erased with it: this entry stays at platform level.
  deleteTenant: (args) => ({ tenantId: null, targetId: String(args.input.id) }),
  createEventType: ownTenant,
  updateEventType: ownTenant,
  archiveEventType: ownTenant,
  createSubscription: ownTenant,
  updateSubscription: ownTenant,
  deleteSubscription: ownTenant,
  rotateSubscriptionSecret: ownTenant,
  retryDelivery: ownTenant,
  replayEvent: ownTenant,
  expungeEventPayload: ownTenant,
  recoverSubscription: ownTenant,
  // A dry run writes nothing, an audit entry included.
  retryDeliveries: (args, _result, context) => {
    if (args.input.dryRun === true) return null;
    const filter = args.input.filter as { subscriptionId?: string | null } | undefined;
    return { tenantId: context.viewer.tenantId ?? null, targetId: filter?.subscriptionId ?? null };
  },
  discardHeldDeliveries: ownTenant,
  sendTestEvent: ownTenant,
  // Who opened a portal into which tenant, and for how long; the token itself is never recorded.
  createPortalSession: (args, _result, context) => ({ tenantId: String(args.input.tenantId ?? context.viewer.tenantId), targetId: null }),
};

/** Merges the per-domain resolver maps one type deep and wraps management mutations for the audit log. */
export function buildResolvers(logger?: Logger): Resolvers {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const domain of domains) {
    for (const [typeName, fields] of Object.entries(domain)) {
      merged[typeName] = { ...merged[typeName], ...(fields as Record<string, unknown>) };
    }
  }
  const mutations = merged.Mutation ?? {};
  for (const [name, target] of Object.entries(AUDITED)) {
    const resolve = mutations[name];
    if (typeof resolve !== 'function') throw new Error(`audited mutation ${name} has no resolver`);
    mutations[name] = audited(name, resolve as Parameters<typeof audited>[1], target as Parameters<typeof audited>[2], logger);
  }
  return { ...(merged as Resolvers), JSON: JSONScalar, DateTime: DateTimeScalar };
}
