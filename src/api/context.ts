import type { Context } from '@opentelemetry/api';
import type { Sql } from 'postgres';
import type { PortalSessionSigner } from '../auth/portal-session.js';
import type { Viewer } from '../auth/viewer.js';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import type { FirstAttemptHandoff } from '../publish/first-attempt-handoff.js';
import type { EventExamples } from '../domain/event-examples.js';
import type { PayloadSchemas } from '../domain/payload-schemas.js';
import type { Publisher } from '../publish/publisher.js';
import type { SecretBox } from '../secrets/secret-box.js';
import type { TenantDirectory } from '../tenancy/tenant-directory.js';
import type { Loaders, PlatformLoaders } from './loaders.js';
import type { PublishTrace } from '../observability/trace-context.js';
import type { Tracing } from '../observability/tracing.js';

/** Long-lived things every request may use. */
export interface ApiServices {
  config: Config;
  /** The primary: every write, and every read that must see the caller's own writes. */
  db: Database;
  /**
   * For reads that tolerate lag (lists, stats, the catalog): the DATABASE_READ_URL pool, read-only,
   * under the same role and row-level security as `db`; `db` itself without DATABASE_READ_URL.
   * Reach it through tenantReaderFor (src/api/access.ts), never for a read after a write.
   */
  reader: Database;
  sql: Sql;
  schemas: PayloadSchemas;
  /** Event types' example payloads, for test events and the catalog. */
  examples: EventExamples;
  secretBox: SecretBox;
  /** Publishing's state in this process (shared with its worker, if it runs one). */
  publisher: Publisher;
  /** The worker in this process (ROLE=all with WORKER_HANDOFF), to which publishes hand their first attempts. */
  handoff?: FirstAttemptHandoff;
  /** Spans exported over OTLP, when configured (OTEL_EXPORTER_OTLP_ENDPOINT). */
  tracing?: Tracing;
  /** Signs createPortalSession's tokens; undefined when only AUTH_JWKS_URL verifies tokens (no secret to sign with). */
  portalSessions: PortalSessionSigner | undefined;
}

/** `traceparent` / `traceOperation` (PublishTrace): the trace the request's publishes belong to. */
export interface RequestContext extends PublishTrace {
  viewer: Viewer;
  /** `http://<Host header>` when the request named a valid host: the API's origin as the caller reached it. */
  origin: string | undefined;
  services: ApiServices;
  /** Active tenants and their quotas, cached briefly. */
  tenants: TenantDirectory;
  /** Batched loaders for the tenant the request acts for; created on first use. */
  loaders(tenantId: string): Loaders;
  /** Batched loaders above any one tenant (operator views). */
  platformLoaders(): PlatformLoaders;
  /** Set by the tracing plugin when tracing is on: the operation's span. */
  traceOperation?: Context;
}
