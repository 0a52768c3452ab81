/**
 * Migrations: from an empty database, and from the previous release's schema with data in it.
 *
 * The previous release is drizzle migrations 0000 + 0001, applied with drizzle's own migrator
 * from a temporary folder that holds just those files and their journal entries. Rows are
 * written in the oldest shape first (0000 alone: delivery attempts without `outcome`), then
 * 0001 is applied (it backfills `outcome`), more rows are written in that shape, and then the
 * full `applyMigrations` runs. The data must survive and the new constraints must hold.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHooklane } from '../../src/app.js';
import { signHs256Token } from '../../src/auth/jwt.js';
import { loadConfig } from '../../src/config.js';
import { connectDatabase } from '../../src/db/client.js';
import { applyMigrations, MIGRATIONS_FOLDER } from '../../src/db/migrate.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase } from '../support/database.js';
import { TEST_JWT_SECRET } from '../support/hooklane.js';

const TABLES = ['tenants', 'event_types', 'subscriptions', 'events', 'deliveries', 'delivery_attempts', 'tenant_usage', 'audit_log'];
const RLS_TABLES = ['tenants', 'tenant_usage', 'audit_log', 'event_types', 'subscriptions', 'events', 'deliveries', 'delivery_attempts'];

interface Journal {
  entries: { idx: number; tag: string; when: number }[];
}

/** A copy of the migrations folder holding only the first `count` migrations and their journal entries. */
function partialMigrationsFolder(count: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hooklane-migrations-'));
  mkdirSync(path.join(dir, 'meta'));
  const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, 'meta/_journal.json'), 'utf8')) as Journal;
  const entries = journal.entries.slice(0, count);
  for (const entry of entries) {
    cpSync(path.join(MIGRATIONS_FOLDER, `${entry.tag}.sql`), path.join(dir, `${entry.tag}.sql`));
    cpSync(path.join(MIGRATIONS_FOLDER, `meta/${entry.tag.slice(0, 4)}_snapshot.json`), path.join(dir, `meta/${entry.tag.slice(0, 4)}_snapshot.json`));
  }
  writeFileSync(path.join(dir, 'meta/_journal.json'), JSON.stringify({ ...journal, entries }, null, 2));
  return dir;
}

async function migrateTo(url: string, count: number): Promise<void> {
  const folder = partialMigrationsFolder(count);
  const client = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await migrate(drizzle(client), { migrationsFolder: folder });
  } finally {
    await client.end();
    rmSync(folder, { recursive: true, force: true });
  }
}

async function applyAll(url: string): Promise<void> {
  const owner = connectDatabase(url, { max: 1 });
  try {
    await applyMigrations(owner.db, url);
  } finally {
    await owner.close();
  }
}

/** The SQLSTATE a statement fails with, or 'ok'. */
async function sqlState(sql: Sql, statement: string): Promise<string> {
  try {
    await sql.unsafe(statement);
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

describe('migrations from an empty database', () => {
  let url: string;
  let sql: Sql;

  beforeAll(async () => {
    url = await createTestDatabase();
    await applyAll(url);
    sql = postgres(url, { max: 2, onnotice: () => {} });
  });

  afterAll(async () => {
    await sql?.end();
  });

  it('creates every table, with row-level security and both policies on each tenant table', async () => {
    const tables = await sql<{ table_name: string }[]>`select table_name from information_schema.tables where table_schema = 'public'`;
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(TABLES));
    const rls = await sql<{ relname: string; relrowsecurity: boolean }[]>`
      select relname, relrowsecurity from pg_class where relnamespace = 'public'::regnamespace and relname = any(${RLS_TABLES})`;
    expect(rls).toHaveLength(RLS_TABLES.length);
    for (const table of rls) expect(table.relrowsecurity, table.relname).toBe(true);
    const policies = await sql<{ tablename: string; policyname: string }[]>`select tablename, policyname from pg_policies where schemaname = 'public'`;
    for (const table of RLS_TABLES) {
      const names = policies.filter((p) => p.tablename === table).map((p) => p.policyname);
      expect(names, table).toEqual(expect.arrayContaining(['tenant_isolation', 'platform_access']));
    }
  });

  it('creates the constraints that back the invariants', async () => {
    const constraints = await sql<{ conname: string; contype: string }[]>`
      select conname, contype from pg_constraint where connamespace = 'public'::regnamespace`;
    const names = constraints.map((c) => c.conname);
    // PostgreSQL cuts identifiers at 63 bytes: so are the long foreign key names drizzle-kit wrote.
    expect(names).toEqual(
      expect.arrayContaining(
        [
        'delivery_attempts_tenant_id_delivery_id_deliveries_tenant_id_id_fk',
        'deliveries_attempt_count_nonnegative',
        'delivery_attempts_duration_nonnegative',
        'event_types_name_format',
        'subscriptions_has_secret',
        'subscriptions_rate_limit_positive',
        'subscriptions_max_in_flight_positive',
        'tenant_usage_events_nonnegative',
        ].map((name) => name.slice(0, 63)),
      ),
    );
    // Events' and deliveries' references are kept by triggers acting once per statement (migration 0015).
    const triggers = await sql<{ tgname: string }[]>`select tgname from pg_trigger where not tgisinternal`;
    expect(triggers.map((t) => t.tgname)).toEqual(
      expect.arrayContaining([
        'events_tenant_exists',
        'events_references_fixed',
        'tenants_delete_events',
        'deliveries_references_exist',
        'deliveries_references_fixed',
        'subscriptions_delete_deliveries',
        'events_delete_deliveries',
      ]),
    );
    const [outcome] = await sql<{ is_nullable: string }[]>`
      select is_nullable from information_schema.columns where table_name = 'delivery_attempts' and column_name = 'outcome'`;
    expect(outcome!.is_nullable).toBe('NO');
  });

  it('creates the application role, graphile-worker schema and the enqueue function', async () => {
    const [role] = await sql<{ n: number }[]>`select count(*)::int as n from pg_roles where rolname = 'hooklane_app' and not rolbypassrls`;
    expect(role!.n).toBe(1);
    const [schema] = await sql<{ n: number }[]>`select count(*)::int as n from information_schema.schemata where schema_name = 'graphile_worker'`;
    expect(schema!.n).toBe(1);
    const [fn] = await sql<{ n: number }[]>`select count(*)::int as n from pg_proc where proname = 'hooklane_enqueue_jobs' and prosecdef`;
    expect(fn!.n).toBe(1);
  });

  it('is idempotent: applying again changes nothing and fails nothing', async () => {
    const before = await sql<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`;
    await applyAll(url);
    const after = await sql<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`;
    expect(after[0]!.n).toBe(before[0]!.n);
  });
});

describe('migrations from the previous release (0000 + 0001) with data', () => {
  let url: string;
  let sql: Sql;

  beforeAll(async () => {
    url = await createTestDatabase();
    sql = postgres(url, { max: 2, onnotice: () => {} });

    // The oldest shape: 0000 alone. Attempts have no outcome column yet.
    await migrateTo(url, 1);
    await sql.unsafe(`
      insert into tenants (id, name) values ('ten_old_a', 'Old A'), ('ten_old_b', 'Old B');
      insert into event_types (id, tenant_id, name, description) values
        ('et_a', 'ten_old_a', 'invoice.paid', 'paid'), ('et_b', 'ten_old_b', 'invoice.paid', null);
      insert into subscriptions (id, tenant_id, url, event_types, description, enabled, secrets) values
        ('sub_a', 'ten_old_a', 'https://example.com/a', '{invoice.paid}', 'old sub', true, '{whsec_MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=}'),
        ('sub_b', 'ten_old_b', 'https://example.com/b', '{invoice.paid}', null, false, '{whsec_MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=}');
      insert into events (id, tenant_id, event_type, body, idempotency_key) values
        ('evt_a', 'ten_old_a', 'invoice.paid', '{"type":"invoice.paid","timestamp":"2024-01-01T00:00:00.000Z","data":{"n":1}}', 'key-1'),
        ('evt_b', 'ten_old_b', 'invoice.paid', '{"type":"invoice.paid","timestamp":"2024-01-01T00:00:00.000Z","data":{"n":2}}', null);
      insert into deliveries (id, tenant_id, event_id, subscription_id, status, attempt_count, next_attempt_at) values
        ('dlv_a1', 'ten_old_a', 'evt_a', 'sub_a', 'SUCCEEDED', 2, null),
        ('dlv_a2', 'ten_old_a', 'evt_a', 'sub_a', 'FAILED', 3, null),
        ('dlv_b1', 'ten_old_b', 'evt_b', 'sub_b', 'PENDING', 0, now() + interval '1 hour');
      insert into delivery_attempts (id, tenant_id, delivery_id, status_code, error, duration_ms, response_body) values
        ('att_1', 'ten_old_a', 'dlv_a1', 500, null, 12, 'boom'),
        ('att_2', 'ten_old_a', 'dlv_a1', 204, null, 8, ''),
        ('att_3', 'ten_old_a', 'dlv_a2', null, 'timed out after 15000ms', 15000, null),
        ('att_4', 'ten_old_a', 'dlv_a2', null, 'refused: 10.0.0.1 is a private address', 0, null),
        ('att_5', 'ten_old_a', 'dlv_a2', null, 'ECONNRESET', 3, null);`);

    // The previous release: 0000 + 0001. It backfills outcome; rows written now have one.
    await migrateTo(url, 2);
    await sql.unsafe(`
      insert into deliveries (id, tenant_id, event_id, subscription_id, status, attempt_count, ordering_key, claimed_until) values
        ('dlv_a3', 'ten_old_a', 'evt_a', 'sub_a', 'HELD', 1, 'order-1', null);
      insert into delivery_attempts (id, tenant_id, delivery_id, status_code, error, duration_ms, outcome) values
        ('att_6', 'ten_old_a', 'dlv_a3', 429, null, 5, 'RATE_LIMITED');
      update subscriptions set rate_limit = 5, max_in_flight = 2, retry_schedule_ms = '{1000,2000}' where id = 'sub_a';`);

    // This release.
    await applyAll(url);
  });

  afterAll(async () => {
    await sql?.end();
  });

  it('keeps every row', async () => {
    const [counts] = await sql<Record<string, number>[]>`
      select (select count(*) from tenants)::int as tenants, (select count(*) from event_types)::int as event_types,
        (select count(*) from subscriptions)::int as subscriptions, (select count(*) from events)::int as events,
        (select count(*) from deliveries)::int as deliveries, (select count(*) from delivery_attempts)::int as attempts`;
    expect(counts).toEqual({ tenants: 2, event_types: 2, subscriptions: 2, events: 2, deliveries: 4, attempts: 6 });
    const [sub] = await sql<{ url: string; rate_limit: number; max_in_flight: number; retry_schedule_ms: number[]; enabled: boolean }[]>`
      select url, rate_limit, max_in_flight, retry_schedule_ms, enabled from subscriptions where id = 'sub_a'`;
    expect(sub).toEqual({ url: 'https://example.com/a', rate_limit: 5, max_in_flight: 2, retry_schedule_ms: [1000, 2000], enabled: true });
    const [event] = await sql<{ body: string; idempotency_key: string }[]>`select body, idempotency_key from events where id = 'evt_a'`;
    expect(JSON.parse(event!.body)).toEqual({ type: 'invoice.paid', timestamp: '2024-01-01T00:00:00.000Z', data: { n: 1 } });
    expect(event!.idempotency_key).toBe('key-1');
  });

  it('gives the old attempts an outcome from what they recorded', async () => {
    const rows = await sql<{ id: string; outcome: string }[]>`select id, outcome::text from delivery_attempts order by id`;
    expect(Object.fromEntries(rows.map((r) => [r.id, r.outcome]))).toEqual({
      att_1: 'HTTP_ERROR',
      att_2: 'SUCCESS',
      att_3: 'TIMEOUT',
      att_4: 'REFUSED',
      att_5: 'CONNECTION_ERROR',
      att_6: 'RATE_LIMITED',
    });
  });

  it('fills the new columns with their defaults', async () => {
    const tenants = await sql<{ status: string }[]>`select status::text from tenants`;
    expect(tenants.every((t) => t.status === 'ACTIVE')).toBe(true);
    const subs = await sql<{ ordered: boolean; payload_mode: string; failed_deliveries_in_row: number }[]>`
      select ordered, payload_mode::text, failed_deliveries_in_row from subscriptions`;
    for (const sub of subs) expect(sub).toEqual({ ordered: false, payload_mode: 'FULL', failed_deliveries_in_row: 0 });
  });

  it('serves the migrated data through the API, to its own tenant only', async () => {
    const config = loadConfig({
      DATABASE_URL: url,
      PORT: '0',
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      ROLE: 'api',
      LOG_LEVEL: 'silent',
      DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'hooklane-migrated-')),
    });
    const app = await startHooklane(config, createLogger('silent'));
    try {
      const ask = async (tenantId: string, id: string) => {
        const token = await signHs256Token(TEST_JWT_SECRET, { sub: 'u', tenant_id: tenantId }, { expiresIn: '5m' });
        const response = await fetch(app.graphqlUrl!, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: 'query($id: ID!) { event(id: $id) { id payload deliveries { id status attempts { statusCode } } } }', variables: { id } }),
        });
        return (await response.json()) as { data?: { event: any }; errors?: unknown[] };
      };
      const own = await ask('ten_old_a', 'evt_a');
      expect(own.errors).toBeUndefined();
      expect(own.data!.event.payload).toEqual({ n: 1 });
      const statuses = own.data!.event.deliveries.map((d: { status: string }) => d.status).sort();
      // HELD is newer than the contract's enum; whatever it is shown as, the delivery is there.
      expect(statuses).toHaveLength(3);
      expect(statuses).toEqual(expect.arrayContaining(['FAILED', 'SUCCEEDED']));
      const other = await ask('ten_old_b', 'evt_a');
      expect(other.data?.event ?? null).toBeNull();
    } finally {
      await app.stop();
    }
  });

  it('enforces the invariants with constraints', async () => {
    // A delivery of tenant B pointing at tenant A's event: the references check refuses it.
    expect(await sqlState(sql, `insert into deliveries (id, tenant_id, event_id, subscription_id) values ('dlv_x', 'ten_old_b', 'evt_a', 'sub_b')`)).toBe('23503');
    // … and at tenant A's subscription.
    expect(await sqlState(sql, `insert into deliveries (id, tenant_id, event_id, subscription_id) values ('dlv_y', 'ten_old_b', 'evt_b', 'sub_a')`)).toBe('23503');
    // An attempt filed under another tenant's delivery.
    expect(await sqlState(sql, `insert into delivery_attempts (id, tenant_id, delivery_id, duration_ms, outcome) values ('att_x', 'ten_old_b', 'dlv_a1', 1, 'SUCCESS')`)).toBe('23503');
    expect(await sqlState(sql, `update deliveries set attempt_count = -1 where id = 'dlv_a1'`)).toBe('23514');
    expect(await sqlState(sql, `insert into delivery_attempts (id, tenant_id, delivery_id, duration_ms, outcome) values ('att_y', 'ten_old_a', 'dlv_a1', -5, 'SUCCESS')`)).toBe('23514');
    expect(await sqlState(sql, `insert into delivery_attempts (id, tenant_id, delivery_id, duration_ms) values ('att_z', 'ten_old_a', 'dlv_a1', 1)`)).toBe('23502');
    for (const name of ['bad name', 'invoice..paid', '.invoice', 'invoice.', 'a/b', "x'; drop table events; --", '']) {
      expect(await sqlState(sql, `insert into event_types (id, tenant_id, name) values ('et_bad', 'ten_old_a', '${name.replace(/'/g, "''")}')`), name).toBe('23514');
    }
    expect(await sqlState(sql, `insert into event_types (id, tenant_id, name) values ('et_dup', 'ten_old_a', 'invoice.paid')`)).toBe('23505');
    expect(await sqlState(sql, `update subscriptions set secrets = '{}' where id = 'sub_a'`)).toBe('23514');
    expect(await sqlState(sql, `update subscriptions set rate_limit = 0 where id = 'sub_a'`)).toBe('23514');
    expect(await sqlState(sql, `insert into events (id, tenant_id, event_type, body, idempotency_key) values ('evt_dup', 'ten_old_a', 'invoice.paid', '{}', 'key-1')`)).toBe('23505');
    // Deleting a tenant takes everything of it and nothing of anyone else.
    await sql`delete from tenants where id = 'ten_old_b'`;
    const [left] = await sql<{ b: number; a: number }[]>`
      select (select count(*) from deliveries where tenant_id = 'ten_old_b')::int as b, (select count(*) from deliveries where tenant_id = 'ten_old_a')::int as a`;
    expect(left).toEqual({ b: 0, a: 3 });
  });
});
