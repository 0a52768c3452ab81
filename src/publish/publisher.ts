import { BacklogEstimates } from './backlog-estimate.js';
import { EventWriteBatcher } from './event-write-batcher.js';
import { sharedPublishReads, type PublishReads } from './publish-event.js';
import { PublishReadsCache } from './publish-reads-cache.js';
import type { Tracing } from '../observability/tracing.js';

/**
 * What publishing keeps between publishes: the writes grouped per tenant, the tenants' backlog
 * estimates, and the reads before a write, shared and reused. One per process (startHooklane),
 * used by the API's publishes and by the operational events its worker publishes.
 */
export class Publisher {
  /** Publish writes, grouped per tenant under load (see EventWriteBatcher). */
  readonly eventWrites = new EventWriteBatcher();
  /** Each tenant's pending backlog, about, for fair job priorities (see BacklogEstimates). */
  readonly backlogEstimates = new BacklogEstimates();
  /** The reads before a write, shared by a tenant's concurrent publishes (see sharedPublishReads). */
  readonly publishReads = sharedPublishReads();
  /** Reads reused by later publishes of the same event types, checked by the write (see PublishReadsCache). */
  readonly reusedReads = new PublishReadsCache<PublishReads>();

  /** `tracing`: spans of the publishes' writes, when OTLP export is configured. */
  constructor(readonly tracing?: Tracing) {}
}
