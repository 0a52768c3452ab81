import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestHandler } from 'express';
import {
  Kind,
  valueFromASTUntyped,
  type DocumentNode,
  type FieldNode,
  type GraphQLFormattedError,
  type SelectionSetNode,
} from 'graphql';
import type { Logger } from 'pino';
import type { RequestContext } from '../api/context.js';
import type { HooklaneMetrics } from './metrics.js';

export const REQUEST_ID_HEADER = 'x-request-id';
const ACCEPTABLE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Takes the caller's `x-request-id` (when it is a plain token of at most 128 characters) or makes
 * one, puts it on the request for the GraphQL plugin and echoes it on the response.
 */
export function assignRequestId(req: IncomingMessage, res: ServerResponse): void {
  const given = req.headers[REQUEST_ID_HEADER];
  const id = typeof given === 'string' && ACCEPTABLE_REQUEST_ID.test(given) ? given : randomUUID();
  req.headers[REQUEST_ID_HEADER] = id;
  res.setHeader(REQUEST_ID_HEADER, id);
}

export const requestIdMiddleware: RequestHandler = (req, res, next) => {
  assignRequestId(req, res);
  next();
};

/** The quota a QUOTA_EXCEEDED error is about, named as in `updateTenantQuotas`. */
export function quotaOf(error: GraphQLFormattedError): string {
  const named = error.extensions?.quota;
  if (typeof named === 'string' && /^[A-Za-z]{1,40}$/.test(named)) return named;
  const message = error.message;
  if (/publish burst/i.test(message)) return 'publishBurst';
  if (/publish rate/i.test(message)) return 'publishRate';
  if (/monthly event quota/i.test(message)) return 'eventsPerMonth';
  if (/ subscriptions, its quota/i.test(message)) return 'subscriptions';
  if (/ event types, its quota/i.test(message)) return 'eventTypes';
  if (/schema compilation quota/i.test(message)) return 'schemaCompile';
  return 'other';
}

interface Publication {
  tenantId: string | undefined;
  count: number;
}

/** Top-level fields of a selection set, through inline fragments and fragment spreads. */
function rootFields(selectionSet: SelectionSetNode, document: DocumentNode, seen = new Set<string>()): FieldNode[] {
  const fields: FieldNode[] = [];
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) fields.push(selection);
    else if (selection.kind === Kind.INLINE_FRAGMENT) fields.push(...rootFields(selection.selectionSet, document, seen));
    else if (selection.kind === Kind.FRAGMENT_SPREAD && !seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = document.definitions.find(
        (definition) => definition.kind === Kind.FRAGMENT_DEFINITION && definition.name.value === selection.name.value,
      );
      if (fragment?.kind === Kind.FRAGMENT_DEFINITION) fields.push(...rootFields(fragment.selectionSet, document, seen));
    }
  }
  return fields;
}

/** The events publishEvent / publishEvents fields of a mutation accepted (a field with non-null data). */
function publications(
  selectionSet: SelectionSetNode,
  document: DocumentNode,
  data: Record<string, unknown>,
  variables: Record<string, unknown>,
  viewerTenant: string | undefined,
): Publication[] {
  const found: Publication[] = [];
  for (const field of rootFields(selectionSet, document)) {
    const name = field.name.value;
    if (name !== 'publishEvent' && name !== 'publishEvents') continue;
    const result = data[field.alias?.value ?? name] as { events?: unknown[] } | null | undefined;
    if (!result) continue;
    const inputNode = field.arguments?.find((argument) => argument.name.value === 'input')?.value;
    const input = (inputNode ? valueFromASTUntyped(inputNode, variables) : undefined) as
      | { tenantId?: unknown; events?: unknown[] }
      | undefined;
    const tenantId = viewerTenant ?? (typeof input?.tenantId === 'string' ? input.tenantId : undefined);
    const count = name === 'publishEvent' ? 1 : (result.events?.length ?? input?.events?.length ?? 0);
    found.push({ tenantId, count });
  }
  return found;
}

/**
 * One info log line per GraphQL operation (request id, operation, tenant, duration, error codes;
 * never variables, which may hold payloads and secrets) and the API's metrics: requests by type
 * and outcome, events published by tenant, quota refusals by quota.
 */
export function observabilityPlugin(options: { logger: Logger; metrics?: HooklaneMetrics }): ApolloServerPlugin<RequestContext> {
  const { logger, metrics } = options;
  return {
    async contextCreationDidFail({ error }) {
      // Refused before any operation was read (most often UNAUTHENTICATED): no operation, no tenant.
      const code = (error as { extensions?: { code?: unknown } }).extensions?.code;
      metrics?.recordGraphqlRequest('unknown', 'error');
      logger.info({ errorCodes: [typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR'], outcome: 'error' }, 'graphql request refused');
    },
    async requestDidStart({ request }) {
      const started = performance.now();
      const requestId = request.http?.headers.get(REQUEST_ID_HEADER);
      return {
        async willSendResponse(requestContext) {
          const { response, contextValue, operation, document } = requestContext;
          const body = response.body.kind === 'single' ? response.body.singleResult : undefined;
          const errors = body?.errors ?? [];
          const errorCodes = errors.map((error) => String(error.extensions?.code ?? 'INTERNAL_SERVER_ERROR'));
          const operationType = operation?.operation ?? 'unknown';
          const outcome = errors.length > 0 ? 'error' : 'success';
          const tenantId = contextValue.viewer?.tenantId;

          if (metrics) {
            metrics.recordGraphqlRequest(operationType, outcome);
            for (const error of errors) {
              if (error.extensions?.code === 'QUOTA_EXCEEDED') metrics.recordQuotaRefusal(quotaOf(error));
            }
            if (operation?.operation === 'mutation' && document && body?.data) {
              try {
                const variables = requestContext.request.variables ?? {};
                for (const publication of publications(operation.selectionSet, document, body.data, variables, tenantId)) {
                  metrics.recordPublished(publication.tenantId, publication.count);
                }
              } catch (error) {
                logger.warn({ err: error, requestId }, 'could not count published events');
              }
            }
          }

          logger.info(
            {
              requestId,
              operationName: requestContext.operationName ?? requestContext.request.operationName ?? undefined,
              operationType,
              tenantId,
              admin: contextValue.viewer?.isAdmin || undefined,
              durationMs: Math.round((performance.now() - started) * 10) / 10,
              outcome,
              ...(errorCodes.length > 0 ? { errorCodes } : {}),
            },
            'graphql operation',
          );
        },
      };
    },
  };
}
