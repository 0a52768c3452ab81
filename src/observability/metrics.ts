import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Sql } from 'postgres';

/** The label every tenant past the cardinality cap shares. */
export const OTHER_TENANTS = 'other';
/** Tenants that get a label of their own, in order of first appearance in this process. */
export const DEFAULT_TENANT_LABEL_LIMIT = 1000;

/**
 * Caps the cardinality of `tenant` labels: the first `limit` tenants seen by this process keep
 * their id, every later one is counted under `other`. Unknown tenants (admin calls that name none)
 * are `none`.
 */
export class TenantLabels {
  private readonly known = new Set<string>();

  constructor(private readonly limit = DEFAULT_TENANT_LABEL_LIMIT) {}

  label(tenantId: string | undefined | null): string {
    if (!tenantId) return 'none';
    if (this.known.has(tenantId)) return tenantId;
    if (this.known.size >= this.limit) return OTHER_TENANTS;
    this.known.add(tenantId);
    return tenantId;
  }
}

export interface QueueStats {
  /** Jobs due now and not locked by any worker. */
  depth: number;
  /** Age of the oldest such job in seconds; 0 when there is none. */
  oldestAgeSeconds: number;
}

export type QueueStatsSource = () => Promise<QueueStats>;

/**
 * Reads the job queue through `hooklane_job_queue_stats()` (see migrate.ts): the application role
 * cannot read graphile-worker's tables, the function runs with the owner's rights and returns two numbers.
 */
export function queueStatsFrom(sql: Sql): QueueStatsSource {
  return async () => {
    const [row] = await sql<{ depth: string | number; oldest: string | number | null }[]>`
      select due_jobs as depth, oldest_due_age_seconds as oldest from hooklane_job_queue_stats()`;
    return { depth: Number(row?.depth ?? 0), oldestAgeSeconds: Number(row?.oldest ?? 0) };
  };
}

export interface MetricsOptions {
  /** Collected on each scrape; without it the queue gauges are absent. */
  queueStats?: QueueStatsSource;
  /** Called when collecting the queue gauges fails; the scrape still succeeds with their last values. */
  onCollectError?: (error: unknown) => void;
  /**
   * METRICS_TENANT_LABELS: a `tenant` label on the delivery and publish counters (default false:
   * no such label, so the metrics name no tenant and their cardinality does not grow with tenants).
   */
  tenantLabels?: boolean;
  tenantLabelLimit?: number;
  /** prom-client's process and Node.js metrics (default true). */
  defaultMetrics?: boolean;
}

const ATTEMPT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60];

/**
 * Hooklane's Prometheus metrics on a registry of their own (not prom-client's global one), so that
 * several instances in one process (the tests) do not collide.
 */
export class HooklaneMetrics {
  readonly registry = new Registry();
  /** Labels for the tenant counted, or undefined without METRICS_TENANT_LABELS. */
  readonly tenants: TenantLabels | undefined;
  readonly deliveries: Counter<'outcome' | 'tenant'>;
  readonly attemptDuration: Histogram<'outcome'>;
  readonly eventsPublished: Counter<'tenant'>;
  readonly quotaRefusals: Counter<'quota'>;
  readonly graphqlRequests: Counter<'operation_type' | 'outcome'>;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    this.tenants = options.tenantLabels ? new TenantLabels(options.tenantLabelLimit) : undefined;
    const byTenant = this.tenants ? ', by tenant' : '';
    const tenantLabel = this.tenants ? (['tenant'] as const) : [];
    this.deliveries = new Counter({
      name: 'hooklane_deliveries_total',
      help: `Delivery attempts by outcome (SUCCESS, HTTP_ERROR, TIMEOUT, …) and deliveries deferred or held${byTenant}`,
      labelNames: ['outcome', ...tenantLabel],
      registers,
    });
    this.attemptDuration = new Histogram({
      name: 'hooklane_attempt_duration_seconds',
      help: 'Duration of delivery attempts (HTTP request to the receiver), by outcome',
      labelNames: ['outcome'],
      buckets: ATTEMPT_BUCKETS,
      registers,
    });
    this.eventsPublished = new Counter({
      name: 'hooklane_events_published_total',
      help: `Events accepted by publishEvent and publishEvents${byTenant}`,
      labelNames: tenantLabel,
      registers,
    });
    this.quotaRefusals = new Counter({
      name: 'hooklane_quota_refusals_total',
      help: 'GraphQL errors with code QUOTA_EXCEEDED, by quota',
      labelNames: ['quota'],
      registers,
    });
    this.graphqlRequests = new Counter({
      name: 'hooklane_graphql_requests_total',
      help: 'GraphQL requests by operation type (query, mutation, unknown) and outcome (success, error)',
      labelNames: ['operation_type', 'outcome'],
      registers,
    });

    if (options.queueStats) {
      const source = options.queueStats;
      let pending: Promise<QueueStats | undefined> | undefined;
      // Both gauges are collected in the same scrape: they share one query.
      const stats = () =>
        (pending ??= source()
          .catch((error: unknown) => {
            options.onCollectError?.(error);
            return undefined;
          })
          .finally(() => {
            pending = undefined;
          }));
      new Gauge({
        name: 'hooklane_queue_depth',
        help: 'Jobs that are due and not locked by a worker (collected on scrape)',
        registers,
        async collect() {
          const value = await stats();
          if (value) this.set(value.depth);
        },
      });
      new Gauge({
        name: 'hooklane_oldest_pending_age_seconds',
        help: 'Age of the oldest job that is due and not locked by a worker; 0 when none (collected on scrape)',
        registers,
        async collect() {
          const value = await stats();
          if (value) this.set(value.oldestAgeSeconds);
        },
      });
    }
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for a scrape. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  recordAttempt(tenantId: string, outcome: string, durationMs: number): void {
    this.deliveries.inc(this.tenants ? { outcome, tenant: this.tenants.label(tenantId) } : { outcome });
    this.attemptDuration.observe({ outcome }, durationMs / 1000);
  }

  recordDispatch(tenantId: string, outcome: 'deferred' | 'held'): void {
    this.deliveries.inc(this.tenants ? { outcome, tenant: this.tenants.label(tenantId) } : { outcome });
  }

  recordPublished(tenantId: string | undefined, count: number): void {
    if (count > 0) this.eventsPublished.inc(this.tenants ? { tenant: this.tenants.label(tenantId) } : {}, count);
  }

  recordQuotaRefusal(quota: string): void {
    this.quotaRefusals.inc({ quota });
  }

  recordGraphqlRequest(operationType: string, outcome: 'success' | 'error'): void {
    this.graphqlRequests.inc({ operation_type: operationType, outcome });
  }
}
