import type { DestinationStream } from 'pino';
import postgres, { type Sql } from 'postgres';
import { startHooklane, type Hooklane, type HooklaneSeams } from '../../src/app.js';
import { signHs256Token } from '../../src/auth/jwt.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase } from './database.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';
export const TEST_SECRETS_KEY = Buffer.alloc(32, 7).toString('base64');

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> & { code?: string } }[];
}

export interface TestHooklane {
  app: Hooklane;
  graphqlUrl: string;
  databaseUrl: string;
  /** A direct connection for asserting on what was (not) written. */
  sql: Sql;
  adminToken: string;
  tenantToken(tenantId: string, extra?: Record<string, unknown>): Promise<string>;
  gql<T = Record<string, any>>(token: string | undefined, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
  /** Creates a tenant and returns its id and a token for it. */
  createTenant(name?: string): Promise<{ id: string; token: string }>;
  stop(): Promise<void>;
}

/**
 * Runs a whole Hooklane (API and worker) in this process against a fresh database, with short
 * retry and timeout durations so that the suite stays fast.
 */
export interface TestHooklaneOptions {
  /** Where the logs go instead of stdout (a test that reads them). */
  logDestination?: DestinationStream;
  /** Headers sent with every GraphQL request of `gql`. */
  headers?: Record<string, string>;
  /** Run against this database (already created, perhaps migrated) instead of a fresh one. */
  databaseUrl?: string;
}

export async function startTestHooklane(
  env: Record<string, string> = {},
  seams: HooklaneSeams = {},
  options: TestHooklaneOptions = {},
): Promise<TestHooklane> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase());
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    PORT: '0',
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    SECRETS_KEY: TEST_SECRETS_KEY,
    DELIVERY_RETRY_SCHEDULE: '50ms,100ms',
    DELIVERY_TIMEOUT: '1s',
    DELIVERY_ALLOW_PRIVATE_NETWORKS: 'true',
    WORKER_CONCURRENCY: '16',
    WORKER_POLL_INTERVAL: '100ms',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...env,
  });
  const app = await startHooklane(config, createLogger(config.logLevel, options.logDestination), seams);
  const graphqlUrl = app.graphqlUrl!;
  const sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  const adminToken = await signHs256Token(TEST_JWT_SECRET, { sub: 'test-admin', roles: ['admin'] }, { expiresIn: '1h' });

  const gql = gqlClient(graphqlUrl, options.headers);
  const tenantToken = (tenantId: string, extra: Record<string, unknown> = {}) =>
    signHs256Token(TEST_JWT_SECRET, { sub: `user-of-${tenantId}`, tenant_id: tenantId, ...extra }, { expiresIn: '1h' });

  return {
    app,
    graphqlUrl,
    databaseUrl,
    sql,
    adminToken,
    tenantToken,
    gql,
    async createTenant(name = 'Tenant') {
      const result = await gql<{ createTenant: { tenant: { id: string } } }>(
        adminToken,
        'mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }',
        { input: { name } },
      );
      const id = result.data!.createTenant.tenant.id;
      return { id, token: await tenantToken(id) };
    },
    async stop() {
      await sql.end({ timeout: 5 });
      await app.stop();
    },
  };
}

/**
 * A starter for a `ROLE=worker` process of the test's own against `databaseUrl` (another instance's
 * database), with the test settings and `env`: each call starts one.
 */
/** POSTs GraphQL to `graphqlUrl` as TestHooklane's `gql` does, with `headers` on every request. */
function gqlClient(graphqlUrl: string, headers: Record<string, string> = {}): TestHooklane['gql'] {
  return async (token, query, variables) => {
    const response = await fetch(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, ...((await response.json()) as object) };
  };
}

/**
 * A second ROLE=api process on the database of `hooklane`, with caches of its own: what one API
 * process changes, the other must see. The caller stops `app`.
 */
export async function startSecondApi(hooklane: Pick<TestHooklane, 'databaseUrl'>): Promise<{ app: Hooklane; gql: TestHooklane['gql'] }> {
  const config = loadConfig({
    DATABASE_URL: hooklane.databaseUrl,
    PORT: '0',
    ROLE: 'api',
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    SECRETS_KEY: TEST_SECRETS_KEY,
    LOG_LEVEL: 'silent',
  });
  const app = await startHooklane(config, createLogger(config.logLevel));
  return { app, gql: gqlClient(app.graphqlUrl!) };
}

export function testWorker(databaseUrl: string, env: Record<string, string> = {}): () => Promise<Hooklane> {
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    PORT: '0',
    ROLE: 'worker',
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    SECRETS_KEY: TEST_SECRETS_KEY,
    DELIVERY_ALLOW_PRIVATE_NETWORKS: 'true',
    WORKER_POLL_INTERVAL: '100ms',
    LOG_LEVEL: 'silent',
    ...env,
  });
  return () => startHooklane(config, createLogger(config.logLevel));
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Resolves once no graphile-worker job that can still run names the tenant. Every request to a
 * receiver is made by such a job (a first attempt handed over in process keeps its job until it is
 * recorded), so from then on none of the tenant's requests can arrive until it publishes again or
 * a delivery is retried: the event-based form of "wait a while and check that nothing more came".
 */
export async function tenantIdle(hooklane: Pick<TestHooklane, 'sql'>, tenantId: string, timeoutMs = 10_000): Promise<void> {
  await eventually(
    async () => {
      const [row] = await hooklane.sql<{ count: number }[]>`
        select count(*)::int as count from graphile_worker._private_jobs
        where payload->>'tenantId' = ${tenantId} and (locked_at is not null or attempts < max_attempts)`;
      return row!.count === 0 ? true : undefined;
    },
    timeoutMs,
    `no job left for tenant ${tenantId}`,
  );
}
