import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHooklane, type TestHooklane } from '../support/hooklane.js';

/**
 * POST /graphql with a plain JSON body is served straight from node:http (src/api/graphql-http.ts);
 * the other forms of the same request (compressed, another charset) still go through Express.
 * Both must answer alike.
 */
describe('POST /graphql, direct and through Express', () => {
  let hooklane: TestHooklane;
  let token: string;

  beforeAll(async () => {
    hooklane = await startTestHooklane({ ROLE: 'api' });
    token = (await hooklane.createTenant('Direct')).token;
  });
  afterAll(async () => {
    await hooklane.stop();
  });

  type Path = 'direct' | 'express';
  /** The same request body, sent the way each path serves it. */
  async function post(path: Path, body: string, headers: Record<string, string> = {}) {
    const compressed = path === 'express';
    const response = await fetch(hooklane.graphqlUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        ...(compressed ? { 'content-encoding': 'gzip' } : {}),
        ...headers,
      },
      body: compressed ? gzipSync(body) : body,
    });
    return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
  }

  it.each<Path>(['direct', 'express'])('answers an operation (%s)', async (path) => {
    const answer = await post(path, JSON.stringify({ query: '{ tenant { name } }' }));
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ data: { tenant: { name: 'Direct' } } });
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    expect(answer.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    // Express's res.send adds an ETag and the direct path does not: the request took the path meant.
    expect(answer.headers.has('etag')).toBe(path === 'express');
  });

  it('takes JSON said to be UTF-8, and a caller request id, on the direct path', async () => {
    const answer = await post('direct', JSON.stringify({ query: '{ tenant { name } }' }), {
      'content-type': 'application/json; charset=UTF-8',
      'x-request-id': 'direct-1',
    });
    expect(answer.body).toEqual({ data: { tenant: { name: 'Direct' } } });
    expect(answer.headers.get('x-request-id')).toBe('direct-1');
  });

  it('reads a body that starts with a byte order mark, as body-parser does, on both paths', async () => {
    for (const path of ['direct', 'express'] as const) {
      const answer = await post(path, `\uFEFF${JSON.stringify({ query: '{ tenant { name } }' })}`);
      expect(answer.status, path).toBe(200);
      expect(answer.body, path).toEqual({ data: { tenant: { name: 'Direct' } } });
    }
  });

  // Apollo Server negotiates the accept header of every request, on both paths; each header is
  // sent twice, so that an answer kept from one request cannot be another's.
  it('answers each accept header with the media type it prefers, the first time and after', async () => {
    const query = JSON.stringify({ query: '{ tenant { name } }' });
    const cases: [accept: string, status: number, contentType: RegExp | null][] = [
      ['*/*', 200, /^application\/json; charset=utf-8$/],
      ['application/graphql-response+json, application/json', 200, /^application\/graphql-response\+json; charset=utf-8$/],
      ['application/json, application/graphql-response+json', 200, /^application\/json; charset=utf-8$/],
      ['application/json;q=0.5, application/graphql-response+json', 200, /^application\/graphql-response\+json; charset=utf-8$/],
      ['text/html', 406, null],
    ];
    for (const round of [1, 2]) {
      for (const [accept, status, contentType] of cases) {
        for (const path of ['direct', 'express'] as const) {
          const answer = await post(path, query, { accept });
          expect(answer.status, `${accept} ${path} ${round}`).toBe(status);
          if (contentType) expect(answer.headers.get('content-type'), `${accept} ${path} ${round}`).toMatch(contentType);
        }
      }
    }
  });

  it('blocks a simple request (text/plain, no preflight) as a possible CSRF, every time', async () => {
    for (const round of [1, 2]) {
      const answer = await post('direct', JSON.stringify({ query: '{ tenant { name } }' }), { 'content-type': 'text/plain' });
      expect(answer.status, String(round)).toBe(400);
      expect(JSON.stringify(answer.body), String(round)).toMatch(/Cross-Site Request Forgery/);
    }
  });

  it('refuses the same bad bodies with the same errors on both paths', async () => {
    for (const body of ['{"query": ', '"just a string"', '42']) {
      const [direct, express] = await Promise.all([post('direct', body), post('express', body)]);
      expect(direct.status, body).toBe(400);
      expect(direct.body, body).toEqual(express.body);
      expect(direct.body, body).toMatchObject({ errors: [{ message: 'The request body is not valid JSON', extensions: { code: 'BAD_USER_INPUT' } }] });
    }
    const unauthenticated = await Promise.all(
      (['direct', 'express'] as const).map((path) => post(path, JSON.stringify({ query: '{ tenant { name } }' }), { authorization: 'Bearer nonsense' })),
    );
    expect(unauthenticated[0]!.body).toEqual(unauthenticated[1]!.body);
    expect(JSON.stringify(unauthenticated[0]!.body)).toMatch(/UNAUTHENTICATED/);
  });
});
