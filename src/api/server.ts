import { readFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { GraphQLError, type ValidationRule } from 'graphql';
import type { Logger } from 'pino';
import { TokenError, type TokenVerifier } from '../auth/jwt.js';
import { isRevoked, viewerFromClaims, type Viewer } from '../auth/viewer.js';
import { formatErrorFor, UnauthenticatedError } from '../errors.js';
import { TenantScope } from '../db/tenant-scope.js';
import { TenantDirectory } from '../tenancy/tenant-directory.js';
import type { ApiServices, RequestContext } from './context.js';
import { armDeadline, bodyErrorAnswer, graphqlHttp, REQUEST_BODY_LIMIT, REQUEST_DEADLINE_MS, sendJson } from './graphql-http.js';
import { FieldAccess, fieldAccessPlugin } from './field-access.js';
import { costLimitPlugin, hardeningRules } from './hardening.js';
import { createLoaders, createPlatformLoaders, type Loaders } from './loaders.js';
import { buildResolvers } from './resolvers/index.js';
import type { HooklaneMetrics } from '../observability/metrics.js';
import { metricsHandler } from '../observability/metrics-server.js';
import { observabilityPlugin, requestIdMiddleware } from '../observability/graphql-plugin.js';
import { tracingPlugin } from '../observability/graphql-tracing.js';
import { acceptedTraceparent } from '../observability/trace-context.js';
import { portalRouter } from '../portal/server.js';

/** The schema has no subscriptions: refuse them as a validation error (a client mistake). */
const noSubscriptionOperations: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (node.operation === 'subscription') {
      context.reportError(new GraphQLError('Subscription operations are not supported', { nodes: [node] }));
    }
  },
});

export const SCHEMA_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schema.graphql');

export interface Readiness {
  /** True once migrations are applied and, in roles that run one, the worker is running. */
  ready(): boolean;
}

export interface ApiServer {
  url: string;
  close(): Promise<void>;
}

async function authenticate(
  header: string | undefined,
  verifier: TokenVerifier,
  tenants: TenantDirectory,
  tenantClaim: string,
): Promise<Viewer> {
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match) throw new UnauthenticatedError('Send Authorization: Bearer <JWT>');
  let viewer: Viewer;
  try {
    viewer = viewerFromClaims(await verifier.verify(match[1]!), tenantClaim);
  } catch (error) {
    if (error instanceof TokenError) throw new UnauthenticatedError(error.message);
    throw error;
  }
  if (viewer.tenantId) {
    const tenant = await tenants.activeTenant(viewer.tenantId);
    if (!tenant) throw new UnauthenticatedError('The token names a tenant that does not exist or is not active');
    // Checked at every request, after the verified-token memo: a revocation reaches memoised tokens too.
    if (isRevoked(viewer, tenant.tokensRevokedBefore)) throw new UnauthenticatedError('The token was revoked: use one issued since');
  }
  return viewer;
}

/** `http://<host>` from a Host header that is exactly a host name or address with an optional port, else undefined. */
export function originOfHost(host: string | undefined): string | undefined {
  if (!host || !/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(host)) return undefined;
  try {
    return new URL(`http://${host}`).origin;
  } catch {
    return undefined;
  }
}

function requestDeadline(deadlineMs: number): express.RequestHandler {
  return (_req, res, next) => {
    armDeadline(res, deadlineMs);
    next();
  };
}

/** Body parser failures (bad JSON, too large) answered as GraphQL errors, never as an HTML stack trace. */
const requestBodyErrors: express.ErrorRequestHandler = (error: { status?: number; type?: string }, _req, res, next) => {
  // Answered already (the request deadline): nothing more to send.
  if (res.headersSent) return;
  const answer = bodyErrorAnswer(error);
  sendJson(res, answer.status, answer.body);
};

function once<T>(create: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= create());
}

function loaderCache(services: ApiServices): (tenantId: string) => Loaders {
  const byTenant = new Map<string, Loaders>();
  return (tenantId) => {
    let loaders = byTenant.get(tenantId);
    if (!loaders) {
      const primary = new TenantScope(services.db, tenantId);
      loaders = createLoaders(primary, services.reader === services.db ? primary : new TenantScope(services.reader, tenantId));
      byTenant.set(tenantId, loaders);
    }
    return loaders;
  };
}

export async function startApiServer(options: {
  services: ApiServices;
  verifier: TokenVerifier;
  readiness: Readiness;
  logger: Logger;
  /** Fed by the GraphQL operations, and served at GET /metrics unless METRICS_PORT gives them a listener of their own. */
  metrics?: HooklaneMetrics;
}): Promise<ApiServer> {
  const { services, verifier, readiness, logger, metrics } = options;
  const tenants = new TenantDirectory(services.db);
  const limits = services.config.api;
  const typeDefs = readFileSync(SCHEMA_PATH, 'utf8');
  const apollo = new ApolloServer<RequestContext>({
    typeDefs,
    resolvers: buildResolvers(logger),
    formatError: formatErrorFor(logger),
    includeStacktraceInErrorResponses: false,
    introspection: limits.introspection,
    allowBatchedHttpRequests: false,
    // main.ts owns SIGINT/SIGTERM: it stops the API, the worker and the database in order.
    stopOnTerminationSignals: false,
    validationRules: [noSubscriptionOperations, ...hardeningRules(limits)],
    plugins: [
      // No cache hints in this API: without the cache-control plugin no field resolver is wrapped.
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      // Before the cost check: a token refused a field hears FORBIDDEN, whatever the cost.
      fieldAccessPlugin(new FieldAccess(typeDefs)),
      costLimitPlugin(limits),
      observabilityPlugin({ logger, metrics }),
      ...(services.tracing ? [tracingPlugin(services.tracing)] : []),
    ],
  });
  await apollo.start();

  const app = express();
  app.disable('x-powered-by');
  app.use(requestIdMiddleware);
  if (metrics && services.config.metricsPort === undefined) app.get('/metrics', metricsHandler(metrics, logger));
  app.get('/healthz', async (_req, res) => {
    try {
      await services.sql`select 1`;
      res.json({ status: 'ok' });
    } catch {
      res.status(503).json({ status: 'database unavailable' });
    }
  });
  app.get('/readyz', (_req, res) => {
    if (readiness.ready()) res.json({ status: 'ready' });
    else res.status(503).json({ status: 'starting' });
  });
  app.use('/portal', portalRouter({ logger, frameAncestors: services.config.portal.frameAncestors }));
  const context = async (headers: IncomingHttpHeaders): Promise<RequestContext> => ({
    viewer: await authenticate(headers.authorization, verifier, tenants, services.config.auth.tenantClaim),
    origin: originOfHost(headers.host),
    services,
    tenants,
    loaders: loaderCache(services),
    platformLoaders: once(() => createPlatformLoaders(services.reader)),
    traceparent: acceptedTraceparent(headers.traceparent),
  });
  // POST /graphql with a JSON body goes straight to Apollo (graphql-http.ts); the rest of /graphql here.
  app.use('/graphql', requestDeadline(REQUEST_DEADLINE_MS));
  app.use(
    '/graphql',
    express.json({ limit: REQUEST_BODY_LIMIT }),
    expressMiddleware(apollo, { context: ({ req }) => context(req.headers) }),
  );
  app.use(requestBodyErrors);

  const direct = graphqlHttp({ apollo, context, logger });
  const server = http.createServer((req, res) => (direct.serves(req) ? direct.handle(req, res) : app(req, res)));
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(services.config.port, services.config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : services.config.port;
  const host = services.config.host.includes(':') ? `[${services.config.host}]` : services.config.host;
  return {
    url: `http://${host}:${port}/graphql`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await apollo.stop();
    },
  };
}
