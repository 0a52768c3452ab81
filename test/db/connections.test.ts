/**
 * The connection counts docs/scaling.md sizes max_connections with, measured in pg_stat_activity
 * with two ROLE=api and two ROLE=worker instances on one database (each started as `npm start`
 * starts a process, with pools of its own). An API pool is driven to its ceiling by requests that
 * wait on a lock the test holds; the workers deliver with every slot held open at the receiver.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_POOL_SIZE, WORKER_POOL_SIZE } from '../../src/app.js';
import { createTestDatabase } from '../support/database.js';
import { createEventType, createSubscription, gqlData, publish } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, testWorker, type TestHooklane } from '../support/hooklane.js';
import { Hold, TestReceiver } from '../support/receiver.js';
import type { Hooklane } from '../../src/app.js';

const WORKER_CONCURRENCY = 4;
/** graphile-worker's pool: max(10, WORKER_CONCURRENCY) (src/worker/runner.ts). */
const GRAPHILE_POOL = Math.max(10, WORKER_CONCURRENCY);

let databaseUrl: string;
let observer: postgres.Sql;
const apis: TestHooklane[] = [];
const workers: Hooklane[] = [];
let receiver: TestReceiver;

async function connectionsByApplication(): Promise<Record<string, number>> {
  const rows = await observer<{ application_name: string; count: number }[]>`
    select application_name, count(*)::int as count from pg_stat_activity
    where datname = current_database() and pid <> pg_backend_pid() group by application_name`;
  return Object.fromEntries(rows.map((row) => [row.application_name, row.count]));
}

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  observer = postgres(databaseUrl, { max: 1, onnotice: () => {}, connection: { application_name: 'test-observer' } });
  receiver = await TestReceiver.start();
  for (let i = 0; i < 2; i++) apis.push(await startTestHooklane({ ROLE: 'api' }, {}, { databaseUrl }));
}, 60_000);

afterAll(async () => {
  for (const worker of workers) await worker.stop();
  for (const api of apis) await api.stop();
  await receiver?.close();
  await observer?.end();
});

describe('connections per process', { timeout: 60_000 }, () => {
  it(`a ROLE=api process opens at most ${API_POOL_SIZE} connections, all named hooklane, none for a worker`, async () => {
    const [api1, api2] = apis as [TestHooklane, TestHooklane];
    const tenant = await api1.createTenant();
    await createEventType(api1, tenant.token, { name: 'anything' });
    const subscriptionId = (await createSubscription(api1, tenant.token, { url: receiver.url, eventTypes: ['anything'] })).subscription.id;
    const query = 'query($id: ID!) { subscription(id: $id) { id } }';

    // Every request that reaches the subscriptions table waits for this lock, holding its connection.
    const locker = postgres(databaseUrl, { max: 1, onnotice: () => {}, connection: { application_name: 'test-locker' } });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const locked = new Promise<void>((resolveLocked, rejectLocked) => {
      locker
        .begin(async (tx) => {
          await tx`lock table subscriptions in access exclusive mode`;
          resolveLocked();
          await released;
        })
        .catch(rejectLocked);
    });
    await locked;
    const requests = [api1, api2].flatMap((api) =>
      Array.from({ length: API_POOL_SIZE + 10 }, () => gqlData<{ subscription: { id: string } | null }>(api, tenant.token, query, { id: subscriptionId })),
    );
    try {
      // Each process's pool fills up to its ceiling; the requests beyond it wait in the process, not in PostgreSQL.
      const waiting = await eventually(
        async () => {
          const [row] = await observer<{ count: number }[]>`
            select count(*)::int as count from pg_stat_activity
            where datname = current_database() and application_name = 'hooklane' and wait_event_type = 'Lock'`;
          return row!.count === 2 * API_POOL_SIZE ? row!.count : undefined;
        },
        20_000,
        `${2 * API_POOL_SIZE} API connections waiting on the lock`,
      );
      expect(waiting).toBe(2 * API_POOL_SIZE);
      const counts = await connectionsByApplication();
      expect(counts.hooklane).toBe(2 * API_POOL_SIZE);
      expect(counts['hooklane-worker']).toBeUndefined();
    } finally {
      release();
      await locker.end();
    }
    for (const answer of await Promise.all(requests)) expect(answer.subscription?.id).toBe(subscriptionId);
    expect((await connectionsByApplication()).hooklane).toBe(2 * API_POOL_SIZE);
  });

  it('ROLE=worker processes connect as hooklane-worker, within max(10, WORKER_CONCURRENCY) + 20 each, and deliver what the API processes accept', async () => {
    const env = {
      WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
      WORKER_SUBSCRIPTION_SHARE: '1',
      WORKER_TENANT_SHARE: '1',
      DELIVERY_TIMEOUT: '30s',
    };
    const startWorker = testWorker(databaseUrl, env);
    for (let i = 0; i < 2; i++) workers.push(await startWorker());
    const [api1, api2] = apis as [TestHooklane, TestHooklane];
    const tenant = await api1.createTenant();
    await createEventType(api1, tenant.token, { name: 'load.test' });
    await createSubscription(api1, tenant.token, { url: receiver.url, eventTypes: ['load.test'] });
    const hold = new Hold();
    receiver.replyWith({ status: 200, heldUntil: hold.released });
    const before = receiver.requests.length;
    const events = 3 * WORKER_CONCURRENCY;
    try {
      for (let i = 0; i < events; i++) await publish(i % 2 === 0 ? api1 : api2, tenant.token, { eventType: 'load.test', payload: { i } });
      // Every slot of both workers is busy: the receiver holds 2 × WORKER_CONCURRENCY requests.
      await eventually(async () => (receiver.inFlight === 2 * WORKER_CONCURRENCY ? true : undefined), 20_000, 'every worker slot in flight');
      const counts = await connectionsByApplication();
      expect(counts['hooklane-worker']).toBeGreaterThanOrEqual(2);
      expect(counts['hooklane-worker']).toBeLessThanOrEqual(2 * (GRAPHILE_POOL + WORKER_POOL_SIZE));
      expect(counts.hooklane).toBeLessThanOrEqual(2 * API_POOL_SIZE);
      const [alive] = await observer<{ count: number }[]>`select count(*)::int as count from hooklane_worker_heartbeats`;
      expect(alive!.count).toBe(2);
    } finally {
      hold.release();
    }
    await eventually(async () => (receiver.requests.length - before === events ? true : undefined), 30_000, 'every event delivered');
    // A request reaches the receiver before its attempt is recorded: wait for the records.
    await eventually(async () => {
      const [pending] = await observer<{ count: number }[]>`
        select count(*)::int as count from deliveries where tenant_id = ${tenant.id} and status <> 'SUCCEEDED'`;
      return pending!.count === 0 ? true : undefined;
    }, 30_000, 'every delivery recorded SUCCEEDED');
  });
});
