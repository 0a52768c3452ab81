import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, createEventType, createSubscription } from '../support/graphql-helpers.js';
import { startTestHooklane, type GraphQLResponse, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

// Contract: every GraphQL error has `extensions.code` from the list, INTERNAL_SERVER_ERROR is for
// our faults only, and a refused mutation writes nothing.

const TABLES = ['tenants', 'event_types', 'subscriptions', 'events', 'deliveries', 'delivery_attempts', 'graphile_worker.jobs'];
const CLIENT_CODES = ['UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT', 'CONFLICT', 'QUOTA_EXCEEDED'];

let hooklane: TestHooklane;
let receiver: TestReceiver;
let token: string;
let subscriptionId: string;
let subscriptionRow: unknown;

async function counts(): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const table of TABLES) result[table] = await countRows(hooklane, table);
  return result;
}

async function currentSubscriptionRow() {
  const [row] = await hooklane.sql`select * from subscriptions where id = ${subscriptionId}`;
  return row;
}

/** Every error carries a client code (never INTERNAL_SERVER_ERROR), and no data came back. */
function expectClientErrors(response: GraphQLResponse, code: string) {
  const context = JSON.stringify(response).slice(0, 1000);
  expect(response.errors?.length, context).toBeGreaterThan(0);
  for (const error of response.errors!) {
    expect(CLIENT_CODES, context).toContain(error.extensions?.code);
    expect(error.message).not.toMatch(/\bat .+:\d+:\d+|insert into|select .* from|whsec_/i);
  }
  expect(response.errors![0]!.extensions?.code, context).toBe(code);
  for (const value of Object.values(response.data ?? {})) expect(value, context).toBeNull();
}

/** Runs the operation, expects it refused with `code`, and checks that nothing was written. */
async function expectRefused(code: string, query: string, variables?: Record<string, unknown>, as = token) {
  const before = await counts();
  const response = await hooklane.gql(as, query, variables);
  expectClientErrors(response, code);
  expect(await counts()).toEqual(before);
  expect(await currentSubscriptionRow()).toEqual(subscriptionRow);
  return response;
}

const CREATE_SUBSCRIPTION =
  'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { id } secret } }';
const UPDATE_SUBSCRIPTION = 'mutation($input: UpdateSubscriptionInput!) { updateSubscription(input: $input) { subscription { id } } }';
const CREATE_EVENT_TYPE = 'mutation($input: CreateEventTypeInput!) { createEventType(input: $input) { eventType { id } } }';
const PUBLISH = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }';

describe('bad input', () => {
  beforeAll(async () => {
    hooklane = await startTestHooklane();
    receiver = await TestReceiver.start();
    token = (await hooklane.createTenant('Careful Co')).token;
    await createEventType(hooklane, token, {
      name: 'order.created',
      schema: {
        type: 'object',
        required: ['id', 'total'],
        properties: { id: { type: 'string' }, total: { type: 'integer', minimum: 0 } },
        additionalProperties: false,
      },
    });
    await createEventType(hooklane, token, { name: 'order.note' });
    const created = await createSubscription(hooklane, token, { url: receiver.url, eventTypes: ['order.created', 'order.note'] });
    subscriptionId = created.subscription.id;
    subscriptionRow = await currentSubscriptionRow();
  });
  afterAll(async () => {
    await receiver?.close();
    await hooklane?.stop();
  });

  describe('subscription URLs', () => {
    const badUrls = [
      'not a url',
      '',
      'ftp://x',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'http://user:pw@host/',
      'https://user@example.com/hook',
      'http://',
      `https://example.com/${'a'.repeat(3000)}`,
    ];
    it.each(badUrls)('createSubscription refuses %j with BAD_USER_INPUT', async (url) => {
      await expectRefused('BAD_USER_INPUT', CREATE_SUBSCRIPTION, { input: { url, eventTypes: ['order.created'] } });
    });
    it.each(badUrls)('updateSubscription refuses %j and keeps the old URL', async (url) => {
      await expectRefused('BAD_USER_INPUT', UPDATE_SUBSCRIPTION, { input: { id: subscriptionId, url, enabled: false } });
    });
  });

  describe('event type names', () => {
    const badNames = ['bad name', '.x', 'x.', 'a..b', '', ' ', 'a/b', 'é', 'order.created\n', 'a'.repeat(201)];
    it.each(badNames)('createEventType refuses %j', async (name) => {
      await expectRefused('BAD_USER_INPUT', CREATE_EVENT_TYPE, { input: { name } });
    });
    it.each(badNames)('createSubscription refuses %j in eventTypes', async (name) => {
      await expectRefused('BAD_USER_INPUT', CREATE_SUBSCRIPTION, { input: { url: receiver.url, eventTypes: ['order.created', name] } });
    });
    it.each(badNames)('publishEvent refuses %j as eventType', async (name) => {
      await expectRefused('BAD_USER_INPUT', PUBLISH, { input: { eventType: name, payload: { id: 'o1', total: 1 } } });
    });

    it('accepts names at the edge of the rule (and these are real writes)', async () => {
      for (const name of ['a', 'A-Z_09', 'x.y-z.w_1', 'b'.repeat(200)]) {
        const response = await hooklane.gql(token, CREATE_EVENT_TYPE, { input: { name } });
        expect(response.errors, name).toBeUndefined();
      }
      const rows = await hooklane.sql`select name from event_types where name in ('a', 'A-Z_09', 'x.y-z.w_1')`;
      expect(rows).toHaveLength(3);
    });
  });

  describe('event types', () => {
    it('refuses a duplicate name with CONFLICT', async () => {
      await expectRefused('CONFLICT', CREATE_EVENT_TYPE, { input: { name: 'order.created', description: 'again' } });
      const [row] = await hooklane.sql`select description, schema from event_types where name = 'order.created'`;
      expect(row!.description).toBeNull();
      expect(row!.schema).toMatchObject({ required: ['id', 'total'] });
    });

    it.each([
      ['an unknown type', { type: 'nonsense' }],
      ['a wrongly typed keyword', { type: 'object', required: 'id' }],
      ['a dangling $ref', { $ref: '#/definitions/missing' }],
      ['a string', 'not a schema'],
      ['a number', 42],
      ['an array', [{ type: 'object' }]],
    ])('refuses %s as JSON schema with BAD_USER_INPUT', async (_what, schema) => {
      await expectRefused('BAD_USER_INPUT', CREATE_EVENT_TYPE, { input: { name: 'with.schema', schema } });
    });

    it('refuses a description over 2000 characters', async () => {
      await expectRefused('BAD_USER_INPUT', CREATE_EVENT_TYPE, { input: { name: 'long.description', description: 'd'.repeat(2001) } });
    });

    it('accepts a draft 2020-12 JSON Schema, as schema.graphql promises ("draft 2020-12 or 07")', async () => {
      const draft07 = await hooklane.gql(token, CREATE_EVENT_TYPE, {
        input: { name: 'schema.draft07', schema: { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object' } },
      });
      expect(draft07.errors, JSON.stringify(draft07.errors)).toBeUndefined();
      const response = await hooklane.gql(token, CREATE_EVENT_TYPE, {
        input: {
          name: 'schema.draft2020',
          schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'array', prefixItems: [{ type: 'string' }] },
        },
      });
      expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
      const refused = await hooklane.gql(token, PUBLISH, { input: { eventType: 'schema.draft2020', payload: [1] } });
      expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    });
  });

  describe('subscriptions', () => {
    it('refuses an empty eventTypes list on create and on update', async () => {
      await expectRefused('BAD_USER_INPUT', CREATE_SUBSCRIPTION, { input: { url: receiver.url, eventTypes: [] } });
      await expectRefused('BAD_USER_INPUT', UPDATE_SUBSCRIPTION, { input: { id: subscriptionId, eventTypes: [] } });
    });

    it('refuses an unknown event type on create and on update, naming it', async () => {
      const response = await expectRefused('BAD_USER_INPUT', CREATE_SUBSCRIPTION, {
        input: { url: receiver.url, eventTypes: ['order.created', 'order.unknown'] },
      });
      expect(response.errors![0]!.message).toContain('order.unknown');
      await expectRefused('BAD_USER_INPUT', UPDATE_SUBSCRIPTION, {
        input: { id: subscriptionId, url: 'https://example.com/new', eventTypes: ['order.unknown'] },
      });
    });

    it('refuses more than 100 event types', async () => {
      const eventTypes = Array.from({ length: 101 }, (_, i) => `t${i}`);
      await expectRefused('BAD_USER_INPUT', CREATE_SUBSCRIPTION, { input: { url: receiver.url, eventTypes } });
    });

    it('refuses an unknown id with NOT_FOUND', async () => {
      await expectRefused('NOT_FOUND', UPDATE_SUBSCRIPTION, { input: { id: 'sub_00000000000000000000000000000000', enabled: false } });
      await expectRefused('NOT_FOUND', UPDATE_SUBSCRIPTION, { input: { id: 'garbage', enabled: false } });
      await expectRefused('NOT_FOUND', 'mutation { deleteSubscription(input: { id: "nope" }) { id } }');
      await expectRefused('NOT_FOUND', 'mutation { rotateSubscriptionSecret(input: { id: "nope" }) { secret } }');
      await expectRefused('NOT_FOUND', 'mutation { retryDelivery(input: { id: "dlv_00000000000000000000000000000000" }) { delivery { id } } }');
    });
  });

  describe('publishing', () => {
    it('refuses an unknown event type', async () => {
      await expectRefused('BAD_USER_INPUT', PUBLISH, { input: { eventType: 'order.deleted', payload: { id: 'o1' } } });
    });

    it.each([
      ['a missing required property', { id: 'o1' }],
      ['a wrongly typed property', { id: 'o1', total: 'ten' }],
      ['a value below the minimum', { id: 'o1', total: -1 }],
      ['an extra property', { id: 'o1', total: 1, extra: true }],
      ['a non-object', 'order'],
      ['null inside a list', [null]],
    ])('refuses a payload with %s against the schema', async (_what, payload) => {
      await expectRefused('BAD_USER_INPUT', PUBLISH, { input: { eventType: 'order.created', payload } });
    });

    it('refuses a payload over 256 KiB', async () => {
      const payload = { id: 'o1', text: 'x'.repeat(256 * 1024) };
      await expectRefused('BAD_USER_INPUT', PUBLISH, { input: { eventType: 'order.note', payload } });
    });

    it('refuses an empty or over-long idempotency key', async () => {
      for (const idempotencyKey of ['', 'k'.repeat(256)]) {
        await expectRefused('BAD_USER_INPUT', PUBLISH, { input: { eventType: 'order.note', payload: {}, idempotencyKey } });
      }
    });

    it('refuses a null payload (JSON! is non-null)', async () => {
      await expectRefused('BAD_USER_INPUT', PUBLISH, { input: { eventType: 'order.note', payload: null } });
    });
  });

  describe('tenants', () => {
    it.each(['', '   ', 'n'.repeat(201), 'bell\u0007'])('createTenant refuses the name %j', async (name) => {
      await expectRefused('BAD_USER_INPUT', 'mutation($name: String!) { createTenant(input: { name: $name }) { tenant { id } } }', { name }, hooklane.adminToken);
    });
  });

  describe('GraphQL requests', () => {
    it.each([
      ['a syntax error', '{ events(first: 1) { edges { node { id } }'],
      ['an unknown field', '{ events { edges { node { id secretField } } } }'],
      ['an unknown root field', '{ everything }'],
      ['an unknown argument', '{ events(last: 5) { edges { cursor } } }'],
      ['a wrongly typed argument', '{ events(first: "ten") { edges { cursor } } }'],
      ['a mutation missing its input', 'mutation { createEventType { eventType { id } } }'],
      ['an input missing a required field', 'mutation { createEventType(input: {}) { eventType { id } } }'],
      ['an unknown input field', 'mutation { createEventType(input: { name: "ok.name", owner: "x" }) { eventType { id } } }'],
      ['an empty document', ''],
      ['an Int out of 32-bit range', '{ events(first: 99999999999) { edges { cursor } } }'],
      ['two operations and no operationName', 'query A { tenant { id } } query B { tenant { name } }'],
      ['a fragment on an unknown type', '{ tenant { ...F } } fragment F on Nothing { id }'],
      // The schema has no Subscription type: asking for one is the client's mistake.
      ['a subscription operation', 'subscription { events { id } }'],
    ])('answers %s with BAD_USER_INPUT', async (_what, query) => {
      await expectRefused('BAD_USER_INPUT', query);
    });

    it('answers a variable of the wrong type with BAD_USER_INPUT', async () => {
      await expectRefused('BAD_USER_INPUT', CREATE_EVENT_TYPE, { input: { name: 42 } });
      await expectRefused('BAD_USER_INPUT', CREATE_EVENT_TYPE, { input: 'order.x' });
      await expectRefused('BAD_USER_INPUT', CREATE_EVENT_TYPE);
    });

    it('answers a request body that is not JSON with a GraphQL error, not an HTML page with a stack trace', async () => {
      const response = await fetch(hooklane.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: '{"query": ',
      });
      const text = await response.text();
      expect(text).not.toMatch(/node_modules|at .+:\d+:\d+/);
      expect(response.status).toBe(400);
      expectClientErrors({ status: response.status, ...(JSON.parse(text) as object) }, 'BAD_USER_INPUT');
    });

    it('answers a request body over the 1 MiB limit with a GraphQL error, not an HTML page with a stack trace', async () => {
      const before = await counts();
      const response = await fetch(hooklane.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: PUBLISH, variables: { input: { eventType: 'order.note', payload: { text: 'x'.repeat(1_200_000) } } } }),
      });
      const text = await response.text();
      expect(await counts()).toEqual(before);
      expect(text).not.toMatch(/node_modules|at .+:\d+:\d+/);
      expectClientErrors({ status: response.status, ...(JSON.parse(text) as object) }, 'BAD_USER_INPUT');
    });
  });

  describe('pagination arguments', () => {
    const lists = ['events', 'subscriptions', 'eventTypes'];
    const badArgs = ['first: 0', 'first: -1', 'first: 10000', 'first: 101', 'after: "garbage"', 'after: ""', 'after: "c3ViX3Rvb19zaG9ydA"'];
    for (const list of lists) {
      it.each(badArgs)(`${list}(%s) is BAD_USER_INPUT`, async (args) => {
        await expectRefused('BAD_USER_INPUT', `{ ${list}(${args}) { edges { cursor } pageInfo { hasNextPage } } }`);
      });
    }
    it.each(badArgs)('tenants(%s) is BAD_USER_INPUT for an admin', async (args) => {
      await expectRefused('BAD_USER_INPUT', `{ tenants(${args}) { edges { cursor } } }`, undefined, hooklane.adminToken);
    });
  });
});
