import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventType, createSubscriptionWith, mutate, publishBatch, updateSubscription } from '../support/graphql-helpers.js';
import { startTestHooklane, type TestHooklane } from '../support/hooklane.js';

const T0 = Date.parse('2031-05-01T12:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms);

/** A deterministic pseudo-random sequence in [0, 1). */
function seeded(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

// hooklane_admit_flow, the flow control every worker shares, on a clock the test sets: what
// `rateLimit: N` means, and how deliveries turned away get their turns.
describe('subscription flow control (hooklane_admit_flow)', () => {
  let hooklane: TestHooklane;
  let tenantId: string;
  let token: string;

  beforeAll(async () => {
    hooklane = await startTestHooklane();
    const tenant = await hooklane.createTenant();
    tenantId = tenant.id;
    token = tenant.token;
    await createEventType(hooklane, token, { name: 'flow.tested' });
  });
  afterAll(async () => {
    await hooklane?.stop();
  });

  /**
   * A subscription with these limits and `count` deliveries that no worker touches (the
   * subscription is disabled: they are HELD); the test sets their state by hand.
   */
  const subscriptionWith = async (limits: Record<string, unknown>, count = 0) => {
    const { subscription } = await createSubscriptionWith(hooklane, token, {
      url: 'http://127.0.0.1:9/unused',
      eventTypes: ['flow.tested'],
      ...limits,
    });
    await updateSubscription(hooklane, token, { id: subscription.id, enabled: false });
    if (count > 0) {
      const published = await publishBatch(hooklane, token, Array.from({ length: count }, (_, n) => ({ eventType: 'flow.tested', payload: { n } })));
      expect(published.errors).toBeUndefined();
    }
    const rows = await hooklane.sql<{ id: string }[]>`select id from deliveries where subscription_id = ${subscription.id} order by id`;
    return { id: subscription.id, deliveryIds: rows.map((row) => row.id) };
  };

  const admit = async (
    subscriptionId: string,
    deliveryId: string,
    limits: { rateLimit?: number; maxInFlight?: number; attemptMs?: number },
    when: Date,
  ) => {
    const [row] = await hooklane.sql<{ wait_ms: number; reason: string | null }[]>`
      select wait_ms, reason from hooklane_admit_flow(${tenantId}, ${subscriptionId}, ${deliveryId},
        ${limits.rateLimit ?? null}::integer, ${limits.maxInFlight ?? null}::integer, ${limits.attemptMs ?? 100}::float8, null, ${when})`;
    return row!;
  };

  it('rateLimit: N — a burst of N at once, then nothing more until one second after the first start', async () => {
    const { id, deliveryIds } = await subscriptionWith({ rateLimit: 5 }, 1);
    // A delivery that has waited its turn already (the line does not hold it back).
    await hooklane.sql`update deliveries set next_attempt_at = ${at(0)} where id = ${deliveryIds[0]!}`;
    for (let n = 0; n < 5; n++) expect(await admit(id, 'fresh', { rateLimit: 5 }, at(n * 10))).toEqual({ wait_ms: 0, reason: null });

    // A token bucket of 5 per second would admit a sixth 200 ms later: the window holds 5 already.
    const refused = await admit(id, deliveryIds[0]!, { rateLimit: 5 }, at(200));
    expect(refused.reason).toBe('rate_limit');
    // Its turn: once the first start (in the 10 ms tick at 0) has left the window, 1.01 s after it.
    expect(refused.wait_ms).toBe(810);
    expect((await admit(id, deliveryIds[0]!, { rateLimit: 5 }, at(1_005))).reason).toBe('rate_limit');
    expect(await admit(id, deliveryIds[0]!, { rateLimit: 5 }, at(1_010))).toEqual({ wait_ms: 0, reason: null });
    // The second start of the burst (at 10 ms) has not left yet.
    expect((await admit(id, deliveryIds[0]!, { rateLimit: 5 }, at(1_015))).reason).toBe('rate_limit');
  });

  it('rateLimit: N — no window of one second ever holds more than N starts, and a saturated subscription gets N per 1.01 s', async () => {
    const limit = 7;
    const { id, deliveryIds } = await subscriptionWith({ rateLimit: limit }, 1);
    await hooklane.sql`update deliveries set next_attempt_at = ${at(0)} where id = ${deliveryIds[0]!}`;
    const random = seeded(42);
    const admitted: number[] = [];
    // Deliveries that have waited their turn, asking at random moments (bursts and gaps) for 10 s.
    for (let time = 0; time < 10_000; time += Math.floor(random() * (random() < 0.2 ? 400 : 25))) {
      const { wait_ms: waitMs } = await admit(id, deliveryIds[0]!, { rateLimit: limit }, at(time));
      if (waitMs === 0) admitted.push(time);
    }
    for (const start of admitted) {
      const inWindow = admitted.filter((time) => time >= start && time < start + 1_000).length;
      expect(inWindow, `starts in [${start}, ${start + 1_000}) ms`).toBeLessThanOrEqual(limit);
    }
    // Asked often enough to saturate it: it got close to its rate (7 per 1.01 s over 10 s, give or take the gaps).
    expect(admitted.length).toBeGreaterThan((limit * 10_000) / 1_010 - 2 * limit);
  });

  it('deliveries turned away get turns one spacing apart, and a fresh one joins the end of the line', async () => {
    const { id, deliveryIds } = await subscriptionWith({ rateLimit: 5 }, 1);
    for (let n = 0; n < 5; n++) expect((await admit(id, 'fresh', { rateLimit: 5 }, at(0))).wait_ms).toBe(0);
    const turns: number[] = [];
    for (let n = 0; n < 4; n++) {
      const refused = await admit(id, `fresh-${n}`, { rateLimit: 5 }, at(100));
      expect(refused.reason).toBe('rate_limit');
      turns.push(100 + refused.wait_ms);
    }
    // The window frees its first place at 1.01 s; then one turn every 1.01 s / 5.
    expect(turns).toEqual([1_010, 1_212, 1_414, 1_616]);

    // At 1.3 s the window has room, but the line still waits (its last turn is at 1.616 s): a
    // delivery that has not waited yet goes to the end of it; one whose turn has come is admitted.
    const fresh = await admit(id, 'fresh-late', { rateLimit: 5 }, at(1_300));
    expect(1_300 + fresh.wait_ms).toBe(1_818);
    await hooklane.sql`update deliveries set next_attempt_at = ${at(1_212)} where id = ${deliveryIds[0]!}`;
    expect(await admit(id, deliveryIds[0]!, { rateLimit: 5 }, at(1_300))).toEqual({ wait_ms: 0, reason: null });
  });

  it('maxInFlight: M — counts the claims in flight, this one included; those turned away come back one attempt duration / M apart', async () => {
    const { id, deliveryIds } = await subscriptionWith({ maxInFlight: 2 }, 3);
    const claim = (ids: string[]) => hooklane.sql`update deliveries set counted_claim_until = now() + interval '1 hour' where id in ${hooklane.sql(ids)}`;
    await claim(deliveryIds.slice(0, 2));
    expect(await admit(id, deliveryIds[1]!, { maxInFlight: 2, attemptMs: 300 }, at(0))).toEqual({ wait_ms: 0, reason: null });
    await claim(deliveryIds);
    const waits: number[] = [];
    for (let n = 0; n < 3; n++) {
      const refused = await admit(id, deliveryIds[2]!, { maxInFlight: 2, attemptMs: 300 }, at(0));
      expect(refused.reason).toBe('max_in_flight');
      waits.push(refused.wait_ms);
    }
    expect(waits).toEqual([150, 300, 450]);
  });

  it('new limits start a new line', async () => {
    const { id } = await subscriptionWith({ rateLimit: 1 });
    expect((await admit(id, 'a', { rateLimit: 1 }, at(0))).wait_ms).toBe(0);
    expect((await admit(id, 'b', { rateLimit: 1 }, at(0))).wait_ms).toBe(1_010);
    expect((await admit(id, 'c', { rateLimit: 1 }, at(0))).wait_ms).toBe(2_020);
    await mutate(hooklane, token, 'updateSubscription', { id, rateLimit: 100 }, 'subscription { id rateLimit }');
    // The window still holds the start at 0 (it happened); the line is new.
    expect((await admit(id, 'd', { rateLimit: 100 }, at(10))).wait_ms).toBe(0);
  });
});
