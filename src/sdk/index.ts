// `hooklane/sdk`: a typed GraphQL client for Hooklane and a verifier for its webhooks.
export {
  createClient,
  MUTATION_DOCUMENTS,
  QUERY_DOCUMENTS,
  type CallOptions,
  type ClientOptions,
  type HooklaneClient,
  type MutationMethods,
  type QueryMethods,
  type ResultOf,
  type RetryQuotaExceededOptions,
  type VariablesOf,
} from './client.js';
export {
  HooklaneError,
  isHooklaneError,
  type ClientErrorCode,
  type ContractErrorCode,
  type GraphQLErrorEntry,
  type HooklaneErrorCode,
  type HooklaneErrorOptions,
} from './errors.js';
export {
  verifyWebhook,
  WebhookVerificationError,
  type VerifyOptions,
  type WebhookHeaders,
  type WebhookPayload,
  type WebhookVerificationErrorCode,
} from './verify.js';
// Every schema type, input, enum, operation result and typed document node.
export * from './generated/graphql.js';

// Short names for the objects the client returns (the shapes selected by src/sdk/operations/fragments.graphql).
export type {
  TenantFieldsFragment as Tenant,
  EventTypeFieldsFragment as EventType,
  WebhookSubscriptionFieldsFragment as WebhookSubscription,
  EventFieldsFragment as Event,
  DeliveryFieldsFragment as Delivery,
  DeliverySummaryFieldsFragment as DeliverySummary,
  DeliveryAttemptFieldsFragment as DeliveryAttempt,
  PageInfoFieldsFragment as PageInfo,
} from './generated/graphql.js';
export type {
  TenantDetailsFieldsFragment as TenantDetails,
  TenantQuotasFieldsFragment as TenantQuotas,
  TenantUsageFieldsFragment as TenantUsage,
  AuditLogEntryFieldsFragment as AuditLogEntry,
} from './generated/graphql.js';
