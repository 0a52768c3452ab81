import {
  createTenant,
  deleteTenant,
  findTenant,
  listAuditEntries,
  listTenants,
  revokeTenantTokens,
  setTenantStatus,
  updateTenantQuotas,
  type QuotaOverrides,
} from '../../db/tenants.js';
import { BadUserInputError, NotFoundError } from '../../errors.js';
import { MAX_NAME_LENGTH, optionalIntegerInRange, requireText } from '../../domain/input-rules.js';
import { effectiveQuotas, effectiveRetentionMs } from '../../tenancy/quotas.js';
import { MAX_RETENTION_MS, MIN_RETENTION_MS } from '../../config.js';
import { formatDuration, parseDuration } from '../../duration.js';
import { requireAdmin, requireAdminOrUnscopedOwnTenant, tenantReaderFor } from '../access.js';
import { CLOCK_SKEW_SECONDS } from '../../auth/jwt.js';
import { pageRequest, toConnection } from '../connection.js';
import type { Resolvers, UpdateTenantQuotasInput } from '../generated/resolvers-types.js';

const MAX_QUOTA = 2_000_000_000;

function quotaOverrides(input: UpdateTenantQuotasInput): QuotaOverrides {
  const overrides: QuotaOverrides = {};
  const fields = [
    ['publishRate', 'quotaPublishRate'],
    ['publishBurst', 'quotaPublishBurst'],
    ['eventsPerMonth', 'quotaEventsPerMonth'],
    ['subscriptions', 'quotaSubscriptions'],
    ['eventTypes', 'quotaEventTypes'],
    ['payloadBytes', 'quotaPayloadBytes'],
    ['deliveriesInFlight', 'quotaDeliveriesInFlight'],
  ] as const;
  for (const [field, column] of fields) {
    const value = input[field];
    if (value !== undefined) overrides[column] = optionalIntegerInRange(value, field, 1, MAX_QUOTA);
  }
  if (input.retention !== undefined) overrides.quotaRetentionMs = input.retention === null ? null : retentionMs(input.retention);
  return overrides;
}

/**
 * The cutoff of a revokeTokens call: now by default. One further ahead than the clock skew tokens
 * are allowed is refused: it would also refuse the tokens the tenant is issued until then.
 */
function revocationCutoff(issuedBefore: Date | string | null | undefined, now = new Date()): Date {
  if (issuedBefore === null || issuedBefore === undefined) return now;
  const cutoff = issuedBefore instanceof Date ? issuedBefore : new Date(issuedBefore);
  if (Number.isNaN(cutoff.getTime())) throw new BadUserInputError('issuedBefore is not a date-time', 'issuedBefore');
  if (cutoff.getTime() > now.getTime() + CLOCK_SKEW_SECONDS * 1000) {
    throw new BadUserInputError(`issuedBefore must not be more than ${CLOCK_SKEW_SECONDS} seconds in the future`, 'issuedBefore');
  }
  return cutoff;
}

/** A tenant's retention: a duration from 1m to 400d. */
function retentionMs(text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    throw new BadUserInputError('retention must be a duration such as 7d, 12h or 90m', 'retention');
  }
  if (ms < MIN_RETENTION_MS || ms > MAX_RETENTION_MS) throw new BadUserInputError('retention must be between 1m and 400d', 'retention');
  return ms;
}

/** Tenants and operators: creating, listing, suspending, erasing tenants and setting their quotas. */
export const adminResolvers: Resolvers = {
  Query: {
    tenant: async (_parent, _args, context) => {
      const tenantId = context.viewer.tenantId;
      return tenantId ? ((await findTenant(context.services.db, tenantId)) ?? null) : null;
    },
    tenants: async (_parent, args, context) => {
      requireAdmin(context);
      return toConnection(await listTenants(context.services.reader, pageRequest(args, context.services.config.api.maxPageSize)));
    },
    auditLog: async (_parent, args, context) => {
      const scope = tenantReaderFor(context, 'subscriptions:read');
      const page = pageRequest(args, context.services.config.api.maxPageSize);
      return toConnection(await listAuditEntries(context.services.reader, scope.tenantId, page));
    },
  },
  Mutation: {
    createTenant: async (_parent, { input }, context) => {
      requireAdmin(context);
      const name = requireText(input.name, 'name', MAX_NAME_LENGTH);
      if (/[\u0000-\u001f]/.test(name)) throw new BadUserInputError('name must not contain control characters', 'name');
      return { tenant: await createTenant(context.services.db, name) };
    },
    suspendTenant: async (_parent, { input }, context) => {
      requireAdmin(context);
      const tenant = await setTenantStatus(context.services.db, input.id, 'SUSPENDED');
      if (!tenant) throw new NotFoundError('Tenant', input.id);
      context.tenants.invalidate(input.id);
      return { tenant };
    },
    resumeTenant: async (_parent, { input }, context) => {
      requireAdmin(context);
      const tenant = await setTenantStatus(context.services.db, input.id, 'ACTIVE');
      if (!tenant) throw new NotFoundError('Tenant', input.id);
      context.tenants.invalidate(input.id);
      return { tenant };
    },
    deleteTenant: async (_parent, { input }, context) => {
      requireAdmin(context);
      if (!(await deleteTenant(context.services.db, input.id))) throw new NotFoundError('Tenant', input.id);
      context.tenants.invalidate(input.id);
      return { id: input.id };
    },
    revokeTokens: async (_parent, { input }, context) => {
      requireAdminOrUnscopedOwnTenant(context, input.tenantId);
      const tenant = await revokeTenantTokens(context.services.db, input.tenantId, revocationCutoff(input.issuedBefore));
      if (!tenant) throw new NotFoundError('Tenant', input.tenantId);
      // This process refuses the revoked tokens at once; the others when their cache entry expires.
      context.tenants.invalidate(input.tenantId);
      return { tenant };
    },
    updateTenantQuotas: async (_parent, { input }, context) => {
      requireAdmin(context);
      const tenant = await updateTenantQuotas(context.services.db, input.tenantId, quotaOverrides(input));
      if (!tenant) throw new NotFoundError('Tenant', input.tenantId);
      context.tenants.invalidate(input.tenantId);
      return { tenant };
    },
  },
  Tenant: {
    quotas: (tenant, _args, context) => ({
      ...effectiveQuotas(tenant, context.services.config.quotas),
      retention: formatDuration(effectiveRetentionMs(tenant, context.services.config.retention.defaultMs)),
    }),
    usage: async (tenant, _args, context) => {
      const usage = await context.platformLoaders().tenantUsage.load(tenant.id);
      return usage ?? { eventsThisMonth: 0, subscriptions: 0, eventTypes: 0, pendingDeliveries: 0, deliveriesInFlight: 0 };
    },
  },
};
