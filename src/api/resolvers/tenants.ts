import { BadUserInputError } from '../../errors.js';
import { createTenant, findTenant, listTenants } from '../../db/tenants.js';
import { requireText, MAX_NAME_LENGTH } from '../../domain/input-rules.js';
import { requireAdmin } from '../access.js';
import { pageRequest, toConnection } from '../connection.js';
import type { Resolvers } from '../generated/resolvers-types.js';

export const tenantResolvers: Resolvers = {
  Query: {
    tenant: async (_parent, _args, context) => {
      const tenantId = context.viewer.tenantId;
      return tenantId ? ((await findTenant(context.services.db, tenantId)) ?? null) : null;
    },
    tenants: async (_parent, args, context) => {
      requireAdmin(context);
      return toConnection(await listTenants(context.services.db, pageRequest(args, context.services.config.api.maxPageSize)));
    },
  },
  Mutation: {
    createTenant: async (_parent, { input }, context) => {
      requireAdmin(context);
      const name = requireText(input.name, 'name', MAX_NAME_LENGTH);
      if (/[\u0000-\u001f]/.test(name)) throw new BadUserInputError('name must not contain control characters', 'name');
      return { tenant: await createTenant(context.services.db, name) };
    },
  },
};
