import type { GraphQLFieldResolver } from 'graphql';
import type { Logger } from 'pino';
import { writeAuditEntry } from '../db/tenants.js';
import type { RequestContext } from './context.js';

/** Input fields never copied into the audit log. */
const SECRET_FIELDS = new Set(['secret', 'secrets', 'token', 'payload', 'password', 'clientSecret', 'clientKey']);
/** Input fields recorded without their (public but long) value: certificates of up to 64 KB. */
const BULKY_FIELDS = new Set(['clientCertificate', 'caCertificate']);

function redact(input: unknown): unknown {
  if (Array.isArray(input)) return input.map(redact);
  if (typeof input !== 'object' || input === null) return input;
  return Object.fromEntries(
    Object.entries(input).map(([key, value]) => [key, recordedValue(key, value)]),
  );
}

function recordedValue(key: string, value: unknown): unknown {
  if (SECRET_FIELDS.has(key)) return '[redacted]';
  if (BULKY_FIELDS.has(key)) return value === null || value === undefined ? value : '[PEM omitted]';
  if (key === 'headers') return headerNamesOnly(value);
  return redact(value);
}

/** A subscription's extra headers are recorded by name: their values are secrets (API keys and the like). */
function headerNamesOnly(headers: unknown): unknown {
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) return headers === null ? null : '[redacted]';
  return Object.fromEntries(Object.keys(headers).map((name) => [name, '[redacted]']));
}

export interface AuditTarget {
  /** The tenant the action concerns; null for an entry that must outlive its tenant. */
  tenantId: string | null;
  targetId: string | null;
}

/**
 * Wraps a management mutation so that, once it succeeds, an audit entry records who (token
 * subject and role), what (mutation and input, secrets left out) and when. A failed mutation
 * changed nothing and is not recorded.
 */
export function audited<Args extends { input: unknown }, Result>(
  action: string,
  resolve: GraphQLFieldResolver<unknown, RequestContext, Args, Result | Promise<Result>>,
  /** Null: this call is not recorded (it changed nothing, as a dry run). */
  target: (args: Args, result: Result, context: RequestContext) => AuditTarget | null,
  logger?: Logger,
): GraphQLFieldResolver<unknown, RequestContext, Args, Promise<Result>> {
  return async (parent, args, context, info) => {
    const result = await resolve(parent, args, context, info);
    const recorded = target(args, result, context);
    if (recorded === null) return result;
    const { tenantId, targetId } = recorded;
    try {
      await writeAuditEntry(context.services.db, {
        tenantId,
        targetId,
        action,
        actorSubject: context.viewer.subject ?? null,
        actorRole: context.viewer.isAdmin ? 'admin' : 'tenant',
        details: redact(JSON.parse(JSON.stringify(args.input))) as object,
      });
    } catch (error) {
      // The change itself is committed: report it to the caller as done, and the gap to the operator.
      logger?.error({ err: error, action, tenantId, targetId }, 'could not write the audit entry');
    }
    return result;
  };
}

/** The id of the object a mutation's payload is about: `{ id }` or the first `{ x: { id } }`. */
export function payloadTargetId(result: unknown): string | null {
  if (typeof result !== 'object' || result === null) return null;
  const record = result as Record<string, unknown>;
  if (typeof record.id === 'string') return record.id;
  for (const value of Object.values(record)) {
    if (typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string') {
      return (value as { id: string }).id;
    }
  }
  return null;
}
