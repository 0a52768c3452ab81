import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percentile } from '../bench/clock.js';
import { createEventType, createSubscription, mutate, publishBatch, webhookHeadersOf } from '../support/graphql-helpers.js';
import { HoldingReceiver } from '../support/holding-receiver.js';
import { startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';
import { EXPECTED_OUTCOMES, HostileTenant, REDOS_EVENT_TYPE, REDOS_SCHEMA, type SendOperation } from '../support/hostile-tenant.js';

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
const PUBLISH = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }';

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
    await createEventType(hooklane, a.token, { name: REDOS_EVENT_TYPE, schema: REDOS_SCHEMA });
    for (let s = 0; s < HANGING_SUBSCRIPTIONS; s++) {
      await createSubscription(hooklane, a.token, { url: `${hanging.url}?s=${s}`, eventTypes: ['a.bulk', REDOS_EVENT_TYPE] });
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

    const send: SendOperation = async (query, variables) => {
      const response = await hooklane.gql(a.token, query, variables);
      return response.errors?.length ? (response.errors[0]!.extensions?.code ?? 'NO_CODE') : 'OK';
    };
    const hostile = await HostileTenant.prepare(send, aEventIds);

    let attacking = true;
    const attackLoopDelay = monitorEventLoopDelay({ resolution: 10 });
    attackLoopDelay.enable();
    const attacks = hostile.attack(() => !attacking);
    let underAttack: Awaited<ReturnType<typeof publishAtSteadyRate>>;
    try {
      underAttack = await publishAtSteadyRate(b.token, ATTACK_MS, 'attack');
    } finally {
      attacking = false;
      await attacks;
      attackLoopDelay.disable();
    }

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
        `deepest admitted query events(first: ${hostile.admittedEvents}); its calls: ${JSON.stringify(hostile.summary())}`,
    );
    // A got contract answers, never INTERNAL_SERVER_ERROR, and each kind of hostile request was
    // made and answered as its defence says.
    expect(hostile.unexpected()).toEqual([]);
    const outcomes = hostile.outcomes();
    expect(Object.keys(outcomes).sort()).toEqual(Object.keys(EXPECTED_OUTCOMES).sort());
    expect(outcomes['createEventType past a limit']).toContain('BAD_USER_INPUT');
    expect(outcomes['publish backtracking bait']).toContain('BAD_USER_INPUT');
    expect(outcomes['createEventType near the limits']).toContain('OK');
    // Replays loop until the quota refuses them (the other attacks may have spent it first).
    expect(outcomes['replayEvent']).toContain('QUOTA_EXCEEDED');
    expect(outcomes['deepest query the cost limit admits']).toEqual(['OK']);
  }, 90_000);
});
