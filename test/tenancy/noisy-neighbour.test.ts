import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percentile } from '../bench/clock.js';
import { createEventType, createSubscription, mutate, publishBatch, webhookHeadersOf } from '../support/graphql-helpers.js';
import { HoldingReceiver } from '../support/holding-receiver.js';
import { eventually, startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

/**
 * A noisy neighbour (issue 22): tenant A does everything hostile the API lets it try at once —
 * pathological schemas and payloads, replays until its quota refuses them, the costliest nested
 * queries the cost limit allows, and a backlog of deliveries to endpoints that hang until
 * DELIVERY_TIMEOUT — while tenant B publishes at a steady 50 events/s. Asserted: B's every event is
 * accepted and every delivery arrives, signed, while A's backlog still holds its slots; A gets
 * contract errors, never INTERNAL_SERVER_ERROR. B's latencies are printed (a baseline phase of B
 * alone, then under attack), never asserted: speed belongs to `npm run bench` and `npm run chaos`.
 */

const B_RATE_PER_SECOND = 50;
const BASELINE_MS = 2_000;
const ATTACK_MS = 4_000;
const HANGING_SUBSCRIPTIONS = 6;
const A_BACKLOG_EVENTS = 200;
/**
 * A's publish budget: its backlog and one replay (a token per subscription) fit the burst; the rate
 * refills less than a replay's worth while B publishes, so A's replays are soon refused.
 */
const A_QUOTAS = { publishRate: 1, publishBurst: A_BACKLOG_EVENTS + HANGING_SUBSCRIPTIONS };
/** Codes A may get back for its hostile requests. */
const CONTRACT_REFUSALS = new Set(['BAD_USER_INPUT', 'QUOTA_EXCEEDED']);

const PUBLISH = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }';
const CREATE_EVENT_TYPE = 'mutation($input: CreateEventTypeInput!) { createEventType(input: $input) { eventType { id } } }';
const REPLAY = 'mutation($input: ReplayEventInput!) { replayEvent(input: $input) { deliveries { id } } }';
/** Ten levels deep, the depth limit: lists inside lists, each multiplying the cost of what it selects. */
const DEEPEST_QUERY = `query Deepest($events: Int!, $inner: Int!) {
  events(first: $events) { edges { node { id payload deliveries(first: $inner) { id status event { id deliveries(first: $inner) {
    id event { id deliveries(first: $inner) { id attempts(first: $inner) { id statusCode error durationMs } } } } } } } } }
}`;
const TOO_DEEP_QUERY = `{ events { edges { node { deliveries { event { deliveries { event { deliveries { event { deliveries { id } } } } } } } } } } }`;
const TOO_MANY_ALIASES = `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: tenant { id }`).join(' ')} }`;
/** Four items a nested list: the cost limit, not the page size, then bounds the `events` page. */
const INNER_LIST_SIZE = 4;

interface Call {
  ms: number;
  code: string | undefined;
}

/** A schema near every limit at once: ~44 KB, ~990 subschemas, catastrophic-backtracking patterns. */
function nearLimitSchema(salt: number): Record<string, unknown> {
  const properties: Record<string, unknown> = { s: { type: 'string', pattern: '^(a+)+$' } };
  for (let i = 0; i < 985; i++) properties[`f${salt}_${i}`] = { type: 'string', maxLength: 1_000 + i };
  return { type: 'object', properties, patternProperties: { '^(x+x+)+y$': { type: 'string' }, '^(a|a)*$': { type: 'integer' } } };
}

/** Schemas refused at creation: by RE2, by size, by depth, by a recursive or an expanding $ref. */
function refusedSchemas(): unknown[] {
  let deep: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < 40; i++) deep = { type: 'object', properties: { n: deep } };
  const definitions: Record<string, unknown> = { d0: { type: 'string', pattern: '^(a+)+$' } };
  for (let k = 1; k <= 30; k++) definitions[`d${k}`] = { allOf: [{ $ref: `#/definitions/d${k - 1}` }, { $ref: `#/definitions/d${k - 1}` }] };
  return [
    { type: 'object', properties: { s: { type: 'string', pattern: '^(a)\\1+$' } } },
    { type: 'string', pattern: `(?=${'a'.repeat(10)})` },
    { type: 'string', enum: Array.from({ length: 7_000 }, (_, i) => `value-${i}`) },
    deep,
    { definitions, $ref: '#/definitions/d30' },
    { definitions: { node: { type: 'object', properties: { next: { $ref: '#/definitions/node' } } } }, $ref: '#/definitions/node' },
  ];
}

function summary(values: readonly number[]) {
  const round = (value: number | undefined) => (value === undefined ? undefined : Math.round(value));
  return { n: values.length, p50: round(percentile(values, 50)), p95: round(percentile(values, 95)), p99: round(percentile(values, 99)), max: round(values.length ? Math.max(...values) : undefined) };
}

describe('a noisy neighbour', () => {
  let hooklane: TestHooklane;
  let hanging: HoldingReceiver;
  let healthy: TestReceiver;

  beforeAll(async () => {
    // A's attempts hang until DELIVERY_TIMEOUT and are retried twice (the test schedule): its
    // backlog outlasts the test by minutes, holding every slot the worker lends it.
    hooklane = await startTestHooklane({ WORKER_CONCURRENCY: '16', DELIVERY_TIMEOUT: '2s', SHUTDOWN_TIMEOUT: '1s' });
    hanging = await HoldingReceiver.start();
    healthy = await TestReceiver.start();
  });
  afterAll(async () => {
    await hanging?.close();
    await healthy?.close();
    await hooklane?.stop();
  });

  /** B's publishes at B_RATE_PER_SECOND for `ms`, each sent on its tick whether or not the last was answered. */
  async function publishAtSteadyRate(token: string, ms: number, phase: string) {
    const count = Math.round((ms / 1000) * B_RATE_PER_SECOND);
    const gapMs = 1000 / B_RATE_PER_SECOND;
    const started = performance.now();
    const sends: Promise<{ id: string | undefined; code: string | undefined; sentAt: number; ms: number }>[] = [];
    for (let n = 0; n < count; n++) {
      const due = started + n * gapMs - performance.now();
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
      sends.push(
        (async () => {
          const sentAt = Date.now();
          const t = performance.now();
          const response = await hooklane.gql<{ publishEvent: { event: { id: string } } }>(token, PUBLISH, {
            input: { eventType: 'order.created', payload: { phase, seq: n, sku: `SKU-${n}` } },
          });
          return { id: response.data?.publishEvent.event.id, code: response.errors?.[0]?.extensions?.code, sentAt, ms: performance.now() - t };
        })(),
      );
    }
    return Promise.all(sends);
  }

  it("delivers every one of B's events at 50/s while A attacks with everything at once, and answers A with contract errors", async () => {
    const a = await hooklane.createTenant('Hostile tenant');
    const b = await hooklane.createTenant('Steady tenant');
    await mutate(hooklane, hooklane.adminToken, 'updateTenantQuotas', { tenantId: a.id, ...A_QUOTAS }, 'tenant { id }');

    await createEventType(hooklane, b.token, {
      name: 'order.created',
      schema: { type: 'object', properties: { seq: { type: 'integer' }, sku: { type: 'string', pattern: '^SKU-[0-9]+$' } }, required: ['seq'] },
    });
    const { secret } = await createSubscription(hooklane, b.token, { url: healthy.url, eventTypes: ['order.created'] });

    // Baseline: B alone, once its first deliveries have opened connections and warmed the code paths.
    const warmUp = await publishAtSteadyRate(b.token, 400, 'warm-up');
    await healthy.waitForRequests(warmUp.length, 20_000);
    const baselineLoopDelay = monitorEventLoopDelay({ resolution: 10 });
    baselineLoopDelay.enable();
    const baseline = await publishAtSteadyRate(b.token, BASELINE_MS, 'baseline');
    baselineLoopDelay.disable();
    expect(baseline.filter((p) => p.code !== undefined)).toEqual([]);
    await healthy.waitForRequests(baseline.length, 20_000);

    // A: a catastrophic-backtracking pattern it publishes to, six subscriptions to endpoints that
    // hang, and a backlog that keeps them busy.
    await createEventType(hooklane, a.token, { name: 'a.bulk' });
    await createEventType(hooklane, a.token, { name: 'a.redos', schema: { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } } } });
    for (let s = 0; s < HANGING_SUBSCRIPTIONS; s++) {
      await createSubscription(hooklane, a.token, { url: `${hanging.url}?s=${s}`, eventTypes: ['a.bulk', 'a.redos'] });
    }
    const backlog = await publishBatch(
      hooklane,
      a.token,
      Array.from({ length: A_BACKLOG_EVENTS }, (_, n) => ({ eventType: 'a.bulk', payload: { n, filler: 'x'.repeat(1_000) } })),
    );
    expect(backlog.errors).toBeUndefined();
    const aEventIds = backlog.data!.publishEvents.events.map((event) => event.id);
    // A holds most of the worker's slots before B's attack phase starts.
    await hanging.waitFor((receiver) => receiver.open >= 8, 20_000, "8 of A's requests open");

    // The costliest `events` page the cost limit admits for the deepest query: the first refused
    // size is one above it (each probe is refused before any resolver runs).
    let admittedEvents = 0;
    for (let low = 1, high = 100; low <= high; ) {
      const middle = Math.floor((low + high) / 2);
      const response = await hooklane.gql(a.token, DEEPEST_QUERY, { events: middle, inner: INNER_LIST_SIZE });
      if (response.errors?.length) {
        expect(response.errors[0]!.extensions?.code, JSON.stringify(response.errors)).toBe('BAD_USER_INPUT');
        high = middle - 1;
      } else {
        admittedEvents = middle;
        low = middle + 1;
      }
    }
    expect(admittedEvents).toBeGreaterThan(0);

    const calls = new Map<string, Call[]>();
    const record = async (what: string, run: () => Promise<{ errors?: { extensions?: { code?: string } }[] }>) => {
      const t = performance.now();
      const response = await run();
      const list = calls.get(what) ?? [];
      list.push({ ms: performance.now() - t, code: response.errors?.[0]?.extensions?.code });
      calls.set(what, list);
    };
    let attacking = true;
    const schemaAttack = async () => {
      for (let round = 0; attacking; round++) {
        await record('createEventType near the limits', () => hooklane.gql(a.token, CREATE_EVENT_TYPE, { input: { name: `a.big.${round}`, schema: nearLimitSchema(round) } }));
        await record('publish to a near-limit schema', () => hooklane.gql(a.token, PUBLISH, { input: { eventType: `a.big.${round}`, payload: { s: 'a'.repeat(50_000) } } }));
        const refused = refusedSchemas();
        await record('createEventType refused', () => hooklane.gql(a.token, CREATE_EVENT_TYPE, { input: { name: `a.refused.${round}`, schema: refused[round % refused.length] } }));
        await record('publish matching ^(a+)+$', () => hooklane.gql(a.token, PUBLISH, { input: { eventType: 'a.redos', payload: { s: 'a'.repeat(200_000) } } }));
        await record('publish backtracking bait', () => hooklane.gql(a.token, PUBLISH, { input: { eventType: 'a.redos', payload: { s: `${'a'.repeat(200_000)}!` } } }));
      }
    };
    const replayAttack = async () => {
      for (let n = 0; attacking; n++) await record('replayEvent', () => hooklane.gql(a.token, REPLAY, { input: { id: aEventIds[n % aEventIds.length] } }));
    };
    const queryAttack = async () => {
      while (attacking) {
        await record('deepest query the cost limit admits', () => hooklane.gql(a.token, DEEPEST_QUERY, { events: admittedEvents, inner: INNER_LIST_SIZE }));
        await record('query over the cost limit', () => hooklane.gql(a.token, DEEPEST_QUERY, { events: admittedEvents + 1, inner: INNER_LIST_SIZE }));
        await record('query over the depth limit', () => hooklane.gql(a.token, TOO_DEEP_QUERY));
        await record('query over the alias limit', () => hooklane.gql(a.token, TOO_MANY_ALIASES));
        await record('nested list over its size limit', () => hooklane.gql(a.token, DEEPEST_QUERY, { events: 1, inner: 5_000 }));
      }
    };
    const attackLoopDelay = monitorEventLoopDelay({ resolution: 10 });
    attackLoopDelay.enable();
    const attacks = Promise.all([schemaAttack(), replayAttack(), queryAttack()]);
    let underAttack: Awaited<ReturnType<typeof publishAtSteadyRate>>;
    try {
      underAttack = await publishAtSteadyRate(b.token, ATTACK_MS, 'attack');
    } finally {
      attacking = false;
      await attacks;
    }

    attackLoopDelay.disable();
    // Every one of B's events was accepted, and every delivery arrives, signed with B's secret,
    // while A's backlog still waits on endpoints that hang.
    expect(underAttack.filter((p) => p.code !== undefined)).toEqual([]);
    const published = [...warmUp, ...baseline, ...underAttack];
    const requests = await healthy.waitForRequests(published.length, 30_000);
    const [aPending] = await hooklane.sql<{ count: number }[]>`
      select count(*)::int as count from deliveries where tenant_id = ${a.id} and status = 'PENDING'`;
    expect(aPending!.count).toBeGreaterThan(A_BACKLOG_EVENTS);
    expect(hanging.open).toBeGreaterThan(0);
    const webhook = new StandardWebhook(secret);
    const arrivals = new Map<string, number>();
    for (const request of requests) {
      expect(webhook.verify(request.rawBody, webhookHeadersOf(request.headers))).toBeTruthy();
      const id = String(request.headers['webhook-id']);
      if (!arrivals.has(id)) arrivals.set(id, request.receivedAt);
    }
    expect(published.filter((p) => !arrivals.has(p.id!))).toEqual([]);

    // A got contract answers: every refusal a contract error, never INTERNAL_SERVER_ERROR, and
    // each kind of hostile request was made and answered as its defence says.
    const codes = Object.fromEntries([...calls].map(([what, list]) => [what, [...new Set(list.map((call) => call.code ?? 'OK'))].sort()]));
    const latencies = (phase: typeof baseline, loopDelay: IntervalHistogram) => ({
      publishMs: summary(phase.map((p) => p.ms)),
      deliveryMs: summary(phase.map((p) => arrivals.get(p.id!)! - p.sentAt)),
      eventLoopDelayMs: { p99: Math.round(loopDelay.percentile(99) / 1e6), max: Math.round(loopDelay.max / 1e6) },
    });
    console.info(
      `noisy-neighbour: B at ${B_RATE_PER_SECOND}/s, ${published.length} events, all delivered and signed\n` +
        `  baseline (B alone):  ${JSON.stringify(latencies(baseline, baselineLoopDelay))}\n` +
        `  under attack:        ${JSON.stringify(latencies(underAttack, attackLoopDelay))}\n` +
        `  A meanwhile: ${aPending!.count} deliveries PENDING, ${hanging.received.length} requests to hanging endpoints, ` +
        `deepest admitted query events(first: ${admittedEvents}); its calls: ` +
        JSON.stringify(Object.fromEntries([...calls].map(([what, list]) => [what, { n: list.length, codes: codes[what], p50Ms: Math.round(percentile(list.map((c) => c.ms), 50)!) }]))),
    );
    for (const [what, list] of calls) {
      for (const call of list) expect(call.code === undefined || CONTRACT_REFUSALS.has(call.code), `${what}: ${call.code}`).toBe(true);
    }
    expect(codes['createEventType refused']).toEqual(['BAD_USER_INPUT']);
    expect(codes['publish backtracking bait']).toEqual(['BAD_USER_INPUT']);
    expect(codes['createEventType near the limits']).toContain('OK');
    expect(codes['replayEvent']).toContain('QUOTA_EXCEEDED');
    expect(codes['deepest query the cost limit admits']).toEqual(['OK']);
    for (const refused of ['query over the cost limit', 'query over the depth limit', 'query over the alias limit', 'nested list over its size limit']) {
      expect(codes[refused], refused).toEqual(['BAD_USER_INPUT']);
    }

  }, 90_000);
});
