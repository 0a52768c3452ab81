// Everything @hooklane/sdk exports but verifyWebhook, which each entry point (index.ts, node.ts) defines on its crypto.
export {
  createClient,
  MUTATION_DOCUMENTS,
  QUERY_DOCUMENTS,
  type CallOptions,
  type ClientOptions,
  type HooklaneClient,
  type MutationMethods,
  type QueryMethods,
  type RetryQuotaExceededOptions,
} from './client.js';
export type { DocumentTypeDecoration, GraphQLDocument, ParsedDocument, ResultOf, VariablesOf } from './document.js';
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
  WebhookVerificationError,
  type VerifyOptions,
  type WebhookBody,
  type WebhookHeaders,
  type WebhookPayload,
  type WebhookVerificationErrorCode,
} from './verify.js';
// Every input, enum and operation result type the operations use, and the typed document strings.
export * from './generated/graphql.js';

// Short names for the objects the client returns (the shapes selected by src/operations/fragments.graphql).
export type {
  TenantFieldsFragment as Tenant,
  EventTypeFieldsFragment as EventType,
  WebhookSubscriptionFieldsFragment as WebhookSubscription,
  EventFieldsFragment as Event,
  DeliveryFieldsFragment as Delivery,
  DeliverySummaryFieldsFragment as DeliverySummary,
  DeliveryListFieldsFragment as DeliveryListItem,
  DeliveryAttemptFieldsFragment as DeliveryAttempt,
  PageInfoFieldsFragment as PageInfo,
} from './generated/graphql.js';
export type {
  TenantDetailsFieldsFragment as TenantDetails,
  TenantQuotasFieldsFragment as TenantQuotas,
  TenantUsageFieldsFragment as TenantUsage,
  AuditLogEntryFieldsFragment as AuditLogEntry,
  DeliveryStatsFieldsFragment as DeliveryStats,
  StatsBucketFieldsFragment as StatsBucket,
} from './generated/graphql.js';
