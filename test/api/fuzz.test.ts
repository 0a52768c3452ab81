/**
 * Property tests: every mutation of the schema (found by introspection, so new ones are covered
 * too) gets malformed and hostile inputs through GraphQL variables over HTTP: huge strings, deep
 * JSON, wrong types, lone surrogates, RTL marks, NUL bytes, SQL fragments, header injection,
 * numbers out of range, other tenants' ids. Every answer must be a success or carry a contract
 * code other than INTERNAL_SERVER_ERROR; a refused mutation writes nothing; afterwards the
 * database's cross-tenant and bookkeeping invariants hold.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { createEventType, createSubscription, publish } from '../support/graphql-helpers.js';

const CONTRACT_CODES = ['UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT', 'CONFLICT', 'QUOTA_EXCEEDED'];

/** A value sent as this exact JSON text (deep nesting without recursion in the test process). */
class RawJson {
  constructor(readonly text: string) {}
}

function toJson(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

interface FieldInfo {
  name: string;
  /** The named type at the bottom of the wrappers, e.g. String, ID, Int, JSON, an enum or an input. */
  typeName: string;
  list: boolean;
  nonNull: boolean;
}

interface MutationInfo {
  name: string;
  inputType: string;
  fields: FieldInfo[];
  /** Scalar fields of the payload worth selecting (`__typename` always works). */
}

interface Fixtures {
  hooklane: TestHooklane;
  tenantA: { id: string; token: string };
  tenantB: { id: string; token: string };
  sacrificial: { id: string };
  ids: string[];
  mutations: MutationInfo[];
  enums: Map<string, string[]>;
  inputTypes: Map<string, FieldInfo[]>;
}

let fx: Fixtures;

function unwrap(type: any): { typeName: string; list: boolean; nonNull: boolean } {
  let list = false;
  const nonNull = type.kind === 'NON_NULL';
  let t = type;
  while (t.ofType) {
    if (t.kind === 'LIST') list = true;
    t = t.ofType;
  }
  return { typeName: t.name, list, nonNull };
}

const INTROSPECTION = `{
  __schema {
    mutationType { fields { name args { name type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
    types { kind name enumValues { name } inputFields { name type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } }
  }
}`;

beforeAll(async () => {
  const hooklane = await startTestHooklane({ DELIVERY_RETRY_SCHEDULE: '50ms', QUOTA_PAYLOAD_BYTES: String(256 * 1024) });
  const tenantA = await hooklane.createTenant('Fuzz A');
  const tenantB = await hooklane.createTenant('Fuzz B');
  const sacrificial = await hooklane.createTenant('Fuzz sacrificial');
  const ids: string[] = [tenantA.id, tenantB.id];
  // Nothing listens on port 9 of 127.0.0.1: deliveries fail fast and are retried once.
  for (const tenant of [tenantA, tenantB]) {
    const type = await createEventType(hooklane, tenant.token, { name: 'invoice.paid' });
    const { subscription } = await createSubscription(hooklane, tenant.token, { url: 'http://127.0.0.1:9/hook', eventTypes: ['invoice.paid'] });
    const event = await publish(hooklane, tenant.token, { eventType: 'invoice.paid', payload: { n: 1 } });
    ids.push(type.id, subscription.id, event.id, ...event.deliveries.map((d) => d.id));
  }
  const introspection = await hooklane.gql(hooklane.adminToken, INTROSPECTION);
  const schema = introspection.data!.__schema;
  const inputTypes = new Map<string, FieldInfo[]>();
  const enums = new Map<string, string[]>();
  for (const type of schema.types) {
    if (type.kind === 'INPUT_OBJECT') inputTypes.set(type.name, type.inputFields.map((f: any) => ({ name: f.name, ...unwrap(f.type) })));
    if (type.kind === 'ENUM') enums.set(type.name, type.enumValues.map((v: any) => v.name));
  }
  const mutations: MutationInfo[] = [];
  for (const field of schema.mutationType.fields) {
    const input = field.args.find((a: any) => a.name === 'input');
    if (!input) continue;
    const { typeName } = unwrap(input.type);
    mutations.push({ name: field.name, inputType: typeName, fields: inputTypes.get(typeName) ?? [] });
  }
  fx = { hooklane, tenantA, tenantB, sacrificial, ids, mutations, enums, inputTypes };
}, 60_000);

afterAll(async () => {
  await fx?.hooklane.stop();
});

// ---------------------------------------------------------------------------------------------
// Hostile values

const SQL_FRAGMENTS = ["'; drop table events; --", "' or '1'='1", '"; select pg_sleep(10); --', "\\'; truncate tenants cascade; --", '$1', "E'\\x00'"];
const INJECTION = ['http://127.0.0.1:9/hook\r\nX-Evil: 1', 'http://127.0.0.1:9/\r\n\r\nGET / HTTP/1.1', 'name\r\nX-Evil: 1', 'http://evil\u0000.example/', 'javascript:alert(1)', 'file:///etc/passwd', 'http://[::1]:9/', 'http://169.254.169.254/latest/meta-data'];
const UNICODE = ['\uD800', '\uDC00abc', 'a\uD83D', '\u202Egnp.exe', 'مرحبا\u200F', '\u0000', 'a\u0000b', '\uFEFF', '\u{1F600}'.repeat(50), 'Ω≈ç√∫', '\u0301\u0301\u0301'];

function hugeString(): fc.Arbitrary<string> {
  return fc.tuple(fc.constantFrom('a', 'é', '\u{1F600}', "'", '\u0000', '.'), fc.integer({ min: 1_000, max: 100_000 })).map(([unit, n]) => unit.repeat(Math.ceil(n / unit.length)));
}

function deepJson(): fc.Arbitrary<RawJson> {
  return fc.tuple(fc.integer({ min: 50, max: 20_000 }), fc.constantFrom('[', '{"a":')).map(([depth, open]) => {
    const close = open === '[' ? ']' : '}';
    return new RawJson(`${open.repeat(depth)}1${close.repeat(depth)}`);
  });
}

const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...SQL_FRAGMENTS, ...INJECTION, ...UNICODE, '', ' ', '.', '..', 'a..b', '*', 'hooklane.*', 'invoice.paid', 'x'.repeat(201)),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  hugeString(),
);

const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, -1, 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 2, 1e308, -1e308, 1.5, 5e-324, 1_000_000_000),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  hostileNumber,
  fc.constant([]),
  fc.constant({}),
  fc.constant({ $ne: 1 }),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
);

const jsonValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 2, arbitrary: deepJson() },
  { weight: 1, arbitrary: fc.record({ s: hostileString }) },
  { weight: 1, arbitrary: fc.constant({ type: 'object', properties: { a: { $ref: '#' } }, $ref: 'http://127.0.0.1:9/schema' }) },
  { weight: 1, arbitrary: fc.constant({ $schema: 'https://json-schema.org/draft/2020-12/schema', pattern: '(a+)+$' }) },
  { weight: 1, arbitrary: fc.constant({ __proto__: { polluted: true }, constructor: { prototype: { x: 1 } } }) },
);

function valueFor(field: FieldInfo, depth = 0): fc.Arbitrary<unknown> {
  const ids = fc.oneof(fc.constantFrom(...fx.ids), hostileString);
  let base: fc.Arbitrary<unknown>;
  switch (field.typeName) {
    case 'ID':
      base = ids;
      break;
    case 'String':
      base = field.name === 'url' ? fc.oneof(fc.constantFrom(...INJECTION), hostileString) : field.name === 'eventType' ? fc.oneof(fc.constant('invoice.paid'), hostileString) : hostileString;
      break;
    case 'Int':
    case 'Float':
      base = hostileNumber;
      break;
    case 'Boolean':
      base = fc.boolean();
      break;
    case 'JSON':
      base = jsonValue;
      break;
    case 'DateTime':
      base = fc.oneof(fc.constantFrom('2024-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '0000-00-00', 'yesterday', '2024-13-45T99:99:99Z', '-271821-04-20T00:00:00Z'), hostileString);
      break;
    default:
      if (fx.enums.has(field.typeName)) base = fc.oneof(fc.constantFrom(...fx.enums.get(field.typeName)!), hostileString);
      else if (fx.inputTypes.has(field.typeName) && depth < 2) base = inputFor(fx.inputTypes.get(field.typeName)!, depth + 1);
      else base = hostileString;
  }
  const element = fc.oneof({ weight: 6, arbitrary: base }, { weight: 1, arbitrary: wrongType });
  if (!field.list) return element;
  return fc.oneof(
    { weight: 5, arbitrary: fc.array(element, { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.array(fc.constant('invoice.paid'), { minLength: 1001, maxLength: 1100 }) },
    { weight: 1, arbitrary: element },
  );
}

function inputFor(fields: FieldInfo[], depth = 0): fc.Arbitrary<Record<string, unknown>> {
  const entries = fields.map((field) => fc.option(valueFor(field, depth), { freq: 4, nil: undefined }).map((value) => [field.name, value] as const));
  return fc.tuple(fc.tuple(...entries), fc.option(fc.tuple(hostileString.map((s) => s.slice(0, 30)), wrongType), { freq: 5 })).map(([pairs, extra]) => {
    const input: Record<string, unknown> = {};
    for (const [name, value] of pairs) if (value !== undefined) input[name] = value;
    if (extra) input[extra[0] || 'unknown'] = extra[1];
    return input;
  });
}

async function tableCounts(): Promise<Record<string, number>> {
  const [row] = await fx.hooklane.sql<Record<string, number>[]>`
    select (select count(*) from tenants)::int as tenants, (select count(*) from event_types)::int as event_types,
      (select count(*) from subscriptions)::int as subscriptions,
      -- The worker publishes hooklane.* operational events on its own (a delivery FAILED): not the request's doing.
      (select count(*) from events where event_type not like 'hooklane.%')::int as events,
      (select count(*) from deliveries d join events e on e.id = d.event_id where e.event_type not like 'hooklane.%')::int as deliveries`;
  return row!;
}

async function post(token: string | undefined, query: string, variablesJson: string): Promise<{ status: number; body: any; text: string }> {
  const response = await fetch(fx.hooklane.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: `{"query":${JSON.stringify(query)},"variables":${variablesJson}}`,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body, text };
}

function checkAnswer(what: string, answer: { status: number; body: any; text: string }, sent = ''): string[] {
  const problems: string[] = [];
  if (answer.body === undefined) return [`${what}: HTTP ${answer.status}, not JSON: ${answer.text.slice(0, 200)}`];
  if (answer.status >= 500) problems.push(`${what}: HTTP ${answer.status}`);
  for (const error of answer.body.errors ?? []) {
    const code = error?.extensions?.code;
    if (!CONTRACT_CODES.includes(code)) problems.push(`${what}: error code ${code}: ${String(error?.message).slice(0, 200)}`);
    // Internals a message must not carry (user input echoed back by GraphQL validation is fine).
    const leak = /violates [a-z ]+constraint|relation "[a-z_]+"|syntax error at or near|duplicate key value|\bat [^ ]+\.ts:\d+|node_modules|postgres(ql)?:\/\/|SQLSTATE/i.exec(String(error?.message));
    if (leak && !sent.includes(leak[0])) problems.push(`${what}: error message leaks internals (${leak[0]}): ${String(error.message).slice(0, 200)}`);
  }
  return problems;
}

function describeInput(input: unknown): string {
  const text = toJson(input);
  return text.length > 300 ? `${text.slice(0, 300)}… (${text.length} chars)` : text;
}

describe('hostile input to every mutation', () => {
  it('introspection finds the contract mutations', () => {
    const names = fx.mutations.map((m) => m.name);
    for (const name of ['createTenant', 'createEventType', 'createSubscription', 'updateSubscription', 'deleteSubscription', 'rotateSubscriptionSecret', 'publishEvent', 'retryDelivery']) {
      expect(names).toContain(name);
    }
  });

  it('answers every mutation with success or a contract code, and a refusal writes nothing', async () => {
    const problems: string[] = [];
    const tokenArb = fc.constantFrom<'A' | 'B' | 'admin' | 'none' | 'garbage'>('A', 'A', 'A', 'B', 'admin', 'none', 'garbage');
    const callArb = fc.tuple(fc.constantFrom(...fx.mutations), tokenArb).chain(([mutation, who]) =>
      fc.tuple(
        fc.constant(mutation),
        fc.constant(who),
        fc.oneof({ weight: 12, arbitrary: inputFor(mutation.fields) }, { weight: 1, arbitrary: wrongType }),
      ),
    );
    await fc.assert(
      fc.asyncProperty(callArb, async ([mutation, who, rawInput]) => {
        let input = rawInput;
        // Never delete, suspend or revoke the tokens of the fixtures' tenants: mutations on tenants get the sacrificial one or garbage.
        if (input && typeof input === 'object' && !Array.isArray(input) && /Tenant|^revokeTokens$/.test(mutation.name)) {
          for (const key of ['id', 'tenantId']) {
            const value = (input as Record<string, unknown>)[key];
            if (value === fx.tenantA.id || value === fx.tenantB.id) (input as Record<string, unknown>)[key] = fx.sacrificial.id;
          }
        }
        const token = who === 'A' ? fx.tenantA.token : who === 'B' ? fx.tenantB.token : who === 'admin' ? fx.hooklane.adminToken : who === 'garbage' ? 'eyJhbGciOiJub25lIn0.eyJyb2xlcyI6WyJhZG1pbiJdfQ.' : undefined;
        const query = `mutation($input: ${mutation.inputType}!) { ${mutation.name}(input: $input) { __typename } }`;
        const before = await tableCounts();
        const variables = `{"input":${toJson(input)}}`;
        const answer = await post(token, query, variables);
        const what = `${mutation.name} as ${who} with ${describeInput(input)}`;
        const found = checkAnswer(what, answer, variables);
        const refused = (answer.body?.errors?.length ?? 0) > 0 && !answer.body?.data?.[mutation.name];
        if (refused) {
          const after = await tableCounts();
          for (const table of Object.keys(before)) {
            if (after[table] !== before[table]) found.push(`${what}: refused (${answer.body.errors[0]?.extensions?.code}) but ${table} went from ${before[table]} to ${after[table]}`);
          }
        }
        if (found.length) problems.push(...found);
        return true;
      }),
      { numRuns: 260, seed: Number(process.env.FUZZ_SEED ?? 20_260_101), endOnFailure: true },
    );
    // Collect every problem (rather than stopping at the first) so one run reports them all.
    expect(problems.slice(0, 15), `${problems.length} problems`).toEqual([]);
  }, 120_000);

  it('survives hostile HTTP bodies around GraphQL', async () => {
    const problems: string[] = [];
    const query = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }';
    const bodies = [
      `{"query":${JSON.stringify(query)},"variables":{"input":{"eventType":"invoice.paid","payload":${'['.repeat(100_000)}${']'.repeat(100_000)}}}}`,
      `{"query":${JSON.stringify(query)},"variables":"not an object"}`,
      `{"query":${JSON.stringify(query)},"variables":{"input":{"eventType":"invoice.paid","payload":1}},"operationName":{"x":1}}`,
      `{"query":${JSON.stringify(`${query} `.repeat(2000))}}`,
      `{"query":"mutation { ${'a: __typename '.repeat(5000)} }"}`,
      `{"query":${JSON.stringify(query)},"variables":{"input":{"eventType":"invoice.paid","payload":"${'x'.repeat(1_100_000)}"}}}`,
      '[{"query":"{ __typename }"},{"query":"{ __typename }"}]',
      '{"query":"\\ud800"}',
      '\u0000',
    ];
    for (const [i, body] of bodies.entries()) {
      const response = await fetch(fx.hooklane.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${fx.tenantA.token}` },
        body,
        signal: AbortSignal.timeout(15_000),
      });
      const text = await response.text();
      let parsed: any;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      problems.push(...checkAnswer(`body #${i} (${body.length} bytes)`, { status: response.status, body: parsed, text }, body));
    }
    expect(problems).toEqual([]);
  }, 60_000);

  it('keeps the database invariants afterwards', async () => {
    const sql = fx.hooklane.sql;
    const [row] = await sql<Record<string, number>[]>`
      select
        (select count(*) from deliveries d join events e on e.id = d.event_id where e.tenant_id <> d.tenant_id)::int as delivery_event_cross_tenant,
        (select count(*) from deliveries d join subscriptions s on s.id = d.subscription_id where s.tenant_id <> d.tenant_id)::int as delivery_subscription_cross_tenant,
        (select count(*) from delivery_attempts a join deliveries d on d.id = a.delivery_id where d.tenant_id <> a.tenant_id)::int as attempt_cross_tenant,
        (select count(*) from deliveries d where not exists (select 1 from events e where e.id = d.event_id)
            or not exists (select 1 from subscriptions s where s.id = d.subscription_id))::int as orphan_deliveries,
        (select count(*) from delivery_attempts a where not exists (select 1 from deliveries d where d.id = a.delivery_id))::int as orphan_attempts,
        (select count(*) from events e where not exists (select 1 from tenants t where t.id = e.tenant_id))::int as orphan_events,
        (select count(*) from subscriptions s where not exists (select 1 from tenants t where t.id = s.tenant_id))::int as orphan_subscriptions,
        (select count(*) from event_types x where not exists (select 1 from tenants t where t.id = x.tenant_id))::int as orphan_event_types,
        (select count(*) from deliveries d where d.attempt_count <> (select count(*) from delivery_attempts a where a.delivery_id = d.id))::int as attempt_count_mismatch,
        (select count(*) from deliveries d where d.status = 'SUCCEEDED' and not exists (
            select 1 from delivery_attempts a where a.delivery_id = d.id and a.outcome = 'SUCCESS'))::int as succeeded_without_success,
        (select count(*) from event_types where name !~ '^[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*$')::int as bad_event_type_names,
        (select count(*) from events e where not exists (
            select 1 from event_types x where x.tenant_id = e.tenant_id and x.name = e.event_type) and e.event_type not like 'hooklane.%')::int as events_of_unknown_type`;
    expect(row).toEqual({
      delivery_event_cross_tenant: 0,
      delivery_subscription_cross_tenant: 0,
      attempt_cross_tenant: 0,
      orphan_deliveries: 0,
      orphan_attempts: 0,
      orphan_events: 0,
      orphan_subscriptions: 0,
      orphan_event_types: 0,
      attempt_count_mismatch: 0,
      succeeded_without_success: 0,
      bad_event_type_names: 0,
      events_of_unknown_type: 0,
    });
    // The fixtures' tenants still work: nothing hostile broke them.
    const answer = await fx.hooklane.gql(fx.tenantA.token, '{ tenant { id } }');
    expect(answer.data?.tenant?.id).toBe(fx.tenantA.id);
  });
});
