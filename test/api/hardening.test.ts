import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, createEventType, gqlData } from '../support/graphql-helpers.js';
import { startTestHooklane, type GraphQLResponse, type TestHooklane } from '../support/hooklane.js';

// GraphQL hardening: depth, alias and cost limits, switchable introspection, no batching. Every
// refusal is a JSON GraphQL error with a contract code (BAD_USER_INPUT), before any resolver runs.

/** Refused as the client's mistake, before execution: no `data` key at all. */
function expectRefused(response: GraphQLResponse, message?: RegExp) {
  const context = JSON.stringify(response).slice(0, 1000);
  expect(response.status, context).toBe(400);
  expect(response.errors?.length, context).toBeGreaterThan(0);
  for (const error of response.errors!) expect(error.extensions?.code, context).toBe('BAD_USER_INPUT');
  expect(response, context).not.toHaveProperty('data');
  if (message) expect(response.errors![0]!.message, context).toMatch(message);
}

function expectOk(response: GraphQLResponse) {
  expect(response.errors, JSON.stringify(response.errors)).toBeUndefined();
  expect(response.status).toBe(200);
}

// Cost of `events(first: N) { edges { node { deliveries(first: 10) { attempts { id } } } } }`:
// attempts 1, deliveries 1 + 10 × 1, node 1 + 11, edges 1 + 12, events 1 + N × 13.
const BOMB = (first: string) => `events(first: ${first}) { edges { node { deliveries(first: 10) { attempts { id } } } } }`;

describe('GraphQL hardening with strict limits (depth 6, cost 100, introspection off)', () => {
  let hooklane: TestHooklane;
  let token: string;
  let eventId: string;

  beforeAll(async () => {
    hooklane = await startTestHooklane({ GRAPHQL_MAX_DEPTH: '6', GRAPHQL_MAX_COST: '100', GRAPHQL_INTROSPECTION: 'false' });
    token = (await hooklane.createTenant('Limited Co')).token;
    await createEventType(hooklane, token, { name: 'order.created' });
    const published = await gqlData(hooklane, token, 'mutation { publishEvent(input: { eventType: "order.created", payload: { id: "o1" } }) { event { id } } }');
    eventId = published.publishEvent.event.id;
  });
  afterAll(async () => {
    await hooklane?.stop();
  });

  describe('depth', () => {
    it('runs a query at the depth limit', async () => {
      // event > deliveries > event > deliveries > id: 5 levels
      const response = await hooklane.gql(token, 'query($id: ID!) { event(id: $id) { deliveries(first: 5) { event { deliveries { id } } } } }', {
        id: eventId,
      });
      expectOk(response);
      expect(response.data!.event).toEqual({ deliveries: [] }); // no subscription: no deliveries
      expectOk(await hooklane.gql(token, `{ ${BOMB('2')} }`)); // 6 levels
    });

    it('refuses a query one level too deep, saying by how much', async () => {
      const response = await hooklane.gql(
        token,
        'query Deep($id: ID!) { event(id: $id) { deliveries { event { deliveries { event { deliveries { id } } } } } } }',
        { id: eventId },
      );
      expectRefused(response, /Operation "Deep" is 7 levels deep, 1 over the depth limit of 6/);
    });

    it('counts depth through fragment spreads and inline fragments', async () => {
      const response = await hooklane.gql(
        token,
        `query($id: ID!) { event(id: $id) { ...Deliveries } }
         fragment Deliveries on Event { deliveries { ... on Delivery { event { ...More } } } }
         fragment More on Event { deliveries { event { deliveries { event { id } } } } }`,
        { id: eventId },
      );
      expectRefused(response, /is 8 levels deep, 2 over the depth limit of 6/);
    });

    it('refuses a fragment cycle without hanging or crashing', async () => {
      const response = await hooklane.gql(token, '{ tenant { ...A } } fragment A on Tenant { ...B } fragment B on Tenant { ...A }');
      expectRefused(response);
    });
  });

  describe('cost', () => {
    it('runs queries within the cost limit', async () => {
      expectOk(await hooklane.gql(token, `{ ${BOMB('2')} }`)); // 27
      expectOk(await hooklane.gql(token, `{ ${BOMB('7')} }`)); // 92
    });

    it('refuses a cost bomb, saying by how much', async () => {
      const response = await hooklane.gql(token, `{ ${BOMB('100')} }`); // 1301
      expectRefused(response, /costs 1301, 1201 over the cost limit of 100/);
      expectRefused(await hooklane.gql(token, `{ ${BOMB('8')} }`), /costs 105, 5 over/);
    });

    it('counts an omitted `first` as the default page size of 20', async () => {
      expectRefused(
        await hooklane.gql(token, '{ events { edges { node { deliveries(first: 10) { attempts { id } } } } } }'),
        /costs 261, 161 over the cost limit of 100/,
      );
    });

    it('counts `first` given by a variable', async () => {
      const query = `query Bomb($n: Int) { ${BOMB('$n')} }`;
      expectOk(await hooklane.gql(token, query, { n: 7 }));
      expectRefused(await hooklane.gql(token, query, { n: 100 }), /Operation "Bomb" costs 1301/);
      expectRefused(await hooklane.gql(token, query), /costs 261/); // $n omitted: the default page size
      // Costs are remembered per document and `first` variables: the same document with a small $n runs again.
      expectOk(await hooklane.gql(token, query, { n: 7 }));
      expectRefused(await hooklane.gql(token, query, { n: 100 }), /costs 1301/);
      // A variable of the wrong type is still reported as such, not as a cost problem.
      const wrong = await hooklane.gql(token, query, { n: 'many' });
      expect(wrong.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(wrong.errors?.[0]?.message).not.toMatch(/cost/);
    });

    it('counts a nested list by its `first`, 100 when omitted', async () => {
      // event 1 + deliveries (1 + first × attempts (1 + first × 0))
      const query = 'query($id: ID!, $d: Int, $a: Int) { event(id: $id) { deliveries(first: $d) { attempts(first: $a) { id } } } }';
      expectOk(await hooklane.gql(token, query, { id: eventId, d: 98 })); // 1 + (1 + 98 × 1) = 100
      expectRefused(await hooklane.gql(token, query, { id: eventId, d: 99 }), /costs 101, 1 over/);
      expectRefused(await hooklane.gql(token, query, { id: eventId }), /costs 102, 2 over/);
      expectRefused(
        await hooklane.gql(token, 'query($id: ID!) { event(id: $id) { deliveries { attempts { id } } } }', { id: eventId }),
        /costs 102, 2 over the cost limit of 100 \(.*100 when omitted on a nested list/,
      );
      // Beyond 1,000 a nested list counts as 1,000; its resolver refuses the value itself.
      const huge = await hooklane.gql(token, 'query($id: ID!) { event(id: $id) { deliveries(first: 1000000) { id } } }', { id: eventId });
      expect(huge.errors?.[0]?.message).toBe('first must be between 1 and 1000');
    });

    it('refuses an expensive mutation before its resolver runs: nothing is written', async () => {
      const events = await countRows(hooklane, 'events');
      // publishEvents 1 + events (1 + 10 × deliveries (1 + 10 × attempts 1)) = 112
      const response = await hooklane.gql(
        token,
        'mutation($input: PublishEventsInput!) { publishEvents(input: $input) { events { deliveries(first: 10) { attempts { id } } } } }',
        { input: { events: [{ eventType: 'order.created', payload: { id: 'o2' } }] } },
      );
      expectRefused(response, /costs 112, 12 over the cost limit of 100/);
      expect(await countRows(hooklane, 'events')).toBe(events);
      // The same mutation selecting less is cheap (2), runs, and writes.
      const cheap = await hooklane.gql(token, 'mutation($input: PublishEventsInput!) { publishEvents(input: $input) { events { id } } }', {
        input: { events: [{ eventType: 'order.created', payload: { id: 'o2' } }] },
      });
      expectOk(cheap);
      expect(await countRows(hooklane, 'events')).toBe(events + 1);
    });
  });

  describe('introspection switched off', () => {
    it('refuses an introspection query with BAD_USER_INPUT while a normal query works', async () => {
      expectRefused(await hooklane.gql(token, '{ __schema { types { name } } }'), /introspection/i);
      expectRefused(await hooklane.gql(token, '{ __type(name: "Event") { name } }'));
      const normal = await hooklane.gql(token, '{ tenant { name } __typename }');
      expectOk(normal);
      expect(normal.data).toEqual({ tenant: { name: 'Limited Co' }, __typename: 'Query' });
    });
  });
});

describe('GraphQL hardening with the default limits', () => {
  let hooklane: TestHooklane;
  let token: string;

  beforeAll(async () => {
    hooklane = await startTestHooklane();
    token = (await hooklane.createTenant('Default Co')).token;
  });
  afterAll(async () => {
    await hooklane?.stop();
  });

  it('answers the full introspection query: exempt from the depth and cost limits', async () => {
    const response = await hooklane.gql(token, getIntrospectionQuery({ descriptions: true }));
    expectOk(response);
    expect(response.data!.__schema.queryType.name).toBe('Query');
  });

  it('runs 30 aliases and refuses 31, saying by how much', async () => {
    const aliased = (count: number) => `{ ${Array.from({ length: count }, (_, i) => `t${i}: tenant { id }`).join(' ')} }`;
    expectOk(await hooklane.gql(token, aliased(30)));
    expectRefused(await hooklane.gql(token, aliased(31)), /uses 31 aliases, 1 over the alias limit of 30/);
  });

  it('counts aliases inside introspection', async () => {
    const query = `{ ${Array.from({ length: 31 }, (_, i) => `s${i}: __schema { queryType { name } }`).join(' ')} }`;
    expectRefused(await hooklane.gql(token, query), /31 aliases/);
  });

  it('refuses a depth-11 query at the default depth limit of 10', async () => {
    const query = '{ events { edges { node { deliveries { event { deliveries { event { deliveries { event { deliveries { id } } } } } } } } } } }';
    expectRefused(await hooklane.gql(token, query), /11 levels deep, 1 over the depth limit of 10/);
  });

  it('refuses a cost bomb at the default cost limit of 5000', async () => {
    const query = '{ events(first: 100) { edges { node { deliveries { event { deliveries { attempts { id } } } } } } } }';
    expectRefused(await hooklane.gql(token, query), /over the cost limit of 5000/);
  });

  it('counts nested lists by their `first`, 100 each when omitted', async () => {
    // events 1 + 100 × (edges 1 + node 1 + deliveries (1 + 100 × attempts 1)) = 10301
    const bomb = '{ events(first: 100) { edges { node { deliveries { attempts { responseBody } } } } } }';
    expectRefused(await hooklane.gql(token, bomb), /costs 10301, 5301 over the cost limit of 5000/);
    // Asking for fewer deliveries per event makes the same query affordable.
    expectOk(await hooklane.gql(token, '{ events(first: 100) { edges { node { deliveries(first: 40) { attempts { responseBody } } } } } }'));
  });

  it('still refuses `first` above GRAPHQL_MAX_PAGE_SIZE', async () => {
    const response = await hooklane.gql(token, '{ events(first: 101) { edges { cursor } } }');
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.errors?.[0]?.message).toMatch(/first must be between 1 and 100/);
  });

  it('refuses a JSON array batch with a JSON error carrying a contract code, not HTML', async () => {
    const response = await fetch(hooklane.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify([{ query: '{ tenant { id } }' }, { query: '{ tenant { name } }' }]),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await response.json()) as GraphQLResponse;
    expect(Array.isArray(body)).toBe(false);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toMatch(/batching/i);
  });
});
