import path from 'node:path';
import { z } from 'zod';
import { parseDuration, parseDurationList } from './duration.js';
import { parseNoProxy, type ProxySettings } from './delivery/proxy-routing.js';
import { secretsKeyBytes } from './secrets/secret-box.js';

/** HS256 needs a key at least as long as its hash (RFC 7518 §3.2): 256 bits. */
export const MIN_JWT_SECRET_BYTES = 32;

/** A retention, the deployment's or a tenant's, is at least a minute and at most 400 days. */
export const MIN_RETENTION_MS = 60_000;
export const MAX_RETENTION_MS = 400 * 86_400_000;

const duration = (fallback: string) => z.string().default(fallback).transform((text, ctx) => {
  try {
    return parseDuration(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

const durationList = (fallback: string) => z.string().default(fallback).transform((text, ctx) => {
  try {
    return parseDurationList(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value === '' ? undefined : value));

const otlpUrl = z
  .string()
  .url()
  .refine((url) => /^https?:\/\//i.test(url), 'must be an http: or https: URL (OTLP/HTTP; gRPC is not supported)');

/** Every environment variable Hooklane reads, parsed once at start-up. */
const environmentSchema = z.object({
  ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  DATABASE_URL: optionalText.pipe(z.string().url().optional()),
  DATABASE_READ_URL: optionalText.pipe(z.string().url().optional()),
  DATA_DIR: z.string().default('./.data'),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  AUTH_JWT_SECRET: optionalText.pipe(
    z
      .string()
      .refine((secret) => Buffer.byteLength(secret, 'utf8') >= MIN_JWT_SECRET_BYTES, {
        message: `must be at least ${MIN_JWT_SECRET_BYTES} bytes (for example \`openssl rand -base64 32\`)`,
      })
      .optional(),
  ),
  AUTH_JWKS_URL: optionalText.pipe(z.string().url().optional()),
  AUTH_ISSUER: optionalText,
  AUTH_AUDIENCE: optionalText,
  AUTH_AUDIENCE_ANY: booleanFlag.default(false),
  AUTH_TENANT_CLAIM: z.string().default('tenant_id'),
  SECRETS_KEY: optionalText.pipe(
    z
      .string()
      .refine((text) => secretsKeyBytes(text) !== undefined, { message: 'must be 32 bytes, written as 64 hex characters or base64 (for example `openssl rand -base64 32`)' })
      .optional(),
  ),
  DELIVERY_RETRY_SCHEDULE: durationList('5s,5m,30m,2h,5h,10h,10h'),
  DELIVERY_TIMEOUT: duration('15s'),
  DELIVERY_ALLOW_PRIVATE_NETWORKS: booleanFlag.default(false),
  DELIVERY_HTTPS_ONLY: booleanFlag.default(false),
  DELIVERY_RESPONSE_BODY_LIMIT: z.coerce.number().int().min(0).default(4096),
  DELIVERY_PROXY_URL: optionalText.pipe(
    z
      .string()
      .url()
      .refine((url) => /^https?:\/\//i.test(url), 'must be an http: or https: URL')
      .optional(),
  ),
  DELIVERY_NO_PROXY: z.string().default('').transform((text, ctx) => {
    try {
      return parseNoProxy(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  }),
  SUBSCRIPTION_DISABLE_AFTER: duration('5d'),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(64),
  WORKER_SUBSCRIPTION_SHARE: z.coerce.number().gt(0).max(1).default(0.25),
  WORKER_TENANT_SHARE: z.coerce.number().gt(0).max(1).default(0.25),
  WORKER_POLL_INTERVAL: duration('250ms'),
  WORKER_ASYNC_COMMIT: booleanFlag.default(true),
  WORKER_HANDOFF: booleanFlag.default(true),
  GRAPHQL_MAX_PAGE_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(1).max(1000).default(10),
  GRAPHQL_MAX_COST: z.coerce.number().int().min(1).default(5000),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).max(10000).default(30),
  GRAPHQL_INTROSPECTION: booleanFlag.default(true),
  QUOTA_PUBLISH_RATE: z.coerce.number().int().min(1).default(20_000),
  QUOTA_PUBLISH_BURST: z.coerce.number().int().min(1).default(100_000),
  QUOTA_EVENTS_PER_MONTH: z.coerce.number().int().min(1).max(2_000_000_000).default(100_000_000),
  QUOTA_SUBSCRIPTIONS: z.coerce.number().int().min(1).default(1_000),
  QUOTA_EVENT_TYPES: z.coerce.number().int().min(1).default(1_000),
  QUOTA_PAYLOAD_BYTES: z.coerce.number().int().min(1).max(16 * 1024 * 1024).default(256 * 1024),
  QUOTA_DELIVERIES_IN_FLIGHT: optionalText.pipe(z.string().regex(/^[1-9]\d*$/, 'must be a positive whole number').transform(Number).optional()),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['auto', 'pretty', 'json']).default('auto'),
  SHUTDOWN_TIMEOUT: duration('10s'),
  RETENTION: duration('30d').refine((ms) => ms >= MIN_RETENTION_MS && ms <= MAX_RETENTION_MS, 'must be between 1m and 400d'),
  RETENTION_SWEEP_INTERVAL: duration('1h').refine((ms) => ms >= 1_000 && ms <= 86_400_000, 'must be between 1s and 1d'),
  METRICS_PORT: optionalText.pipe(
    z.string().regex(/^\d{1,5}$/, 'must be a port number').transform(Number).refine((port) => port <= 65535, 'must be at most 65535').optional(),
  ),
  METRICS_TENANT_LABELS: booleanFlag.default(false),
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalText.pipe(otlpUrl.optional()),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalText.pipe(otlpUrl.optional()),
  OTEL_EXPORTER_OTLP_PROTOCOL: optionalText.pipe(z.enum(['http/protobuf', 'http/json']).optional()),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: optionalText.pipe(z.enum(['http/protobuf', 'http/json']).optional()),
  OTEL_SERVICE_NAME: optionalText,
  PORTAL_PUBLIC_URL: optionalText.pipe(
    z
      .string()
      .url()
      .refine((url) => /^https?:\/\//i.test(url), 'must be an http: or https: URL')
      .refine((url) => !/[?#]/.test(url) && !/^https?:\/\/[^/]*@/i.test(url), 'must be a base URL without query, fragment or credentials')
      .transform((url) => url.replace(/\/+$/, ''))
      .optional(),
  ),
  PORTAL_FRAME_ANCESTORS: z.string().default('').transform((text, ctx) => {
    try {
      return parseOrigins(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  }),
}).superRefine((env, ctx) => {
  // Without an audience, a token the identity provider issued for any of its other applications
  // (admin role included) would be accepted here.
  if (env.AUTH_JWKS_URL && !env.AUTH_AUDIENCE && !env.AUTH_AUDIENCE_ANY) {
    ctx.addIssue({
      code: 'custom',
      path: ['AUTH_AUDIENCE'],
      message:
        'must be set with AUTH_JWKS_URL, or tokens the identity provider issued for any other application are accepted (AUTH_AUDIENCE_ANY=true accepts any audience on purpose)',
    });
  }
  // The embedded PostgreSQL has no replica: a read URL beside it would read another database.
  if (env.DATABASE_READ_URL && !env.DATABASE_URL) {
    ctx.addIssue({ code: 'custom', path: ['DATABASE_READ_URL'], message: 'needs DATABASE_URL (the primary it replicates)' });
  }
  if (env.AUTH_AUDIENCE && env.AUTH_AUDIENCE_ANY) {
    ctx.addIssue({ code: 'custom', path: ['AUTH_AUDIENCE_ANY'], message: 'must not be true when AUTH_AUDIENCE is set' });
  }
});

/** Space-separated origins (`https://app.example.com http://localhost:3000`), each exactly an http(s) origin. */
export function parseOrigins(text: string): string[] {
  const origins: string[] = [];
  for (const item of text.split(/\s+/).filter((part) => part.length > 0)) {
    let origin: string | undefined;
    try {
      const url = new URL(item);
      // A host name or address only: no wildcard, nothing a CSP would read as another source.
      const plainHost = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])$/i.test(url.hostname);
      if ((url.protocol === 'http:' || url.protocol === 'https:') && plainHost && url.origin === item.replace(/\/$/, '')) origin = url.origin;
    } catch {
      // reported below
    }
    if (!origin) throw new Error(`"${item}" is not an origin (write scheme://host[:port], e.g. https://app.example.com, without a path)`);
    if (!origins.includes(origin)) origins.push(origin);
  }
  return origins;
}

export type Environment = z.infer<typeof environmentSchema>;

export interface Config {
  role: Environment['ROLE'];
  databaseUrl: string | undefined;
  /**
   * DATABASE_READ_URL: a replica of DATABASE_URL for the API's reads that tolerate lag (lists,
   * stats, the catalog); unset: they read the primary (docs/scaling.md#read-replicas).
   */
  databaseReadUrl: string | undefined;
  dataDir: string;
  host: string;
  port: number;
  /** SECRETS_KEY (checked to be 32 bytes): seals signing secrets at rest; unset: a development key in DATA_DIR. */
  secretsKey: string | undefined;
  auth: {
    jwtSecret: string | undefined;
    jwksUrl: string | undefined;
    issuer: string | undefined;
    audience: string | undefined;
    /** AUTH_AUDIENCE_ANY: with AUTH_JWKS_URL and no AUTH_AUDIENCE, tokens of any audience are accepted on purpose. */
    audienceAny: boolean;
    tenantClaim: string;
  };
  delivery: {
    retryScheduleMs: number[];
    timeoutMs: number;
    allowPrivateNetworks: boolean;
    httpsOnly: boolean;
    responseBodyLimit: number;
    disableAfterMs: number;
    /** DELIVERY_PROXY_URL and DELIVERY_NO_PROXY; undefined: deliveries connect directly. */
    proxy: ProxySettings | undefined;
  };
  worker: {
    concurrency: number;
    pollIntervalMs: number;
    subscriptionShare: number;
    /** WORKER_TENANT_SHARE: the share of the slots a tenant may always hold, and leaves free for others when it borrows. */
    tenantShare: number;
    /** WORKER_ASYNC_COMMIT: the worker's commits return before their WAL is flushed (see docs/reliability.md). */
    asyncCommit: boolean;
    /** WORKER_HANDOFF: with ROLE=all, publishes hand their first attempts to this process's worker (see docs/scaling.md). */
    handoff: boolean;
  };
  api: { maxPageSize: number; maxDepth: number; maxCost: number; maxAliases: number; introspection: boolean };
  quotas: QuotaDefaults;
  logLevel: Environment['LOG_LEVEL'];
  /** LOG_FORMAT: `json` lines, `pretty` readable lines, or `auto`: pretty on a terminal, JSON otherwise. */
  logFormat: Environment['LOG_FORMAT'];
  /** SHUTDOWN_TIMEOUT: how long a stop waits for in-flight requests and deliveries. */
  shutdownTimeoutMs: number;
  /** METRICS_PORT: GET /metrics on a listener of its own, and not on the API port; unset: on the API port. */
  metricsPort: number | undefined;
  /** METRICS_TENANT_LABELS: a `tenant` label on the per-tenant counters; default off. */
  metricsTenantLabels: boolean;
  retention: RetentionSettings;
  portal: PortalSettings;
  /** Spans exported over OTLP/HTTP; undefined (no OTLP endpoint set): no spans are made (see docs/operations.md). */
  tracing: TracingSettings | undefined;
}

/** The embeddable portal (docs/portal.md). */
export interface PortalSettings {
  /** PORTAL_PUBLIC_URL without a trailing slash: the base of createPortalSession's url; unset: the origin the API was reached at. */
  publicUrl: string | undefined;
  /** PORTAL_FRAME_ANCESTORS: origins that may frame the portal; empty: framing is refused. */
  frameAncestors: string[];
}

/** Where and how spans are exported (the OpenTelemetry SDK's OTLP/HTTP exporter). */
export interface TracingSettings {
  /** The full URL spans are POSTed to: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, or OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`. */
  tracesUrl: string;
  /** OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL; default `http/protobuf`. */
  protocol: 'http/protobuf' | 'http/json';
  /** OTEL_SERVICE_NAME; default `hooklane`. */
  serviceName: string;
}

/** OTEL_EXPORTER_OTLP_ENDPOINT is a base URL: the traces path is appended to it, as the OpenTelemetry specification says. */
function tracesUrl(e: Environment): string | undefined {
  if (e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (!e.OTEL_EXPORTER_OTLP_ENDPOINT) return undefined;
  return `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
}

/** How long events are kept, and how often the sweep that deletes older ones runs (src/retention). */
export interface RetentionSettings {
  /** RETENTION: for every tenant without its own (updateTenantQuotas' retention). */
  defaultMs: number;
  /** RETENTION_SWEEP_INTERVAL. */
  sweepIntervalMs: number;
}

export const DEFAULT_RETENTION: RetentionSettings = { defaultMs: 30 * 86_400_000, sweepIntervalMs: 3_600_000 };

/** Quota defaults for every tenant; an operator overrides them per tenant with updateTenantQuotas. */
export interface QuotaDefaults {
  publishRate: number;
  publishBurst: number;
  eventsPerMonth: number;
  subscriptions: number;
  eventTypes: number;
  payloadBytes: number;
  /** Null: no limit. */
  deliveriesInFlight: number | null;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses the environment; a bad value throws a ConfigError naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    // One line: what is wrong with which variable, and what to do.
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}. Fix: correct ${problems.length > 1 ? 'these environment variables' : 'this environment variable'} (see "Configuration" in the README).`);
  }
  const e = parsed.data;
  return {
    role: e.ROLE,
    databaseUrl: e.DATABASE_URL,
    databaseReadUrl: e.DATABASE_READ_URL,
    dataDir: path.resolve(e.DATA_DIR),
    host: e.HOST,
    port: e.PORT,
    secretsKey: e.SECRETS_KEY,
    auth: {
      jwtSecret: e.AUTH_JWT_SECRET,
      jwksUrl: e.AUTH_JWKS_URL,
      issuer: e.AUTH_ISSUER,
      audience: e.AUTH_AUDIENCE,
      audienceAny: e.AUTH_AUDIENCE_ANY,
      tenantClaim: e.AUTH_TENANT_CLAIM,
    },
    delivery: {
      retryScheduleMs: e.DELIVERY_RETRY_SCHEDULE,
      timeoutMs: e.DELIVERY_TIMEOUT,
      allowPrivateNetworks: e.DELIVERY_ALLOW_PRIVATE_NETWORKS,
      httpsOnly: e.DELIVERY_HTTPS_ONLY,
      responseBodyLimit: e.DELIVERY_RESPONSE_BODY_LIMIT,
      disableAfterMs: e.SUBSCRIPTION_DISABLE_AFTER,
      proxy: e.DELIVERY_PROXY_URL === undefined ? undefined : { url: e.DELIVERY_PROXY_URL, noProxy: e.DELIVERY_NO_PROXY },
    },
    worker: {
      concurrency: e.WORKER_CONCURRENCY,
      pollIntervalMs: e.WORKER_POLL_INTERVAL,
      subscriptionShare: e.WORKER_SUBSCRIPTION_SHARE,
      tenantShare: e.WORKER_TENANT_SHARE,
      asyncCommit: e.WORKER_ASYNC_COMMIT,
      handoff: e.WORKER_HANDOFF,
    },
    api: {
      maxPageSize: e.GRAPHQL_MAX_PAGE_SIZE,
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxCost: e.GRAPHQL_MAX_COST,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
      introspection: e.GRAPHQL_INTROSPECTION,
    },
    quotas: {
      publishRate: e.QUOTA_PUBLISH_RATE,
      publishBurst: e.QUOTA_PUBLISH_BURST,
      eventsPerMonth: e.QUOTA_EVENTS_PER_MONTH,
      subscriptions: e.QUOTA_SUBSCRIPTIONS,
      eventTypes: e.QUOTA_EVENT_TYPES,
      payloadBytes: e.QUOTA_PAYLOAD_BYTES,
      deliveriesInFlight: e.QUOTA_DELIVERIES_IN_FLIGHT ?? null,
    },
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
    metricsPort: e.METRICS_PORT,
    metricsTenantLabels: e.METRICS_TENANT_LABELS,
    retention: { defaultMs: e.RETENTION, sweepIntervalMs: e.RETENTION_SWEEP_INTERVAL },
    portal: { publicUrl: e.PORTAL_PUBLIC_URL, frameAncestors: e.PORTAL_FRAME_ANCESTORS },
    tracing: tracingSettings(e),
  };
}

function tracingSettings(e: Environment): TracingSettings | undefined {
  const url = tracesUrl(e);
  if (url === undefined) return undefined;
  return {
    tracesUrl: url,
    protocol: e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
    serviceName: e.OTEL_SERVICE_NAME ?? 'hooklane',
  };
}
