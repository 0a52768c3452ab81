import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { connectDatabase } from '../../src/db/client.js';
import { runnerPoolConfig } from '../../src/worker/runner.js';
import { tenantWithEventType } from '../support/fixtures.js';
import { createTestDatabase } from '../support/database.js';
import { createSubscription, publish } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

interface CommitMode {
  table: string;
  operation: string;
  mode: string;
  application: string;
}

/**
 * Records, for every statement that writes the watched tables, the synchronous_commit its
 * transaction commits with and the pool (application_name) it came from.
 */
async function watchCommitModes(hooklane: TestHooklane): Promise<() => Promise<CommitMode[]>> {
  await hooklane.sql.unsafe(`
    create table test_commit_modes (tbl text, op text, mode text, app text);
    create function test_record_commit_mode() returns trigger language plpgsql security definer as $$
    begin
      insert into test_commit_modes values (TG_TABLE_NAME, TG_OP, current_setting('synchronous_commit'), current_setting('application_name'));
      return null;
    end $$;
    create trigger test_events_mode after insert on events for each statement execute function test_record_commit_mode();
    create trigger test_claims_mode after update on deliveries for each statement execute function test_record_commit_mode();
    create trigger test_attempts_mode after insert on delivery_attempts for each statement execute function test_record_commit_mode();
    create trigger test_jobs_mode after delete on graphile_worker._private_jobs for each statement execute function test_record_commit_mode();
  `);
  return async () =>
    (await hooklane.sql<CommitMode[]>`select distinct tbl as table, op as operation, mode, app as application from test_commit_modes order by 1, 2`).map(
      (row) => ({ ...row }),
    );
}

async function deliverOne(hooklane: TestHooklane, receiver: TestReceiver) {
  const tenant = await tenantWithEventType(hooklane);
  await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'] });
  const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { n: 1 } });
  await receiver.waitForRequests(1);
  // Recorded and its job completed: the last of the worker's writes for this delivery (the
  // retention sweep's next run waits in the queue meanwhile).
  await eventually(async () => {
    const [row] = await hooklane.sql<{ done: boolean }[]>`
      select d.status = 'SUCCEEDED' and not exists (
        select 1 from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
        where t.identifier <> 'retention_sweep') as done
      from deliveries d where d.event_id = ${event.id}`;
    return row?.done ? true : undefined;
  });
}

describe('WORKER_ASYNC_COMMIT: the worker commits without waiting for the WAL flush; publishing always waits', () => {
  const receivers: TestReceiver[] = [];
  const instances: TestHooklane[] = [];
  afterAll(async () => {
    await Promise.all(instances.map((hooklane) => hooklane.stop()));
    await Promise.all(receivers.map((receiver) => receiver.close()));
  });

  it('defaults to on and reads false', () => {
    expect(loadConfig({}).worker.asyncCommit).toBe(true);
    expect(loadConfig({ WORKER_ASYNC_COMMIT: 'false' }).worker.asyncCommit).toBe(false);
    expect(() => loadConfig({ WORKER_ASYNC_COMMIT: 'sometimes' })).toThrow(/WORKER_ASYNC_COMMIT/);
  });

  it('by default, ROLE=all: the publish commits synchronously, with the claim of the first attempt it hands over; the attempt, its record and the job completion asynchronously, from the worker pools', async () => {
    const hooklane = await startTestHooklane();
    instances.push(hooklane);
    const receiver = await TestReceiver.start();
    receivers.push(receiver);
    const modes = await watchCommitModes(hooklane);

    await deliverOne(hooklane, receiver);

    expect(await modes()).toEqual([
      { table: '_private_jobs', operation: 'DELETE', mode: 'off', application: 'hooklane-worker' },
      { table: 'deliveries', operation: 'UPDATE', mode: 'off', application: 'hooklane-worker' },
      { table: 'deliveries', operation: 'UPDATE', mode: 'on', application: 'hooklane' },
      { table: 'delivery_attempts', operation: 'INSERT', mode: 'off', application: 'hooklane-worker' },
      { table: 'events', operation: 'INSERT', mode: 'on', application: 'hooklane' },
    ]);
  });

  it('WORKER_HANDOFF=false, ROLE=all: the publish commits synchronously; the claim, the attempt and the job completion asynchronously, from the worker pools', async () => {
    const hooklane = await startTestHooklane({ WORKER_HANDOFF: 'false' });
    instances.push(hooklane);
    const receiver = await TestReceiver.start();
    receivers.push(receiver);
    const modes = await watchCommitModes(hooklane);

    await deliverOne(hooklane, receiver);

    expect(await modes()).toEqual([
      { table: '_private_jobs', operation: 'DELETE', mode: 'off', application: 'hooklane-worker' },
      { table: 'deliveries', operation: 'UPDATE', mode: 'off', application: 'hooklane-worker' },
      { table: 'delivery_attempts', operation: 'INSERT', mode: 'off', application: 'hooklane-worker' },
      { table: 'events', operation: 'INSERT', mode: 'on', application: 'hooklane' },
    ]);
  });

  it('WORKER_ASYNC_COMMIT=false: every commit waits for the flush', async () => {
    const hooklane = await startTestHooklane({ WORKER_ASYNC_COMMIT: 'false' });
    instances.push(hooklane);
    const receiver = await TestReceiver.start();
    receivers.push(receiver);
    const modes = await watchCommitModes(hooklane);

    await deliverOne(hooklane, receiver);

    const seen = await modes();
    expect([...new Set(seen.map((row) => row.table))]).toEqual(['_private_jobs', 'deliveries', 'delivery_attempts', 'events']);
    expect(seen.every((row) => row.mode === 'on')).toBe(true);
  });

  it('the pools take the setting as a startup parameter', async () => {
    const databaseUrl = await createTestDatabase();
    const showOn = async (asyncCommit: boolean) => {
      const client = connectDatabase(databaseUrl, { max: 1, asyncCommit });
      const pool = new pg.Pool(runnerPoolConfig({ databaseUrl, concurrency: 1, asyncCommit }));
      try {
        const [fromPostgresJs] = await client.sql<{ synchronous_commit: string }[]>`show synchronous_commit`;
        const fromPg = await pool.query<{ synchronous_commit: string }>('show synchronous_commit');
        return [fromPostgresJs!.synchronous_commit, fromPg.rows[0]!.synchronous_commit];
      } finally {
        await client.close();
        await pool.end();
      }
    };
    expect(await showOn(true)).toEqual(['off', 'off']);
    expect(await showOn(false)).toEqual(['on', 'on']);
  });
});
