import type { ApolloServerPlugin } from '@apollo/server';
import { SpanStatusCode } from '@opentelemetry/api';
import type { RequestContext } from '../api/context.js';
import type { Tracing } from './tracing.js';

/**
 * A span for each GraphQL operation, a child of the caller's `traceparent` when it sent a valid
 * one; the operation's publishes write under it (RequestContext.traceOperation). Named
 * `{operation type} {operation name}` once the operation is known; never variables or payloads.
 */
export function tracingPlugin(tracing: Tracing): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart({ request, contextValue }) {
      const { span, context } = tracing.startOperation(request.http?.headers);
      contextValue.traceOperation = context;
      return {
        async didResolveOperation({ operation, operationName }) {
          if (!operation) return;
          span.updateName(operationName ? `${operation.operation} ${operationName}` : operation.operation);
          span.setAttribute('graphql.operation.type', operation.operation);
          if (operationName) span.setAttribute('graphql.operation.name', operationName);
        },
        async willSendResponse({ response }) {
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors ?? []) : [];
          if (errors.length > 0) {
            span.setAttribute('error.type', String(errors[0]!.extensions?.code ?? 'INTERNAL_SERVER_ERROR'));
            span.setStatus({ code: SpanStatusCode.ERROR });
          }
          span.end();
        },
      };
    },
  };
}
