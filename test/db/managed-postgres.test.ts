/**
 * Running on a managed PostgreSQL (docs/scaling.md#managed-postgresql): Hooklane migrates and runs
 * as a login role that owns its database and has neither SUPERUSER nor CREATEROLE. Without the
 * right to grant hooklane_app it starts with row-level security off and says so; once an operator
 * grants the role, the next start gives it its rights and the application's connections take it on.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { APP_ROLE, APP_TABLE_PRIVILEGES, MIGRATIONS_FOLDER } from '../../src/db/migrate.js';
import { createEventType, createSubscription, gqlData, publish, waitForDelivery } from '../support/graphql-helpers.js';
import { startTestHooklane, type TestHooklane } from '../support/hooklane.js';
import { TestReceiver } from '../support/receiver.js';

const serverUrl = inject('postgresUrl');
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
const suffix = randomBytes(4).toString('hex');
const owner = `hooklane_owner_${suffix}`;
const database = `hooklane_managed_${suffix}`;
const OWNER_PASSWORD = 'owner-password-for-the-test';
const ROLE_NOT_AVAILABLE = 'the hooklane_app role is not available: row-level security is not enforced';

let ownerUrl: string;
let receiver: TestReceiver;

beforeAll(async () => {
  receiver = await TestReceiver.start();
  // What a provider's admin user does: a login role without SUPERUSER or CREATEROLE, owning the database.
  await admin.unsafe(`create role ${owner} login password '${OWNER_PASSWORD}' nosuperuser nocreaterole nocreatedb`);
  await admin.unsafe(`create database ${database} owner ${owner}`);
  // The role is the server's, not the database's: another installation (or test) may have made it already.
  await admin.unsafe(`do $$ begin create role ${APP_ROLE} nologin nobypassrls; exception when duplicate_object or unique_violation then null; end $$`);
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  url.username = owner;
  url.password = OWNER_PASSWORD;
  ownerUrl = url.toString();
});

afterAll(async () => {
  await receiver?.close();
  await admin.unsafe(`drop database if exists ${database} with (force)`).catch(() => {});
  await admin.unsafe(`drop owned by ${owner} cascade`).catch(() => {});
  await admin.unsafe(`drop role if exists ${owner}`).catch(() => {});
  await admin.end();
});

async function startLogged(): Promise<{ hooklane: TestHooklane; log: string[] }> {
  const log: string[] = [];
  const hooklane = await startTestHooklane({ LOG_LEVEL: 'warn' }, {}, { databaseUrl: ownerUrl, logDestination: { write: (line: string) => void log.push(line) } });
  return { hooklane, log };
}

describe('a database owner without SUPERUSER or CREATEROLE', { timeout: 60_000 }, () => {
  let tenant: { id: string; token: string };
  let subscriptionId: string;

  it('migrates and runs everything; without hooklane_app, row-level security is off, with a warning that says so', async () => {
    const { hooklane, log } = await startLogged();
    try {
      expect(log.join('\n')).toContain(ROLE_NOT_AVAILABLE);
      const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, 'meta/_journal.json'), 'utf8')) as { entries: unknown[] };
      const [applied] = await hooklane.sql<{ count: number; graphile: boolean }[]>`
        select (select count(*)::int from drizzle.__drizzle_migrations) as count,
          exists (select from pg_namespace where nspname = 'graphile_worker') as graphile`;
      expect(applied).toEqual({ count: journal.entries.length, graphile: true });

      tenant = await hooklane.createTenant('managed');
      await createEventType(hooklane, tenant.token, { name: 'order.created' });
      subscriptionId = (await createSubscription(hooklane, tenant.token, { url: receiver.url, eventTypes: ['order.created'] })).subscription.id;
      const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { managed: true } });
      await waitForDelivery(hooklane, tenant.token, event.deliveries[0]!.id, 'SUCCEEDED');
    } finally {
      await hooklane.stop();
    }
  });

  it('once an operator grants hooklane_app, the next start gives it its rights and runs under row-level security', async () => {
    await admin.unsafe(`grant ${APP_ROLE} to ${owner}`);
    const { hooklane, log } = await startLogged();
    try {
      expect(log.join('\n')).not.toContain(ROLE_NOT_AVAILABLE);
      // The application's connections run as hooklane_app now: the rows written before are all there.
      const found = await gqlData<{ subscription: { id: string } | null }>(hooklane, tenant.token, 'query($id: ID!) { subscription(id: $id) { id } }', {
        id: subscriptionId,
      });
      expect(found.subscription?.id).toBe(subscriptionId);
      const event = await publish(hooklane, tenant.token, { eventType: 'order.created', payload: { managed: 'again' } });
      await waitForDelivery(hooklane, tenant.token, event.deliveries[0]!.id, 'SUCCEEDED');

      // The role sees no row without a tenant declared: row-level security applies to it.
      const asOwner = postgres(ownerUrl, { max: 1, onnotice: () => {}, connection: { role: APP_ROLE } as Record<string, string> });
      try {
        const [row] = await asOwner<{ count: number; role: string }[]>`select count(*)::int as count, current_user as role from subscriptions`;
        expect(row).toEqual({ count: 0, role: APP_ROLE });
      } finally {
        await asOwner.end();
      }
    } finally {
      await hooklane.stop();
    }
  });

  it('hooklane_app holds exactly APP_TABLE_PRIVILEGES, every tenant table in full', async () => {
    const sql = postgres(ownerUrl, { max: 1, onnotice: () => {} });
    try {
      const grants = await sql<{ table: string; privileges: string[] }[]>`
        select g.table_name as table, array_agg(g.privilege_type::text order by g.privilege_type) as privileges
        from information_schema.role_table_grants g
        join pg_class c on c.relname = g.table_name and c.relnamespace = 'public'::regnamespace
        where g.grantee = ${APP_ROLE} and g.table_schema = 'public' and not c.relispartition
        group by g.table_name`;
      const expected = Object.fromEntries(Object.entries(APP_TABLE_PRIVILEGES).map(([table, privileges]) => [table, [...privileges].sort()]));
      expect(Object.fromEntries(grants.map((row) => [row.table, row.privileges]))).toEqual(expected);

      const tenantTables = await sql<{ name: string }[]>`
        select c.relname as name from pg_class c
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and not c.relispartition
          and (c.relname = 'tenants' or exists (select from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped))`;
      expect(tenantTables.length).toBeGreaterThan(5);
      for (const { name } of tenantTables) expect(APP_TABLE_PRIVILEGES[name], name).toEqual(['SELECT', 'INSERT', 'UPDATE', 'DELETE']);
    } finally {
      await sql.end();
    }
  });
});
