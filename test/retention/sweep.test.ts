/**
 * The retention sweep (src/retention/sweep.ts) against a real database, with a short retention
 * (RETENTION=1m, RETENTION_SWEEP_INTERVAL=30s: 1 minute windows) and the sweep's clock moved forward:
 * rows are written at chosen times, with ids made at those times, then one sweep runs and what is
 * left is read back. Each scenario writes at its own time, ten minutes after the previous one's.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idAt, type IdKind } from '../../src/ids.js';
import { sweepRetention, type SweepOptions } from '../../src/retention/sweep.js';
import { createMigratedDatabase } from '../support/database.js';

const RETENTION = { defaultMs: 60_000, sweepIntervalMs: 30_000 };
const MINUTE = 60_000;

let url: string;
let sql: Sql;
let owner: pg.Client;
let start: number;
let scenarios = 0;

/** An id of `kind` made at `at`, as newId would have made it then. */
function idMadeAt(kind: IdKind, at: number): string {
  return `${idAt(kind, new Date(at))}7${randomBytes(2).toString('hex').slice(1)}8${randomBytes(8).toString('hex').slice(1)}`;
}

/**
 * A time of its own for a scenario, half an hour after the previous one's (whose sweeps look at most
 * 25 minutes ahead), on a whole second: the start of a window, which the next five minutes of
 * windows follow (created as the sweeps of a running Hooklane would, a little ahead each time).
 */
async function scenarioTime(): Promise<number> {
  const at = start + ++scenarios * 30 * MINUTE;
  for (let now = at; now <= at + 5 * MINUTE; now += MINUTE) {
    await sql`select hooklane_create_partitions(${RETENTION.defaultMs}::bigint, ${RETENTION.sweepIntervalMs}::bigint, ${new Date(now)})`;
  }
  return at;
}

function sweep(at: number, options: Partial<SweepOptions> = {}) {
  return sweepRetention(owner, { ...RETENTION, now: new Date(at), ...options });
}

async function tenant(retention: string | null = null): Promise<string> {
  const id = idMadeAt('tenant', Date.now());
  await sql`insert into tenants (id, name, quota_retention_ms) values (${id}, 'retention', ${retention === null ? null : Number(retention)})`;
  return id;
}

async function subscription(tenantId: string): Promise<string> {
  const id = idMadeAt('subscription', Date.now());
  await sql`insert into subscriptions (id, tenant_id, url, event_types, secrets) values (${id}, ${tenantId}, 'https://example.com', '{a.b}', '{whsec_x}')`;
  return id;
}

async function event(tenantId: string, at: number, idempotencyKey: string | null = null): Promise<string> {
  const id = idMadeAt('event', at);
  await sql`insert into events (id, tenant_id, event_type, body, idempotency_key, created_at)
    values (${id}, ${tenantId}, 'a.b', '{}', ${idempotencyKey}, ${new Date(at)})`;
  return id;
}

async function delivery(tenantId: string, eventId: string, subscriptionId: string, at: number, status: string): Promise<string> {
  const id = idMadeAt('delivery', at);
  await sql`insert into deliveries (id, tenant_id, event_id, subscription_id, status, created_at)
    values (${id}, ${tenantId}, ${eventId}, ${subscriptionId}, ${status}::delivery_status, ${new Date(at)})`;
  await sql`insert into delivery_attempts (id, tenant_id, delivery_id, status_code, duration_ms, outcome)
    values (${idMadeAt('attempt', at + 1_000)}, ${tenantId}, ${id}, 500, 3, 'HTTP_ERROR')`;
  return id;
}

/** What is left of these events, deliveries and their attempts, and of a tenant's idempotency keys. */
async function left(tenantId: string) {
  const [row] = await sql<{ events: string[]; deliveries: string[]; attempts: number; keys: string[] }[]>`
    select coalesce((select array_agg(id order by id) from events where tenant_id = ${tenantId}), '{}') as events,
      coalesce((select array_agg(id order by id) from deliveries where tenant_id = ${tenantId}), '{}') as deliveries,
      (select count(*)::int from delivery_attempts where tenant_id = ${tenantId}) as attempts,
      coalesce((select array_agg(idempotency_key order by idempotency_key) from event_idempotency_keys where tenant_id = ${tenantId}), '{}') as keys`;
  return row!;
}

/** The partition of events that holds an event. */
async function partitionOf(eventId: string): Promise<string> {
  const [row] = await sql<{ partition: string }[]>`select tableoid::regclass::text as partition from events where id = ${eventId}`;
  return row!.partition;
}

async function windows() {
  return sql<{ table_name: string; partition_name: string; window_name: string; from_at: Date | null; to_at: Date | null }[]>`
    select table_name, partition_name, window_name, from_at, to_at from hooklane_partition_windows()`;
}

async function sqlState(statement: Promise<unknown>): Promise<string> {
  try {
    await statement;
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

beforeAll(async () => {
  url = await createMigratedDatabase({ retention: RETENTION });
  sql = postgres(url, { max: 3, onnotice: () => {} });
  owner = new pg.Client({ connectionString: url });
  await owner.connect();
  const [row] = await sql<{ now: Date }[]>`select now()`;
  start = Math.ceil(row!.now.getTime() / 1_000) * 1_000;
});

afterAll(async () => {
  await owner?.end();
  await sql?.end({ timeout: 5 });
});

describe('time windows', () => {
  it('are created ahead, three widths past now, the same bounds in events, deliveries and attempts', async () => {
    const at = await scenarioTime();
    const report = await sweep(at + 20 * MINUTE);
    expect(report.ran).toBe(true);
    expect(report.partitionsCreated).toBeGreaterThan(0);
    const all = await windows();
    const ends = (table: string) =>
      all.filter((w) => w.table_name === table && w.window_name.startsWith('p')).map((w) => `${w.from_at!.toISOString()}-${w.to_at!.toISOString()}`);
    expect(ends('deliveries')).toEqual(ends('events'));
    expect(ends('delivery_attempts')).toEqual(ends('events'));
    const newest = Math.max(...all.filter((w) => w.to_at).map((w) => w.to_at!.getTime()));
    // RETENTION=1m and a 30 s sweep: 1 minute windows (an eighth of 1m rounded down is 5 s, but at
    // least two sweep intervals), three minutes ahead.
    expect(newest - (at + 20 * MINUTE)).toBeGreaterThanOrEqual(2 * MINUTE);
    const regular = all.find((w) => w.table_name === 'events' && w.from_at!?.getTime() > at + 20 * MINUTE);
    expect(regular!.to_at!.getTime() - regular!.from_at!.getTime()).toBe(MINUTE);
    // Nothing older than the horizon is left to drop but the windows before this test's first.
    expect(report.windowsKept).toEqual([]);
  });

  it('route each row to the window its id names', async () => {
    const at = await scenarioTime();
    const tenantId = await tenant();
    const eventId = await event(tenantId, at);
    const [row] = await sql<{ partition: string }[]>`select tableoid::regclass::text as partition from events where id = ${eventId}`;
    const named = (await windows()).find((w) => w.partition_name === row!.partition)!;
    expect(named.from_at!.getTime()).toBeLessThanOrEqual(at);
    expect(named.to_at!.getTime()).toBeGreaterThan(at);
  });
});

describe('a window past every tenant’s horizon', () => {
  it('is dropped whole, with its events, deliveries, attempts and idempotency keys; newer rows stay', async () => {
    const at = await scenarioTime();
    const tenantId = await tenant();
    const subscriptionId = await subscription(tenantId);
    const old = await event(tenantId, at, 'key-old');
    await delivery(tenantId, old, subscriptionId, at, 'SUCCEEDED');
    const recent = await event(tenantId, at + 2 * MINUTE, 'key-recent');
    const recentDelivery = await delivery(tenantId, recent, subscriptionId, at + 2 * MINUTE, 'FAILED');
    const partition = await partitionOf(old);

    const report = await sweep(at + 2 * MINUTE + 30_000);

    expect(report.windowsDropped).toContain(partition.replace(/^events_/, ''));
    expect(await left(tenantId)).toEqual({ events: [recent], deliveries: [recentDelivery], attempts: 1, keys: ['key-recent'] });
    const names = (await windows()).map((w) => w.partition_name);
    for (const table of ['events', 'deliveries', 'delivery_attempts']) expect(names).not.toContain(partition.replace(/^events/, table));
    const [gone] = await sql<{ n: number }[]>`select count(*)::int as n from pg_class where relname = ${partition}`;
    expect(gone!.n).toBe(0);
    // The key of a dropped event is free again; the other is still taken.
    expect(await sqlState(event(tenantId, at + 2 * MINUTE + 1_000, 'key-old'))).toBe('ok');
    expect(await sqlState(event(tenantId, at + 2 * MINUTE + 1_000, 'key-recent'))).toBe('23505');
  });

  it('is kept while it holds a delivery still PENDING or HELD, emptied around it, and dropped once they end', async () => {
    const at = await scenarioTime();
    const tenantId = await tenant();
    const subscriptionId = await subscription(tenantId);
    const pending = await event(tenantId, at);
    const pendingDelivery = await delivery(tenantId, pending, subscriptionId, at, 'PENDING');
    const held = await event(tenantId, at + 100);
    const heldDelivery = await delivery(tenantId, held, subscriptionId, at + 100, 'HELD');
    const done = await event(tenantId, at + 200, 'key-done');
    await delivery(tenantId, done, subscriptionId, at + 200, 'SUCCEEDED');
    const partition = await partitionOf(pending);
    const windowName = partition.replace(/^events_/, '');

    const first = await sweep(at + 3 * MINUTE);
    expect(first.windowsKept).toContain(windowName);
    expect(first.windowsDropped).not.toContain(windowName);
    expect(first.eventsDeleted).toBeGreaterThanOrEqual(1);
    expect(await left(tenantId)).toEqual({ events: [pending, held], deliveries: [pendingDelivery, heldDelivery], attempts: 2, keys: [] });

    await sql`update deliveries set status = 'SUCCEEDED' where id = ${pendingDelivery}`;
    expect((await sweep(at + 3 * MINUTE + 5_000)).windowsKept).toContain(windowName);
    expect((await left(tenantId)).events).toEqual([held]);

    await sql`update deliveries set status = 'FAILED' where id = ${heldDelivery}`;
    const last = await sweep(at + 3 * MINUTE + 10_000);
    expect(last.windowsDropped).toContain(windowName);
    expect(await left(tenantId)).toEqual({ events: [], deliveries: [], attempts: 0, keys: [] });
  });

  it('takes along the deliveries of its events made in later windows (a replay), unless one is still to end', async () => {
    const at = await scenarioTime();
    const tenantId = await tenant();
    const subscriptionId = await subscription(tenantId);
    const replayed = await event(tenantId, at);
    await delivery(tenantId, replayed, subscriptionId, at, 'SUCCEEDED');
    const replay = await delivery(tenantId, replayed, subscriptionId, at + 2 * MINUTE, 'PENDING');

    // The replay is PENDING: the event's window stays, and so does the event.
    const kept = await sweep(at + 2 * MINUTE + 5_000);
    expect((await left(tenantId)).events).toEqual([replayed]);
    expect(kept.windowsKept.length).toBeGreaterThan(0);

    await sql`update deliveries set status = 'SUCCEEDED' where id = ${replay}`;
    const dropped = await sweep(at + 2 * MINUTE + 10_000);
    expect(dropped.laterDeliveriesDeleted).toBeGreaterThanOrEqual(1);
    expect(await left(tenantId)).toEqual({ events: [], deliveries: [], attempts: 0, keys: [] });
  });
});

describe('a tenant with a shorter retention than the longest', () => {
  it('loses its older events within partitions, in batches, and no other tenant’s', async () => {
    const at = await scenarioTime();
    const short = await tenant(String(MINUTE));
    const long = await tenant();
    const shortSubscription = await subscription(short);
    const longSubscription = await subscription(long);
    const expired: string[] = [];
    for (let i = 0; i < 7; i++) {
      const id = await event(short, at + i * 100, `short-${i}`);
      await delivery(short, id, shortSubscription, at + i * 100, 'SUCCEEDED');
      expired.push(id);
    }
    const waiting = await event(short, at + 800);
    const waitingDelivery = await delivery(short, waiting, shortSubscription, at + 800, 'PENDING');
    const young = await event(short, at + 2 * MINUTE);
    const longs = [await event(long, at), await event(long, at + 100)];
    await delivery(long, longs[0]!, longSubscription, at, 'SUCCEEDED');

    // The deployment keeps events an hour: no window of this hour is past every horizon, the short
    // tenant's rows go one by one.
    const report = await sweep(at + 2 * MINUTE + 30_000, { defaultMs: 60 * MINUTE, batchSize: 3 });
    expect(report.eventsDeleted).toBeGreaterThanOrEqual(7);
    expect(report.complete).toBe(true);
    expect(await left(short)).toEqual({ events: [waiting, young], deliveries: [waitingDelivery], attempts: 1, keys: [] });
    expect((await left(long)).events).toEqual(longs);
    expect((await left(long)).deliveries).toHaveLength(1);
  });

  it('stops at the sweep’s time budget and goes on at the next sweep', async () => {
    const at = await scenarioTime();
    const short = await tenant(String(MINUTE));
    for (let i = 0; i < 4; i++) await event(short, at + i * 100);
    const cut = await sweep(at + 2 * MINUTE, { defaultMs: 60 * MINUTE, batchSize: 1, deleteBudgetMs: 0 });
    expect(cut.complete).toBe(false);
    const rest = await sweep(at + 2 * MINUTE, { defaultMs: 60 * MINUTE, batchSize: 1 });
    expect(rest.complete).toBe(true);
    expect((await left(short)).events).toEqual([]);
  });
});

describe('idempotency keys', () => {
  it('stay unique per tenant across partitions, and free once their event is gone', async () => {
    const at = await scenarioTime();
    const tenantId = await tenant();
    const other = await tenant();
    await event(tenantId, at, 'once');
    // Another window, the same key: refused as a unique key refuses it; another tenant may use it.
    expect(await sqlState(event(tenantId, at + MINUTE, 'once'))).toBe('23505');
    expect(await sqlState(event(other, at + MINUTE, 'once'))).toBe('ok');
    await sweep(at + 3 * MINUTE);
    expect(await sqlState(event(tenantId, at + 3 * MINUTE, 'once'))).toBe('ok');
  });
});

describe('the sweep itself', () => {
  it('finishes a drop that stopped half way: a partition detached but not dropped', async () => {
    const at = await scenarioTime();
    const [window] = await sql<{ partition_name: string }[]>`
      select partition_name from hooklane_partition_windows() where table_name = 'delivery_attempts' and from_at > ${new Date(at)} order by from_at limit 1`;
    await owner.query(`alter table delivery_attempts detach partition ${window!.partition_name}`);
    expect((await windows()).find((w) => w.partition_name === window!.partition_name)).toMatchObject({ window_name: expect.any(String) });
    await sweep(at);
    const [present] = await sql<{ n: number }[]>`select count(*)::int as n from pg_class where relname = ${window!.partition_name}`;
    expect(present!.n).toBe(0);
  });

  it('runs one at a time', async () => {
    const at = await scenarioTime();
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    try {
      await other.query(`select pg_advisory_lock(hashtext('hooklane.retention_sweep'))`);
      expect((await sweep(at)).ran).toBe(false);
      await other.query(`select pg_advisory_unlock(hashtext('hooklane.retention_sweep'))`);
      expect((await sweep(at)).ran).toBe(true);
    } finally {
      await other.end();
    }
  });

  it('makes publishing and delivery wait for nothing while it waits to detach a partition', async () => {
    const at = await scenarioTime();
    const tenantId = await tenant();
    const subscriptionId = await subscription(tenantId);
    const old = await event(tenantId, at);
    await delivery(tenantId, old, subscriptionId, at, 'SUCCEEDED');
    const pendingEvent = await event(tenantId, at + 3 * MINUTE);
    const pending = await delivery(tenantId, pendingEvent, subscriptionId, at + 3 * MINUTE, 'PENDING');

    // A long read holds its snapshot of events: detaching a partition CONCURRENTLY waits for it.
    const reader = new pg.Client({ connectionString: url });
    await reader.connect();
    try {
      await reader.query('begin isolation level repeatable read');
      await reader.query('select count(*) from events');
      let swept = false;
      const sweeping = sweep(at + 3 * MINUTE + 1_000).finally(() => {
        swept = true;
      });
      // The drop has begun: the old window is being detached.
      await expect
        .poll(async () => (await sql<{ n: number }[]>`select count(*)::int as n from pg_inherits where inhdetachpending`)[0]!.n, { timeout: 20_000 })
        .toBeGreaterThan(0);
      // Meanwhile an event is published and a delivery claimed and recorded, at once.
      await event(tenantId, at + 3 * MINUTE + 500);
      const claimed = await sql`select id from hooklane_claim_deliveries(${tenantId}, ${JSON.stringify([pending])}::text::json, 60000, false)`;
      expect(claimed.map((row) => row.id)).toEqual([pending]);
      await sql`select hooklane_record_attempts(${tenantId}, ${JSON.stringify([
        {
          id: idMadeAt('attempt', at + 3 * MINUTE + 600),
          delivery_id: pending,
          status_code: 200,
          outcome: 'SUCCESS',
          error: null,
          duration_ms: 1,
          response_body: '',
          status: 'SUCCEEDED',
          next_attempt_at: null,
        },
      ])}::text::json)`;
      expect(swept).toBe(false);
      await reader.query('commit');
      const report = await sweeping;
      expect(report.windowsDropped.length).toBeGreaterThan(0);
      expect((await left(tenantId)).events).not.toContain(old);
    } finally {
      await reader.end();
    }
  });
});
