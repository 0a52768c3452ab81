import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mutate } from '../support/graphql-helpers.js';
import { startTestHooklane, type GraphQLResponse, type TestHooklane } from '../support/hooklane.js';

// A tenant's JSON Schema is hostile input: its patterns run on a linear-time engine, its cost is
// bounded, and it means nothing to any other tenant ($id, $ref), end to end through the API and
// PostgreSQL. A refused mutation writes nothing.

const CREATE_EVENT_TYPE = 'mutation($input: CreateEventTypeInput!) { createEventType(input: $input) { eventType { id } } }';
const PUBLISH = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }';

let hooklane: TestHooklane;

beforeAll(async () => {
  hooklane = await startTestHooklane();
});

afterAll(async () => {
  await hooklane?.stop();
});

async function eventTypeCount(): Promise<number> {
  const [row] = await hooklane.sql<{ count: number }[]>`select count(*)::int as count from event_types`;
  return row!.count;
}

async function create(token: string, name: string, schema: unknown): Promise<GraphQLResponse> {
  return hooklane.gql(token, CREATE_EVENT_TYPE, { input: { name, schema } });
}

async function expectCreated(token: string, name: string, schema: unknown): Promise<void> {
  const response = await create(token, name, schema);
  expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
}

/** Expects the create refused with `code`, nothing written, and returns the error message. */
async function expectCreateRefused(token: string, name: string, schema: unknown, code = 'BAD_USER_INPUT'): Promise<string> {
  const before = await eventTypeCount();
  const response = await create(token, name, schema);
  expect(response.errors?.[0]?.extensions?.code, JSON.stringify(response.errors)).toBe(code);
  expect(await eventTypeCount()).toBe(before);
  return response.errors![0]!.message;
}

async function publishOutcome(token: string, eventType: string, payload: unknown): Promise<string> {
  const response = await hooklane.gql(token, PUBLISH, { input: { eventType, payload } });
  return response.errors?.[0]?.extensions?.code ?? 'PUBLISHED';
}

describe('patterns run on a linear-time engine', () => {
  let token: string;
  beforeAll(async () => {
    token = (await hooklane.createTenant('Patterns')).token;
  });

  // With backtracking, `^(a+)+$` against 64 a's and a "!" takes longer than the universe has
  // existed; the test's own timeout stands guard.
  it('answers a catastrophic-backtracking pattern at once', { timeout: 15_000 }, async () => {
    await expectCreated(token, 'redos.probe', { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } } });
    const refused = await hooklane.gql(token, PUBLISH, { input: { eventType: 'redos.probe', payload: { s: `${'a'.repeat(64)}!` } } });
    expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.errors?.[0]?.message).toContain('must match pattern');
    expect(await publishOutcome(token, 'redos.probe', { s: 'a'.repeat(64) })).toBe('PUBLISHED');
  });

  it.each([
    ['a backreference in pattern', { properties: { s: { type: 'string', pattern: '^(a)\\1$' } } }, '/properties/s/pattern'],
    ['a lookahead in a patternProperties key', { patternProperties: { '^(?=x)': { type: 'string' } } }, '/patternProperties/^(?=x)'],
    ['a lookbehind in propertyNames', { propertyNames: { pattern: '(?<=a)b' } }, '/propertyNames/pattern'],
  ])('refuses %s with BAD_USER_INPUT naming where it is', async (_what, schema, where) => {
    const message = await expectCreateRefused(token, `unsupported.${where.length}`, schema);
    expect(message).toContain(where);
    expect(message).toMatch(/RE2/);
  });

  it('reads JavaScript \\u escapes in a pattern', async () => {
    await expectCreated(token, 'escapes', { type: 'string', pattern: '^[\\u0041-\\u005A]+\\uD83D\\uDE00$' });
    expect(await publishOutcome(token, 'escapes', 'HI😀')).toBe('PUBLISHED');
    expect(await publishOutcome(token, 'escapes', 'hi😀')).toBe('BAD_USER_INPUT');
  });
});

describe('a schema costs bounded time', () => {
  let token: string;
  beforeAll(async () => {
    token = (await hooklane.createTenant('Costly')).token;
  });

  // The generic deep-equality loop is quadratic: 20,000 items took minutes of the API's thread.
  it('checks uniqueItems on a large array at once, by JSON value', { timeout: 15_000 }, async () => {
    await expectCreated(token, 'unique.items', { type: 'array', uniqueItems: true });
    const items = Array.from({ length: 20_000 }, (_, i) => ({ i }));
    expect(await publishOutcome(token, 'unique.items', items)).toBe('PUBLISHED');
    expect(await publishOutcome(token, 'unique.items', [{ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 }])).toBe('BAD_USER_INPUT');
    expect(await publishOutcome(token, 'unique.items', [1, '1', [1], { 1: 1 }])).toBe('PUBLISHED');
  });

  it('checks a payload against its size quota before its schema', async () => {
    const tenant = await hooklane.createTenant('Small payloads');
    await mutate(hooklane, hooklane.adminToken, 'updateTenantQuotas', { tenantId: tenant.id, payloadBytes: 1024 }, 'tenant { id }');
    await expectCreated(tenant.token, 'numbers', { type: 'array', items: { type: 'integer' } });
    const response = await hooklane.gql(tenant.token, PUBLISH, { input: { eventType: 'numbers', payload: Array.from({ length: 500 }, () => 'x') } });
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.errors?.[0]?.message).toContain('1024 bytes');
  });

  it('refuses a schema over 64 KiB, naming the limit', async () => {
    const schema = { type: 'string', enum: Array.from({ length: 7000 }, (_, i) => `value-${i}`) };
    expect(JSON.stringify(schema).length).toBeGreaterThan(64 * 1024);
    expect(await expectCreateRefused(token, 'too.big', schema)).toContain('65536 bytes');
  });

  it('refuses $refs that multiply a small schema into an enormous one', async () => {
    const definitions: Record<string, unknown> = { d0: { type: 'string' } };
    for (let k = 1; k <= 30; k++) definitions[`d${k}`] = { allOf: [{ $ref: `#/definitions/d${k - 1}` }, { $ref: `#/definitions/d${k - 1}` }] };
    const message = await expectCreateRefused(token, 'exponential', { definitions, $ref: '#/definitions/d30' });
    expect(message).toContain('subschemas');
  });

  it('refuses a recursive $ref, naming where it is', async () => {
    const schema = { definitions: { node: { type: 'object', properties: { next: { $ref: '#/definitions/node' } } } }, $ref: '#/definitions/node' };
    const message = await expectCreateRefused(token, 'recursive', schema);
    expect(message).toContain('/definitions/node/properties/next');
  });

  it('follows $ref and anchors within the same schema', async () => {
    await expectCreated(token, 'draft07.refs', {
      definitions: { id: { $id: '#id', type: 'string', pattern: '^[0-9a-f]{8}$' }, amount: { type: 'integer', minimum: 0 } },
      type: 'object',
      properties: { order: { $ref: '#id' }, customer: { $ref: '#/definitions/id' }, total: { $ref: '#/definitions/amount' } },
      required: ['order', 'customer', 'total'],
    });
    expect(await publishOutcome(token, 'draft07.refs', { order: '0123abcd', customer: 'deadbeef', total: 3 })).toBe('PUBLISHED');
    expect(await publishOutcome(token, 'draft07.refs', { order: '0123abcd', customer: 'nothex!!', total: 3 })).toBe('BAD_USER_INPUT');
    await expectCreated(token, 'draft2020.refs', {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $defs: { id: { $anchor: 'id', type: 'string', minLength: 2 } },
      type: 'array',
      prefixItems: [{ $ref: '#id' }, { $ref: '#/$defs/id' }],
    });
    expect(await publishOutcome(token, 'draft2020.refs', ['ab', 'cd'])).toBe('PUBLISHED');
    expect(await publishOutcome(token, 'draft2020.refs', ['ab', 'c'])).toBe('BAD_USER_INPUT');
  });
});

describe('a schema means nothing outside itself', () => {
  const ORDER_ID = 'https://schemas.example.com/order.json';

  it('publishes again and again against a schema with $id', async () => {
    const { token } = await hooklane.createTenant('With id');
    await expectCreated(token, 'order.placed', { $id: ORDER_ID, type: 'object', required: ['id'], properties: { id: { type: 'string' } } });
    for (let i = 0; i < 3; i++) expect(await publishOutcome(token, 'order.placed', { id: `o${i}` })).toBe('PUBLISHED');
    expect(await publishOutcome(token, 'order.placed', { id: 7 })).toBe('BAD_USER_INPUT');
  });

  it('lets two tenants use the same $id for different schemas', async () => {
    const a = await hooklane.createTenant('A');
    const b = await hooklane.createTenant('B');
    await expectCreated(a.token, 'order.paid', { $id: ORDER_ID, type: 'object', properties: { total: { type: 'string' } }, required: ['total'] });
    await expectCreated(b.token, 'order.paid', { $id: ORDER_ID, type: 'object', properties: { total: { type: 'number' } }, required: ['total'] });
    for (let round = 0; round < 2; round++) {
      expect(await publishOutcome(a.token, 'order.paid', { total: '10.00' })).toBe('PUBLISHED');
      expect(await publishOutcome(a.token, 'order.paid', { total: 10 })).toBe('BAD_USER_INPUT');
      expect(await publishOutcome(b.token, 'order.paid', { total: 10 })).toBe('PUBLISHED');
      expect(await publishOutcome(b.token, 'order.paid', { total: '10.00' })).toBe('BAD_USER_INPUT');
    }
  });

  it("refuses a $ref to another tenant's $id exactly as a $ref to nothing", async () => {
    const owner = await hooklane.createTenant('Owner');
    const prober = await hooklane.createTenant('Prober');
    const secretId = 'https://schemas.example.com/secret.json';
    await expectCreated(owner.token, 'secret', { $id: secretId, type: 'object', properties: { pin: { type: 'string', pattern: '^1234$' } } });
    const unknownId = 'https://schemas.example.com/nobody.json';
    for (const suffix of ['', '#/properties/pin']) {
      const toSecret = await expectCreateRefused(prober.token, 'probe', { $ref: `${secretId}${suffix}` });
      const toNothing = await expectCreateRefused(prober.token, 'probe', { $ref: `${unknownId}${suffix}` });
      expect(toSecret.replace(secretId, '<id>')).toBe(toNothing.replace(unknownId, '<id>'));
    }
  });

  it('refuses an embedded $id, which would name a schema of its own', async () => {
    const { token } = await hooklane.createTenant('Embedded');
    const message = await expectCreateRefused(token, 'embedded', { properties: { a: { $id: 'https://schemas.example.com/a.json', type: 'string' } } });
    expect(message).toContain('/properties/a');
  });
});

describe('a schema is checked only once the event type may be created', () => {
  it('answers QUOTA_EXCEEDED before looking at the schema', async () => {
    const tenant = await hooklane.createTenant('Full');
    await mutate(hooklane, hooklane.adminToken, 'updateTenantQuotas', { tenantId: tenant.id, eventTypes: 1 }, 'tenant { id }');
    await expectCreated(tenant.token, 'only.one', { type: 'object' });
    await expectCreateRefused(tenant.token, 'second', { type: 'nonsense' }, 'QUOTA_EXCEEDED');
    await expectCreateRefused(tenant.token, 'second', { type: 'string', enum: Array.from({ length: 7000 }, (_, i) => `v${i}`) }, 'QUOTA_EXCEEDED');
  });

  it('answers CONFLICT for a taken name before looking at the schema', async () => {
    const { token } = await hooklane.createTenant('Taken');
    await expectCreated(token, 'taken', { type: 'object' });
    await expectCreateRefused(token, 'taken', { type: 'nonsense' }, 'CONFLICT');
  });
});
