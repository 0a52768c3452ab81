import { createRequire } from 'node:module';
import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import {
  buildSchema,
  getNamedType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { RIGHTS, type RightName } from '../auth/viewer.js';
import type { RequestContext } from './context.js';

// The refusal is raised in an Apollo hook, so it must be Apollo's copy of GraphQLError (see hardening.ts).
const nodeRequire = createRequire(import.meta.url);
const { GraphQLError: ApolloGraphQLError } = nodeRequire('graphql') as typeof import('graphql');

/** Any one of these rights lets a token read the field. */
type Rule = RightName | readonly RightName[];

/**
 * Who may read what. A type's rule covers each of its fields unless FIELD_RULES names the field.
 * A field that returns an object is also refused to a token that may read none of that object's
 * fields, so `Delivery.subscription` needs a subscriptions right whatever path reaches it.
 * A write right reads back the objects it writes (a subscriptions:write token gets the subscription
 * it created); events:publish reads back what it published, retried or replayed, but not payloads,
 * subscriptions or attempts (receivers' answers), which an event id alone must not reveal.
 */
/**
 * Delivery statistics: counts and response times, no payload, URL or answer: endpoint health (what
 * subscriptions:read sees beside them) or deliveries in aggregate (what events:read lists one by
 * one). A subscription's own stats need subscriptions:read (see WebhookSubscription.stats).
 */
const STATS: Rule = ['subscriptions:read', 'events:read'];
/**
 * createPortalSession: a token with a read right may start a read-only session with its read
 * scopes; a full session needs every right of the tenant (the resolver checks which).
 */
const PORTAL_SESSION: Rule = ['events:read', 'subscriptions:read', 'all-tenant-rights'];

export const TYPE_RULES: Record<string, Rule> = {
  // The caller's own tenant, its limits and where it stands against them: any token of the tenant.
  Tenant: 'token',
  TenantQuotas: 'token',
  TenantUsage: 'token',
  PageInfo: 'token',
  TenantConnection: 'admin',
  TenantEdge: 'admin',
  AuditLogConnection: 'subscriptions:read',
  AuditLogEdge: 'subscriptions:read',
  AuditLogEntry: 'subscriptions:read',
  EventType: ['events:read', 'subscriptions:write'],
  EventTypeConnection: 'events:read',
  EventTypeEdge: 'events:read',
  WebhookSubscription: ['subscriptions:read', 'subscriptions:write'],
  SubscriptionTls: ['subscriptions:read', 'subscriptions:write'],
  WebhookSubscriptionConnection: 'subscriptions:read',
  WebhookSubscriptionEdge: 'subscriptions:read',
  Event: 'events:read',
  EventConnection: 'events:read',
  EventEdge: 'events:read',
  DeliveryConnection: 'events:read',
  DeliveryEdge: 'events:read',
  Delivery: 'events:read',
  DeliveryAttempt: 'events:read',
  DeliveryStats: STATS,
  StatsBucket: STATS,
  // A mutation's payload: the mutation's own right.
  CreateTenantPayload: 'admin',
  SuspendTenantPayload: 'admin',
  ResumeTenantPayload: 'admin',
  DeleteTenantPayload: 'admin',
  UpdateTenantQuotasPayload: 'admin',
  CreateEventTypePayload: 'subscriptions:write',
  CreateSubscriptionPayload: 'subscriptions:write',
  UpdateSubscriptionPayload: 'subscriptions:write',
  DeleteSubscriptionPayload: 'subscriptions:write',
  RotateSubscriptionSecretPayload: 'subscriptions:write',
  DiscardHeldDeliveriesPayload: 'subscriptions:write',
  PublishEventPayload: 'events:publish',
  PublishEventsPayload: 'events:publish',
  RetryDeliveryPayload: 'events:publish',
  ReplayEventPayload: 'events:publish',
  RecoverSubscriptionPayload: 'events:publish',
  ExpungeEventPayloadPayload: 'events:publish',
  RetryDeliveriesPayload: 'events:publish',
  PreviewSubscriptionFilterPayload: 'events:read',
  UpdateEventTypePayload: 'subscriptions:write',
  ArchiveEventTypePayload: 'subscriptions:write',
  SendTestEventPayload: 'subscriptions:write',
  // Admin tokens, or a tenant token without scope (for its own tenant: the resolver checks which).
  RevokeTokensPayload: 'all-tenant-rights',
  CreatePortalSessionPayload: PORTAL_SESSION,
};

const PUBLISHED: Rule = ['events:read', 'events:publish'];

/** Every Query and Mutation field, and the fields whose rule is not their type's. */
export const FIELD_RULES: Record<string, Rule> = {
  'Query.tenant': 'token',
  'Query.tenants': 'admin',
  'Query.eventTypes': 'events:read',
  'Query.subscription': 'subscriptions:read',
  'Query.subscriptions': 'subscriptions:read',
  'Query.event': 'events:read',
  'Query.events': 'events:read',
  'Query.delivery': 'events:read',
  'Query.deliveries': 'events:read',
  'Query.auditLog': 'subscriptions:read',
  'Mutation.createTenant': 'admin',
  'Mutation.suspendTenant': 'admin',
  'Mutation.resumeTenant': 'admin',
  'Mutation.deleteTenant': 'admin',
  'Mutation.updateTenantQuotas': 'admin',
  'Mutation.createEventType': 'subscriptions:write',
  'Mutation.createSubscription': 'subscriptions:write',
  'Mutation.updateSubscription': 'subscriptions:write',
  'Mutation.deleteSubscription': 'subscriptions:write',
  'Mutation.rotateSubscriptionSecret': 'subscriptions:write',
  'Mutation.discardHeldDeliveries': 'subscriptions:write',
  'Mutation.publishEvent': 'events:publish',
  'Mutation.publishEvents': 'events:publish',
  'Mutation.retryDelivery': 'events:publish',
  'Mutation.replayEvent': 'events:publish',
  'Mutation.recoverSubscription': 'events:publish',
  'Mutation.expungeEventPayload': 'events:publish',
  'Mutation.retryDeliveries': 'events:publish',
  'Mutation.previewSubscriptionFilter': 'events:read',
  'Mutation.updateEventType': 'subscriptions:write',
  'Mutation.archiveEventType': 'subscriptions:write',
  'Mutation.sendTestEvent': 'subscriptions:write',
  'Query.eventCatalog': 'events:read',
  'Mutation.revokeTokens': 'all-tenant-rights',
  'Mutation.createPortalSession': PORTAL_SESSION,
  'Tenant.stats': STATS,
  // Only where the subscription is readable: events:read does not reach a delivery's subscription through it.
  'WebhookSubscription.stats': 'subscriptions:read',
  // Both rights: subscriptions:read here, and events:read to read the DeliveryConnection it returns
  // (an events right here would let events:read reach WebhookSubscription through Delivery.subscription).
  'WebhookSubscription.deliveries': 'subscriptions:read',
  // What a publishing token reads back: the event's identity and its deliveries' progress.
  'Event.id': PUBLISHED,
  'Event.eventType': PUBLISHED,
  'Event.idempotencyKey': PUBLISHED,
  'Event.orderingKey': PUBLISHED,
  'Event.channels': PUBLISHED,
  'Event.createdAt': PUBLISHED,
  'Event.deliveries': PUBLISHED,
  'Event.eventTypeVersion': PUBLISHED,
  'Event.test': PUBLISHED,
  'Event.payloadExpunged': PUBLISHED,
  'Delivery.id': PUBLISHED,
  'Delivery.status': PUBLISHED,
  'Delivery.subscriptionId': PUBLISHED,
  'Delivery.event': PUBLISHED,
  'Delivery.attemptCount': PUBLISHED,
  'Delivery.nextAttemptAt': PUBLISHED,
  'Delivery.createdAt': PUBLISHED,
};

const ROOT_TYPES: Record<OperationDefinitionNode['operation'], string> = { query: 'Query', mutation: 'Mutation', subscription: 'Subscription' };

function bitsOf(rule: Rule): number {
  return (typeof rule === 'string' ? [rule] : rule).reduce((bits, right) => bits | RIGHTS[right], 0);
}

function describeRule(rule: Rule): string {
  return (typeof rule === 'string' ? [rule] : rule).map((right) => (right === 'token' ? 'any token' : right === 'admin' ? 'an admin token' : right)).join(' or ');
}

interface FieldCheck {
  /** `Type.field`, for the refusal. */
  name: string;
  /** Rights of which the viewer needs one for the field itself... */
  need: number;
  /** ...and one for the object it returns (all bits for scalars and enums). */
  reach: number;
  /** What the refusal says the field needs. */
  needs: string;
  /** The object type its selection set selects from; undefined for scalars and enums. */
  selects: string | undefined;
}

/** What an operation selects that a viewer may not read: `Type.field` names, and what each needs. */
interface Verdict {
  fields: readonly string[];
  message: string;
}
const ALLOWED: Verdict = Object.freeze({ fields: Object.freeze([]), message: '' });

/**
 * Checks every field an operation selects, at any depth and through fragments, against the
 * viewer's rights, before any resolver runs: a refused operation has done nothing, a mutation
 * included. Directives are not evaluated: a field under `@skip` is checked like any other.
 */
export class FieldAccess {
  private readonly types = new Map<string, Map<string, FieldCheck>>();
  /** Verdicts per parsed operation (Apollo keeps one parse per query text), indexed by rights bits. */
  private readonly verdicts = new WeakMap<OperationDefinitionNode, Verdict[]>();

  /** Throws when a field of `typeDefs` has no rule, or a rule names no field or type of it. */
  constructor(typeDefs: string) {
    const schema = buildSchema(typeDefs);
    const objectTypes = Object.values(schema.getTypeMap()).filter(
      (type): type is GraphQLObjectType => isObjectType(type) && !type.name.startsWith('__'),
    );
    const ruleOf = new Map<string, Rule>();
    const missing: string[] = [];
    for (const type of objectTypes) {
      const isRoot = type === schema.getQueryType() || type === schema.getMutationType();
      for (const field of Object.values(type.getFields())) {
        const name = `${type.name}.${field.name}`;
        const rule = FIELD_RULES[name] ?? (isRoot ? undefined : TYPE_RULES[type.name]);
        if (rule === undefined) missing.push(name);
        else ruleOf.set(name, rule);
      }
    }
    const stale = [
      ...Object.keys(FIELD_RULES).filter((name) => !ruleOf.has(name)),
      ...Object.keys(TYPE_RULES).filter((name) => !objectTypes.some((type) => type.name === name)),
    ];
    if (missing.length > 0) throw new Error(`src/api/field-access.ts: no access rule for ${missing.join(', ')}`);
    if (stale.length > 0) throw new Error(`src/api/field-access.ts: rules for what schema.graphql does not have: ${stale.join(', ')}`);

    // A type can be reached by whoever may read at least one of its fields.
    const reachOf = new Map<string, number>();
    for (const type of objectTypes) {
      let reach = 0;
      for (const field of Object.values(type.getFields())) reach |= bitsOf(ruleOf.get(`${type.name}.${field.name}`)!);
      reachOf.set(type.name, reach);
    }
    for (const type of objectTypes) {
      const checks = new Map<string, FieldCheck>();
      for (const field of Object.values(type.getFields())) {
        const name = `${type.name}.${field.name}`;
        const rule = ruleOf.get(name)!;
        const returned = getNamedType(field.type);
        const selects = isObjectType(returned) ? returned.name : undefined;
        const need = bitsOf(rule);
        const reach = selects ? reachOf.get(selects)! : -1;
        const reachNeeds = selects && (reach & need) !== need ? `, and to read ${selects}: ${describeBits(reach)}` : '';
        checks.set(field.name, { name, need, reach, needs: `${describeRule(rule)}${reachNeeds}`, selects });
      }
      this.types.set(type.name, checks);
    }
  }

  /** The fields of `operation` a viewer with `rights` may not read; none when it may run. */
  refusedFields(document: DocumentNode, operation: OperationDefinitionNode, rights: number): Verdict {
    let byRights = this.verdicts.get(operation);
    const known = byRights?.[rights];
    if (known) return known;
    const refused = new Map<string, string>();
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    }
    this.walk(operation.selectionSet, ROOT_TYPES[operation.operation], rights, fragments, new Set(), refused);
    const verdict =
      refused.size === 0
        ? ALLOWED
        : Object.freeze({
            fields: Object.freeze([...refused.keys()]),
            message: `This token may not read ${[...refused].map(([name, needs]) => `${name} (needs ${needs})`).join('; ')}`,
          });
    if (!byRights) this.verdicts.set(operation, (byRights = []));
    byRights[rights] = verdict;
    return verdict;
  }

  private walk(
    selectionSet: SelectionSetNode,
    typeName: string,
    rights: number,
    fragments: ReadonlyMap<string, FragmentDefinitionNode>,
    walkedFragments: Set<string>,
    refused: Map<string, string>,
  ): void {
    const checks = this.types.get(typeName);
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const fieldName = selection.name.value;
        // __typename, and introspection where it is switched on: the schema, not the tenant's data.
        if (fieldName.startsWith('__')) continue;
        const check = checks?.get(fieldName);
        if (!check) {
          refused.set(`${typeName}.${fieldName}`, 'a field this API has');
        } else if ((rights & check.need) === 0 || (rights & check.reach) === 0) {
          refused.set(check.name, check.needs);
        } else if (selection.selectionSet && check.selects) {
          this.walk(selection.selectionSet, check.selects, rights, fragments, walkedFragments, refused);
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        this.walk(selection.selectionSet, selection.typeCondition?.name.value ?? typeName, rights, fragments, walkedFragments, refused);
      } else {
        // A fragment's verdict does not depend on where it is spread: walk each one once.
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (walkedFragments.has(name) || !fragment) continue;
        walkedFragments.add(name);
        this.walk(fragment.selectionSet, fragment.typeCondition.name.value, rights, fragments, walkedFragments, refused);
      }
    }
  }
}

function describeBits(bits: number): string {
  return describeRule((Object.keys(RIGHTS) as RightName[]).filter((right) => (bits & RIGHTS[right]) !== 0));
}

/** The root fields an operation selects (aliases resolved to their field names), for a refusal. */
function rootFieldNames(operation: OperationDefinitionNode, typeName: string): string[] {
  return operation.selectionSet.selections.flatMap((selection) =>
    selection.kind === Kind.FIELD && !selection.name.value.startsWith('__') ? [`${typeName}.${selection.name.value}`] : [],
  );
}

/**
 * Refuses, with FORBIDDEN and before any resolver runs, every mutation of a read-only portal
 * session, and an operation that selects a field the token may not read (see FieldAccess). Its cost per request is one WeakMap lookup once the
 * operation has been seen with the same rights; resolvers are not wrapped.
 */
export function fieldAccessPlugin(access: FieldAccess): ApolloServerPlugin<RequestContext> {
  const listener: GraphQLRequestListener<RequestContext> = {
    async didResolveOperation({ document, operation, contextValue }) {
      if (!operation) return;
      if (operation.operation === 'mutation' && contextValue.viewer.readOnly) {
        throw new ApolloGraphQLError('This is a read-only session: it may read but not change anything', {
          extensions: { code: 'FORBIDDEN', fields: rootFieldNames(operation, 'Mutation'), http: { status: 403 } },
        });
      }
      const refused = access.refusedFields(document, operation, contextValue.viewer.rights);
      if (refused.fields.length === 0) return;
      throw new ApolloGraphQLError(refused.message, {
        extensions: { code: 'FORBIDDEN', fields: refused.fields, http: { status: 403 } },
      });
    },
  };
  return {
    async requestDidStart() {
      return listener;
    },
  };
}
