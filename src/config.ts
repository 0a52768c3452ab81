import path from 'node:path';
import { z } from 'zod';
import { parseDuration, parseDurationList } from './duration.js';

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

/** Every environment variable Hooklane reads, parsed once at start-up. */
const environmentSchema = z.object({
  ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  DATABASE_URL: optionalText.pipe(z.string().url().optional()),
  DATA_DIR: z.string().default('./.data'),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  AUTH_JWT_SECRET: optionalText,
  AUTH_JWKS_URL: optionalText.pipe(z.string().url().optional()),
  AUTH_ISSUER: optionalText,
  AUTH_AUDIENCE: optionalText,
  AUTH_TENANT_CLAIM: z.string().default('tenant_id'),
  SECRETS_KEY: optionalText,
  DELIVERY_RETRY_SCHEDULE: durationList('5s,5m,30m,2h,5h,10h,10h'),
  DELIVERY_TIMEOUT: duration('15s'),
  DELIVERY_ALLOW_PRIVATE_NETWORKS: booleanFlag.default(false),
  DELIVERY_HTTPS_ONLY: booleanFlag.default(false),
  DELIVERY_RESPONSE_BODY_LIMIT: z.coerce.number().int().min(0).default(4096),
  SUBSCRIPTION_DISABLE_AFTER: duration('5d'),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(64),
  WORKER_SUBSCRIPTION_SHARE: z.coerce.number().gt(0).max(1).default(0.25),
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
  SHUTDOWN_TIMEOUT: duration('10s'),
  RETENTION: duration('30d').refine((ms) => ms >= MIN_RETENTION_MS && ms <= MAX_RETENTION_MS, 'must be between 1m and 400d'),
  RETENTION_SWEEP_INTERVAL: duration('1h').refine((ms) => ms >= 1_000 && ms <= 86_400_000, 'must be between 1s and 1d'),
  METRICS_PORT: optionalText.pipe(
    z.string().regex(/^\d{1,5}$/, 'must be a port number').transform(Number).refine((port) => port <= 65535, 'must be at most 65535').optional(),
  ),
});

export type Environment = z.infer<typeof environmentSchema>;

export interface Config {
  role: Environment['ROLE'];
  databaseUrl: string | undefined;
  dataDir: string;
  host: string;
  port: number;
  /** SECRETS_KEY: encrypts signing secrets at rest; unset: a development key in DATA_DIR. */
  secretsKey: string | undefined;
  auth: {
    jwtSecret: string | undefined;
    jwksUrl: string | undefined;
    issuer: string | undefined;
    audience: string | undefined;
    tenantClaim: string;
  };
  delivery: {
    retryScheduleMs: number[];
    timeoutMs: number;
    allowPrivateNetworks: boolean;
    httpsOnly: boolean;
    responseBodyLimit: number;
    disableAfterMs: number;
  };
  worker: {
    concurrency: number;
    pollIntervalMs: number;
    subscriptionShare: number;
    /** WORKER_ASYNC_COMMIT: the worker's commits return before their WAL is flushed (see docs/reliability.md). */
    asyncCommit: boolean;
    /** WORKER_HANDOFF: with ROLE=all, publishes hand their first attempts to this process's worker (see docs/scaling.md). */
    handoff: boolean;
  };
  api: { maxPageSize: number; maxDepth: number; maxCost: number; maxAliases: number; introspection: boolean };
  quotas: QuotaDefaults;
  logLevel: Environment['LOG_LEVEL'];
  /** SHUTDOWN_TIMEOUT: how long a stop waits for in-flight requests and deliveries. */
  shutdownTimeoutMs: number;
  /** METRICS_PORT: a separate HTTP server with only GET /metrics (for ROLE=worker); unset: none. */
  metricsPort: number | undefined;
  retention: RetentionSettings;
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
    const lines = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  return {
    role: e.ROLE,
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(e.DATA_DIR),
    host: e.HOST,
    port: e.PORT,
    secretsKey: e.SECRETS_KEY,
    auth: {
      jwtSecret: e.AUTH_JWT_SECRET,
      jwksUrl: e.AUTH_JWKS_URL,
      issuer: e.AUTH_ISSUER,
      audience: e.AUTH_AUDIENCE,
      tenantClaim: e.AUTH_TENANT_CLAIM,
    },
    delivery: {
      retryScheduleMs: e.DELIVERY_RETRY_SCHEDULE,
      timeoutMs: e.DELIVERY_TIMEOUT,
      allowPrivateNetworks: e.DELIVERY_ALLOW_PRIVATE_NETWORKS,
      httpsOnly: e.DELIVERY_HTTPS_ONLY,
      responseBodyLimit: e.DELIVERY_RESPONSE_BODY_LIMIT,
      disableAfterMs: e.SUBSCRIPTION_DISABLE_AFTER,
    },
    worker: {
      concurrency: e.WORKER_CONCURRENCY,
      pollIntervalMs: e.WORKER_POLL_INTERVAL,
      subscriptionShare: e.WORKER_SUBSCRIPTION_SHARE,
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
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
    metricsPort: e.METRICS_PORT,
    retention: { defaultMs: e.RETENTION, sweepIntervalMs: e.RETENTION_SWEEP_INTERVAL },
  };
}
