import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer } from '@apollo/server';
import type { Logger } from 'pino';
import getRawBody from 'raw-body';
import { assignRequestId } from '../observability/graphql-plugin.js';
import type { RequestContext } from './context.js';

// What every POST /graphql gets, whether the direct path below or Express serves it: a request id,
// a deadline, a body limit, and GraphQL errors for bodies that cannot be read.

export const REQUEST_BODY_LIMIT = '1mb';

/**
 * No request hangs: one that has no answer after REQUEST_DEADLINE_MS (the database is unreachable
 * and a connection attempt is stuck) gets a contract-coded error. Its work may still complete, so
 * the client is told to retry with the same idempotencyKey.
 */
export const REQUEST_DEADLINE_MS = 10_000;

const DEADLINE_ANSWER = {
  errors: [
    {
      message: 'The request took too long (the database may be unavailable); its outcome is unknown: retry with the same idempotencyKey',
      extensions: { code: 'INTERNAL_SERVER_ERROR', reason: 'TIMEOUT', retryAfter: 5 },
    },
  ],
};

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

/** Answers `res` with the deadline error unless it is answered first. */
export function armDeadline(res: ServerResponse, deadlineMs: number): void {
  const timer = setTimeout(() => {
    if (!res.headersSent) sendJson(res, 503, DEADLINE_ANSWER);
  }, deadlineMs);
  const clear = () => clearTimeout(timer);
  res.on('finish', clear);
  res.on('close', clear);
}

/** A request body that could not be read or parsed (bad JSON, too large), as a GraphQL error. */
export function bodyErrorAnswer(error: { status?: number; type?: string }): { status: number; body: unknown } {
  const status = error.status === 413 ? 413 : 400;
  const message = status === 413 ? `The request body is larger than ${REQUEST_BODY_LIMIT}` : 'The request body is not valid JSON';
  return { status, body: { errors: [{ message, extensions: { code: 'BAD_USER_INPUT', reason: error.type ?? 'BAD_REQUEST' } }] } };
}

class BodyParseError extends Error {
  readonly status = 400;
  readonly type = 'entity.parse.failed';
}

/**
 * A UTF-8 body as text, as body-parser decodes it (through iconv-lite, which drops a leading byte
 * order mark); Buffer's decoder does the same without iconv-lite's per-call set-up.
 */
function utf8Text(body: Buffer): string {
  const text = body.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** JSON as body-parser's strict mode reads it: an object or an array; an empty body is `{}`. */
function parseJsonBody(text: string): unknown {
  const first = /^[\x20\x09\x0a\x0d]*(.)/.exec(text)?.[1];
  if (first === undefined) return {};
  if (first !== '{' && first !== '[') throw new BodyParseError('the body is not a JSON object or array');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new BodyParseError(error instanceof Error ? error.message : 'invalid JSON');
  }
}

/** `application/json`, in UTF-8 (said or implied), not compressed: what the direct path reads itself. */
function isPlainJson(headers: IncomingHttpHeaders): boolean {
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
  const [mediaType, ...parameters] = (headers['content-type'] ?? '').split(';');
  if (mediaType!.trim().toLowerCase() !== 'application/json') return false;
  return parameters.every((parameter) => /^\s*charset\s*=\s*"?utf-8"?\s*$/i.test(parameter));
}

export interface GraphQLHttp {
  /** True for the requests this path serves: POST /graphql with a plain JSON body. */
  serves(req: IncomingMessage): boolean;
  handle(req: IncomingMessage, res: ServerResponse): void;
}

/**
 * POST /graphql straight from node:http to Apollo. Express's routing, body-parser and `res.send`
 * (which hashes every response into an ETag) would be a sizeable share of the API's CPU per publishEvent.
 * Everything else (GET /graphql, other content types or encodings, other paths) goes to Express,
 * which answers these requests the same way: same request id, deadline, body limit and errors.
 */
export function graphqlHttp(options: {
  apollo: ApolloServer<RequestContext>;
  context: (headers: IncomingHttpHeaders) => Promise<RequestContext>;
  logger: Logger;
}): GraphQLHttp {
  const { apollo, context, logger } = options;
  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    assignRequestId(req, res);
    armDeadline(res, REQUEST_DEADLINE_MS);
    let body: unknown;
    try {
      body = parseJsonBody(utf8Text(await getRawBody(req, { length: req.headers['content-length'], limit: REQUEST_BODY_LIMIT })));
    } catch (error) {
      const answer = bodyErrorAnswer(error as { status?: number; type?: string });
      if (!res.headersSent) sendJson(res, answer.status, answer.body);
      return;
    }
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const queryAt = req.url!.indexOf('?');
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: 'POST', headers, search: queryAt === -1 ? '' : req.url!.slice(queryAt), body },
      context: () => context(req.headers),
    });
    // Answered already (the request deadline): nothing more to send.
    if (res.headersSent) return;
    for (const [name, value] of response.headers) res.setHeader(name, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.setHeader('content-length', Buffer.byteLength(response.body.string));
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };
  return {
    serves: (req) =>
      req.method === 'POST' && (req.url === '/graphql' || req.url!.startsWith('/graphql?')) && isPlainJson(req.headers),
    handle: (req, res) => {
      serve(req, res).catch((error: unknown) => {
        logger.error({ err: error }, 'POST /graphql failed outside GraphQL');
        if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
        else res.destroy();
      });
    },
  };
}
