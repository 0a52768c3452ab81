/**
 * Retention as an operator sets it: RETENTION and RETENTION_SWEEP_INTERVAL, a tenant's own
 * retention through updateTenantQuotas, and the sweep running on its own in a started Hooklane
 * (and partitions kept ahead by a process that runs no worker).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createEventType, mutate, publish } from '../support/graphql-helpers.js';
import { startTestHooklane, type TestHooklane } from '../support/hooklane.js';

const started: TestHooklane[] = [];

afterAll(async () => {
  await Promise.all(started.map((hooklane) => hooklane.stop()));
});

async function start(env: Record<string, string>): Promise<TestHooklane> {
  const hooklane = await startTestHooklane(env);
  started.push(hooklane);
  return hooklane;
}

/** The end of the newest time window of events. */
async function newestWindowEnd(hooklane: TestHooklane): Promise<number> {
  const [row] = await hooklane.sql<{ end: Date }[]>`select max(to_at) as end from hooklane_partition_windows() where table_name = 'events'`;
  return row!.end.getTime();
}

describe('RETENTION and RETENTION_SWEEP_INTERVAL', () => {
  it('default to 30d and 1h', () => {
    expect(loadConfig({}).retention).toEqual({ defaultMs: 30 * 86_400_000, sweepIntervalMs: 3_600_000 });
  });

  it('take durations: RETENTION from 1m to 400d, the interval from 1s to 1d', () => {
    expect(loadConfig({ RETENTION: '1m', RETENTION_SWEEP_INTERVAL: '5s' }).retention).toEqual({ defaultMs: 60_000, sweepIntervalMs: 5_000 });
    expect(loadConfig({ RETENTION: '400d' }).retention.defaultMs).toBe(400 * 86_400_000);
    for (const [name, value] of [
      ['RETENTION', '59s'],
      ['RETENTION', '401d'],
      ['RETENTION', 'a week'],
      ['RETENTION_SWEEP_INTERVAL', '500ms'],
      ['RETENTION_SWEEP_INTERVAL', '2d'],
    ] as const) {
      expect(() => loadConfig({ [name]: value }), `${name}=${value}`).toThrow(ConfigError);
      expect(() => loadConfig({ [name]: value }), `${name}=${value}`).toThrow(new RegExp(`${name}:`));
    }
  });
});

describe('a tenant’s retention', () => {
  const QUOTAS = 'tenant { id quotas { retention publishRate } }';
  let hooklane: TestHooklane;

  beforeAll(async () => {
    hooklane = await start({ RETENTION: '14d' });
  });

  it('is RETENTION until an operator sets its own with updateTenantQuotas, and RETENTION again when set to null', async () => {
    const tenant = await hooklane.createTenant('kept');
    const set = async (retention: string | null) =>
      (await mutate<{ tenant: { quotas: { retention: string } } }>(hooklane, hooklane.adminToken, 'updateTenantQuotas', { tenantId: tenant.id, retention }, QUOTAS))
        .tenant.quotas.retention;
    const seen = async () => (await hooklane.gql(tenant.token, '{ tenant { quotas { retention } } }')).data!.tenant.quotas.retention;

    expect(await seen()).toBe('14d');
    expect(await set('7d')).toBe('7d');
    expect(await seen()).toBe('7d');
    expect(await set('90m')).toBe('90m');
    expect(await set('36h')).toBe('36h');
    const [row] = await hooklane.sql<{ ms: string }[]>`select quota_retention_ms::text as ms from tenants where id = ${tenant.id}`;
    expect(row!.ms).toBe(String(36 * 3_600_000));
    expect(await set(null)).toBe('14d');
  });

  it('is refused outside 1m..400d or when it is no duration, naming the field and changing nothing', async () => {
    const tenant = await hooklane.createTenant('refused');
    await mutate(hooklane, hooklane.adminToken, 'updateTenantQuotas', { tenantId: tenant.id, retention: '2d', publishRate: 7 }, QUOTAS);
    for (const retention of ['30s', '401d', '7 days', '', '-1d']) {
      const response = await hooklane.gql(
        hooklane.adminToken,
        'mutation($input: UpdateTenantQuotasInput!) { updateTenantQuotas(input: $input) { tenant { id } } }',
        { input: { tenantId: tenant.id, retention, publishRate: 9 } },
      );
      expect(response.errors?.[0]?.extensions?.code, retention).toBe('BAD_USER_INPUT');
      expect(response.errors?.[0]?.extensions?.field, retention).toBe('retention');
    }
    const [row] = await hooklane.sql<{ ms: string; rate: number }[]>`select quota_retention_ms::text as ms, quota_publish_rate as rate from tenants where id = ${tenant.id}`;
    expect(row).toEqual({ ms: String(2 * 86_400_000), rate: 7 });
  });

  it('is the operator’s to set: a tenant token is FORBIDDEN', async () => {
    const tenant = await hooklane.createTenant('self-serve');
    const response = await hooklane.gql(tenant.token, 'mutation($input: UpdateTenantQuotasInput!) { updateTenantQuotas(input: $input) { tenant { id } } }', {
      input: { tenantId: tenant.id, retention: '400d' },
    });
    expect(response.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('an idempotency key whose event ages out while a publish uses it', () => {
  it('is free again: the publish makes a new event; a key that stays taken by an event that is gone is a CONFLICT', async () => {
    const hooklane = await start({});
    const tenant = await hooklane.createTenant('aged keys');
    await createEventType(hooklane, tenant.token, { name: 'aged.key' });
    // Keys whose event is gone, as between a sweep's deletion of an event and of its key. The
    // sweep takes 'k-aged' away during the publish's write (a trigger standing for it); 'k-stuck' stays.
    await hooklane.sql`insert into event_idempotency_keys (tenant_id, idempotency_key, event_id) values
      (${tenant.id}, 'k-aged', 'evt_gone_1'), (${tenant.id}, 'k-stuck', 'evt_gone_2')`;
    await hooklane.sql.unsafe(`
      create function test_sweep_takes_key() returns trigger language plpgsql as $$
      begin
        delete from event_idempotency_keys where idempotency_key = 'k-aged' and event_id = 'evt_gone_1';
        return null;
      end $$;
      create trigger test_sweep_takes_key after insert on event_idempotency_keys for each statement execute function test_sweep_takes_key();`);

    const aged = await publish(hooklane, tenant.token, { eventType: 'aged.key', payload: { n: 1 }, idempotencyKey: 'k-aged' });
    expect(aged.id).not.toBe('evt_gone_1');
    const [key] = await hooklane.sql<{ event_id: string }[]>`
      select event_id from event_idempotency_keys where tenant_id = ${tenant.id} and idempotency_key = 'k-aged'`;
    expect(key!.event_id).toBe(aged.id);
    const again = await publish(hooklane, tenant.token, { eventType: 'aged.key', payload: { n: 2 }, idempotencyKey: 'k-aged' });
    expect(again.id).toBe(aged.id);

    const stuck = await hooklane.gql(tenant.token, 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }', {
      input: { eventType: 'aged.key', payload: { n: 3 }, idempotencyKey: 'k-stuck' },
    });
    expect(stuck.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });
});

describe('the retention sweep in a running Hooklane', () => {
  it('is one job (key retention-sweep) that runs again every interval and keeps the windows ahead of time', async () => {
    const hooklane = await start({ RETENTION: '1m', RETENTION_SWEEP_INTERVAL: '1s' });
    const first = await newestWindowEnd(hooklane);
    // Windows are created ahead as time goes by: the sweep keeps running.
    await expect.poll(() => newestWindowEnd(hooklane), { timeout: 20_000, interval: 250 }).toBeGreaterThan(first);
    const jobs = await hooklane.sql<{ key: string | null }[]>`select key from graphile_worker.jobs where task_identifier = 'retention_sweep'`;
    expect(jobs.filter((job) => job.key === 'retention-sweep')).toHaveLength(1);
    expect(jobs.length).toBeLessThanOrEqual(2); // the one waiting, and the one running now (its key given up)
  });

  it('in a process without a worker (ROLE=api), windows are still created ahead', async () => {
    const hooklane = await start({ ROLE: 'api', RETENTION: '1m', RETENTION_SWEEP_INTERVAL: '1s' });
    const first = await newestWindowEnd(hooklane);
    await expect.poll(() => newestWindowEnd(hooklane), { timeout: 20_000, interval: 250 }).toBeGreaterThan(first);
    const [jobs] = await hooklane.sql<{ n: number }[]>`select count(*)::int as n from graphile_worker.jobs where task_identifier = 'retention_sweep'`;
    expect(jobs!.n).toBe(0);
  });
});
