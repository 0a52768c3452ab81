/**
 * DATABASE_READ_URL end to end. The "replica" is a copy of the primary's database made at one
 * moment (CREATE DATABASE … TEMPLATE), read by a login role of its own: what Hooklane reads from it
 * is the primary as it was then, like a replica that lags, so every answer shows which pool served
 * it. Lists, stats, the catalog, the audit log and the tenants list come from the copy; writes and
 * the reads that must see them (an object by id, a delivery's status) from the primary. Row-level
 * security and the tenant scope hold on the read pool, whose transactions are read-only.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { APP_ROLE } from '../../src/db/migrate.js';
import { openReadPool, READ_POOL_APPLICATION_NAME } from '../../src/db/read-pool.js';
import { TenantScope } from '../../src/db/tenant-scope.js';
import { createTestDatabase } from '../support/database.js';
import { BUILD_TIMEOUT_MS, ensureBuilt } from '../support/dist.js';
import { createEventType, createSubscription, gqlData, publish, waitForDelivery } from '../support/graphql-helpers.js';
import { eventually, startTestHooklane, tenantIdle, TEST_JWT_SECRET, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

const READER_PASSWORD = 'reader-password-for-the-test';
const serverUrl = inject('postgresUrl');
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
const readerRole = `hooklane_reader_${randomBytes(4).toString('hex')}`;

let receiver: TestReceiver;
let primaryUrl: string;
let replicaName: string;
let replicaUrl: string;
let t1: { id: string; token: string };
let t2: { id: string; token: string };
let sub1: string;
let sub2: string;
let event1: string;

function databaseUrl(database: string, user?: { name: string; password: string }): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  if (user) {
    url.username = user.name;
    url.password = user.password;
  }
  return url.toString();
}

const ids = (connection: { edges: { node: { id: string } }[] }) => connection.edges.map((edge) => edge.node.id);

async function tenantStatsDeliveries(hooklane: TestHooklane, token: string): Promise<number> {
  const data = await gqlData<{ tenant: { stats: { deliveries: number } } }>(hooklane, token, '{ tenant { stats { deliveries } } }');
  return data.tenant.stats.deliveries;
}

beforeAll(async () => {
  receiver = await TestReceiver.start();
  primaryUrl = await createTestDatabase();
  await admin.unsafe(`create role ${readerRole} login password '${READER_PASSWORD}'`);

  // The state the "replica" keeps: two tenants, a subscription each, one delivered event.
  const seeding = await startTestHooklane({}, {}, { databaseUrl: primaryUrl });
  try {
    t1 = await seeding.createTenant('one');
    t2 = await seeding.createTenant('two');
    for (const tenant of [t1, t2]) await createEventType(seeding, tenant.token, { name: 'order.created' });
    sub1 = (await createSubscription(seeding, t1.token, { url: receiver.url, eventTypes: ['order.created'] })).subscription.id;
    sub2 = (await createSubscription(seeding, t2.token, { url: receiver.url, eventTypes: ['order.created'] })).subscription.id;
    const event = await publish(seeding, t1.token, { eventType: 'order.created', payload: { n: 1 } });
    event1 = event.id;
    await waitForDelivery(seeding, t1.token, event.deliveries[0]!.id, 'SUCCEEDED');
    await eventually(async () => ((await tenantStatsDeliveries(seeding, t1.token)) === 1 ? true : undefined), 10_000, 'the stats of the first delivery');
    await tenantIdle(seeding, t1.id);
  } finally {
    await seeding.stop();
  }
  // A copy needs its template free of sessions: the pools just closed may take a moment to go.
  replicaName = `${new URL(primaryUrl).pathname.slice(1)}_replica`;
  await eventually(
    async () => {
      try {
        await admin.unsafe(`create database ${replicaName} template ${new URL(primaryUrl).pathname.slice(1)}`);
        return true;
      } catch (error) {
        if ((error as { code?: string }).code === '55006') return undefined; // object_in_use: a session still open
        throw error;
      }
    },
    15_000,
    'the primary to be free to copy',
  );
  replicaUrl = databaseUrl(replicaName, { name: readerRole, password: READER_PASSWORD });
}, 120_000);

afterAll(async () => {
  await receiver?.close();
  await admin.unsafe(`drop database if exists ${replicaName} with (force)`).catch(() => {});
  await admin.unsafe(`drop role if exists ${readerRole}`).catch(() => {});
  await admin.end();
});

describe('DATABASE_READ_URL', { timeout: 60_000 }, () => {
  it('start-up fails with the GRANT to run when the read URL\'s user may not take on hooklane_app', async () => {
    await expect(startTestHooklane({ DATABASE_READ_URL: replicaUrl }, {}, { databaseUrl: primaryUrl })).rejects.toThrow(
      `may not take on the role ${APP_ROLE}`,
    );
    await expect(startTestHooklane({ DATABASE_READ_URL: replicaUrl }, {}, { databaseUrl: primaryUrl })).rejects.toThrow(
      `GRANT ${APP_ROLE} TO ${readerRole}`,
    );
  });

  it('lists, stats, the catalog, the audit log and the tenants list read the read pool; writes and reads by id the primary', async () => {
    await admin.unsafe(`grant ${APP_ROLE} to ${readerRole}`);
    const hooklane = await startTestHooklane({ DATABASE_READ_URL: replicaUrl }, {}, { databaseUrl: primaryUrl });
    try {
      // Writes go to the primary, and a read by id right after one sees it.
      const created = await createSubscription(hooklane, t1.token, { url: receiver.url, eventTypes: ['order.created'] });
      const byId = await gqlData<{ subscription: { id: string } | null }>(hooklane, t1.token, 'query($id: ID!) { subscription(id: $id) { id } }', {
        id: created.subscription.id,
      });
      expect(byId.subscription?.id).toBe(created.subscription.id);
      await createEventType(hooklane, t1.token, { name: 'ledger.closed' });
      const event2 = await publish(hooklane, t1.token, { eventType: 'order.created', payload: { n: 2 } });
      expect(event2.deliveries).toHaveLength(2);
      for (const delivery of event2.deliveries) await waitForDelivery(hooklane, t1.token, delivery.id, 'SUCCEEDED');
      const byEventId = await gqlData<{ event: { id: string } | null }>(hooklane, t1.token, 'query($id: ID!) { event(id: $id) { id } }', { id: event2.id });
      expect(byEventId.event?.id).toBe(event2.id);
      const t3 = await hooklane.createTenant('three');

      // Lists come from the copy: the primary as it was, without what was just written.
      const lists = await gqlData<{
        subscriptions: { edges: { node: { id: string } }[] };
        events: { edges: { node: { id: string } }[] };
        eventTypes: { edges: { node: { name: string; id: string } }[] };
        auditLog: { edges: { node: { id: string; targetId: string | null } }[] };
        eventCatalog: unknown;
      }>(
        hooklane,
        t1.token,
        `{ subscriptions { edges { node { id } } } events { edges { node { id } } } eventTypes { edges { node { id name } } }
           auditLog { edges { node { id targetId } } } eventCatalog }`,
      );
      expect(ids(lists.subscriptions)).toEqual([sub1]);
      expect(ids(lists.events)).toEqual([event1]);
      const typeNames = lists.eventTypes.edges.map((edge) => edge.node.name);
      expect(typeNames).toContain('order.created');
      expect(typeNames).not.toContain('ledger.closed');
      expect(JSON.stringify(lists.eventCatalog)).toContain('order.created');
      expect(JSON.stringify(lists.eventCatalog)).not.toContain('ledger.closed');
      expect(lists.auditLog.edges.map((edge) => edge.node.targetId)).toContain(sub1);
      expect(lists.auditLog.edges.map((edge) => edge.node.targetId)).not.toContain(created.subscription.id);
      const tenants = await gqlData<{ tenants: { edges: { node: { id: string } }[] } }>(hooklane, hooklane.adminToken, '{ tenants { edges { node { id } } } }');
      expect(ids(tenants.tenants)).toEqual(expect.arrayContaining([t1.id, t2.id]));
      expect(ids(tenants.tenants)).not.toContain(t3.id);

      // Stats too: the copy holds one delivery of the tenant's, the primary three.
      expect(await tenantStatsDeliveries(hooklane, t1.token)).toBe(1);
      const [onPrimary] = await hooklane.sql<{ count: number }[]>`select count(*)::int as count from deliveries where tenant_id = ${t1.id}`;
      expect(onPrimary!.count).toBe(3);

      // The tenant scope holds on the read pool: the other tenant lists its own subscription only.
      const other = await gqlData<{ subscriptions: { edges: { node: { id: string } }[] } }>(hooklane, t2.token, '{ subscriptions { edges { node { id } } } }');
      expect(ids(other.subscriptions)).toEqual([sub2]);

      // The read pool's connections are the reader's, on the copy; none of them is on the primary.
      const sessions = await admin<{ datname: string; usename: string; application_name: string }[]>`
        select datname, usename, application_name from pg_stat_activity
        where usename = ${readerRole} or application_name = ${READ_POOL_APPLICATION_NAME}`;
      expect(sessions.length).toBeGreaterThan(0);
      for (const session of sessions) {
        expect(session).toEqual({ datname: replicaName, usename: readerRole, application_name: READ_POOL_APPLICATION_NAME });
      }
    } finally {
      await hooklane.stop();
    }
  });

  it('the read pool runs as hooklane_app under row-level security, and never writes', async () => {
    const reader = await openReadPool(replicaUrl, APP_ROLE, 2);
    try {
      // No tenant declared: row-level security shows no row, though the copy holds two.
      const [all] = await reader.sql<{ count: number; role: string }[]>`select count(*)::int as count, current_user as role from subscriptions`;
      expect(all).toEqual({ count: 0, role: APP_ROLE });
      // One tenant declared, another's rows asked for without the scope's filter: row-level security alone refuses them.
      const leaked = await reader.sql.begin(async (tx) => {
        await tx`select set_config('hooklane.tenant_id', ${t1.id}, true)`;
        return tx`select id from subscriptions where tenant_id = ${t2.id}`;
      });
      expect(leaked).toHaveLength(0);
      // The scoped stores work on the read pool as on the primary.
      const page = await new TenantScope(reader.db, t2.id).subscriptions.list({ first: 10, afterId: undefined });
      expect(page.items.map((row) => row.id)).toEqual([sub2]);
      // Read-only: a write fails in PostgreSQL, whatever server the URL names.
      const write = reader.sql.begin(async (tx) => {
        await tx`select set_config('hooklane.tenant_id', ${t1.id}, true)`;
        await tx`update subscriptions set description = 'written through the read pool' where id = ${sub1}`;
      });
      await expect(write).rejects.toMatchObject({ code: '25006' });
    } finally {
      await reader.close();
    }
  });
});

describe('hooklane doctor with DATABASE_READ_URL', { timeout: 120_000 }, () => {
  beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);

  const doctor = (env: Record<string, string>) =>
    new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      const bin = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
      const child = spawn(process.execPath, [bin, 'doctor'], {
        env: { PATH: process.env.PATH, LOG_LEVEL: 'silent', AUTH_JWT_SECRET: TEST_JWT_SECRET, SECRETS_KEY: Buffer.alloc(32, 7).toString('base64'), ...env },
      });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout }));
    });

  it('reports the read database: reachable, whether it accepts writes, whether its user may take on hooklane_app', async () => {
    await admin.unsafe(`grant ${APP_ROLE} to ${readerRole}`);
    const fine = await doctor({ DATABASE_URL: primaryUrl, DATABASE_READ_URL: replicaUrl });
    expect(fine.stdout).toMatch(/^! read database: .*\(DATABASE_READ_URL\) answers, but is not a replica: it accepts writes/m);
    expect(fine.stdout).not.toContain(READER_PASSWORD);
    expect(fine.code).toBe(0);

    await admin.unsafe(`revoke ${APP_ROLE} from ${readerRole}`);
    const refused = await doctor({ DATABASE_URL: primaryUrl, DATABASE_READ_URL: replicaUrl });
    expect(refused.stdout).toMatch(new RegExp(`^✗ read database: its user ${readerRole} may not take on ${APP_ROLE}`, 'm'));
    expect(refused.code).toBe(1);

    const unreachable = await doctor({ DATABASE_URL: primaryUrl, DATABASE_READ_URL: 'postgres://nobody:secret@127.0.0.1:1/none' });
    expect(unreachable.stdout).toMatch(/^✗ read database: postgres:\/\/nobody:\*\*\*@127\.0\.0\.1:1\/none \(DATABASE_READ_URL\) is not reachable/m);
    expect(unreachable.code).toBe(1);
  });
});
