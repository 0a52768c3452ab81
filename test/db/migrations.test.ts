/**
 * Migrations: a new database, and a database that earlier releases built.
 *
 * drizzle/0000_baseline.sql stands for the migrations 0000-0020 that earlier releases ran. Those
 * are kept, frozen, in test/fixtures/schema-0020 (drizzle/ with its journal, and startup.sql: what
 * those releases applied after their migrations at every start). The upgrade test builds a
 * database with them, with rows written at three points of its history (0000 alone: attempts
 * without `outcome`; 0000 + 0001, which backfills it; all of 0000-0020), then starts this release
 * on it: the data must survive, and the schema (tables, columns, types, constraints, indexes,
 * policies, triggers, functions and grants) must be the one a new database gets.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { Logger as GraphileLogger, runMigrations } from 'graphile-worker';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHooklane } from '../../src/app.js';
import { signHs256Token } from '../../src/auth/jwt.js';
import { loadConfig } from '../../src/config.js';
import { connectDatabase } from '../../src/db/client.js';
import { applyMigrations, MIGRATIONS_FOLDER, RETIRED_FUNCTIONS, SchemaTooOldError } from '../../src/db/migrate.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase } from '../support/database.js';
import { TEST_JWT_SECRET } from '../support/hooklane.js';

const TABLES = ['tenants', 'event_types', 'subscriptions', 'events', 'deliveries', 'delivery_attempts', 'tenant_usage', 'audit_log', 'delivery_stats', 'hooklane_worker_heartbeats'];
const RLS_TABLES = ['tenants', 'tenant_usage', 'audit_log', 'event_types', 'subscriptions', 'events', 'deliveries', 'delivery_attempts', 'delivery_stats'];
const OLD_SCHEMA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/schema-0020');

interface Journal {
  entries: { idx: number; version: string; tag: string; when: number; breakpoints: boolean }[];
}

function readJournal(folder: string): Journal {
  return JSON.parse(readFileSync(path.join(folder, 'meta/_journal.json'), 'utf8')) as Journal;
}

/** A migrations folder holding `entries` of `from` (and the journal that lists them), plus `extra` migrations. */
function migrationsFolder(from: string, count: number, extra: { tag: string; when: number; sql: string }[] = []): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hooklane-migrations-'));
  mkdirSync(path.join(dir, 'meta'));
  const journal = readJournal(from);
  const entries = journal.entries.slice(0, count);
  for (const entry of entries) cpSync(path.join(from, `${entry.tag}.sql`), path.join(dir, `${entry.tag}.sql`));
  for (const migration of extra) {
    writeFileSync(path.join(dir, `${migration.tag}.sql`), migration.sql);
    entries.push({ idx: entries.length, version: '7', when: migration.when, tag: migration.tag, breakpoints: true });
  }
  writeFileSync(path.join(dir, 'meta/_journal.json'), JSON.stringify({ ...journal, entries }, null, 2));
  return dir;
}

/** Runs drizzle's own migrator (as the releases did) with `folder`, then deletes the folder. */
async function migrateWith(url: string, folder: string): Promise<void> {
  const client = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await migrate(drizzle(client), { migrationsFolder: folder });
  } finally {
    await client.end();
    rmSync(folder, { recursive: true, force: true });
  }
}

/** The earlier releases' migrations 0000 .. count-1. */
async function migrateOldSchemaTo(url: string, count: number): Promise<void> {
  await migrateWith(url, migrationsFolder(path.join(OLD_SCHEMA, 'drizzle'), count));
}

/** What the releases of the old schema did at start after their migrations: graphile-worker's schema, then startup.sql. */
async function startOldRelease(url: string, sql: Sql): Promise<void> {
  await runMigrations({ connectionString: url, logger: new GraphileLogger(() => () => {}) });
  await sql.unsafe(readFileSync(path.join(OLD_SCHEMA, 'startup.sql'), 'utf8'));
}

/** This release's start-up migration. */
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

/** Everything of the public schema that a migration or a function file makes, as PostgreSQL shows it. */
async function describeSchema(sql: Sql) {
  return {
    columns: await sql`
      select c.relname as table, a.attname as column, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null,
        pg_get_expr(d.adbin, d.adrelid) as default
      from pg_attribute a join pg_class c on c.oid = a.attrelid left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
      order by c.relname, a.attnum`,
    relations: await sql`
      select relname, relkind, relrowsecurity, relforcerowsecurity, reloptions::text, relacl::text
      from pg_class where relnamespace = 'public'::regnamespace order by relname`,
    types: await sql`
      select t.typname, array_agg(e.enumlabel order by e.enumsortorder)::text as labels
      from pg_type t join pg_enum e on e.enumtypid = t.oid where t.typnamespace = 'public'::regnamespace group by t.typname order by t.typname`,
    constraints: await sql`
      select conrelid::regclass::text as table, conname, pg_get_constraintdef(oid) as definition
      from pg_constraint where connamespace = 'public'::regnamespace order by 1, 2`,
    indexes: await sql`select indexname, indexdef from pg_indexes where schemaname = 'public' order by indexname`,
    policies: await sql`
      select tablename, policyname, permissive, roles::text, cmd, qual, with_check from pg_policies where schemaname = 'public' order by 1, 2`,
    triggers: await sql`select tgname, pg_get_triggerdef(oid) as definition from pg_trigger where not tgisinternal order by 1`,
    functions: await sql`
      select p.oid::regprocedure::text as signature, pg_get_functiondef(p.oid) as definition, p.proacl::text as acl
      from pg_proc p where p.pronamespace = 'public'::regnamespace order by 1`,
    schemaGrants: await sql`select nspname, nspacl::text from pg_namespace where nspname = 'public'`,
  };
}

describe('migrations of a new database', () => {
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

  it('creates the constraints and triggers that back the invariants', async () => {
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
    // Events' and deliveries' references are kept by triggers acting once per statement.
    const triggers = await sql<{ tgname: string }[]>`select tgname from pg_trigger where not tgisinternal`;
    expect(triggers.map((t) => t.tgname).sort()).toEqual([
      'deliveries_references_exist',
      'deliveries_references_fixed',
      'event_types_publish_context_version',
      'events_delete_deliveries',
      'events_references_fixed',
      'events_tenant_exists',
      'subscriptions_delete_deliveries',
      'subscriptions_publish_context_version',
      'tenants_delete_events',
    ]);
    const [outcome] = await sql<{ is_nullable: string }[]>`
      select is_nullable from information_schema.columns where table_name = 'delivery_attempts' and column_name = 'outcome'`;
    expect(outcome!.is_nullable).toBe('NO');
  });

  it('creates the application role and graphile-worker schema', async () => {
    const [role] = await sql<{ n: number }[]>`select count(*)::int as n from pg_roles where rolname = 'hooklane_app' and not rolbypassrls`;
    expect(role!.n).toBe(1);
    const [schema] = await sql<{ n: number }[]>`select count(*)::int as n from information_schema.schemata where schema_name = 'graphile_worker'`;
    expect(schema!.n).toBe(1);
  });

  it('records the baseline alone as applied', async () => {
    const rows = await sql<{ created_at: string }[]>`select created_at::text from drizzle.__drizzle_migrations`;
    expect(rows.map((r) => Number(r.created_at))).toEqual(readJournal(MIGRATIONS_FOLDER).entries.map((e) => e.when));
  });

  it('is idempotent: applying again changes nothing and fails nothing', async () => {
    const before = await describeSchema(sql);
    const [applied] = await sql<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`;
    await applyAll(url);
    expect(await describeSchema(sql)).toEqual(before);
    const [again] = await sql<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`;
    expect(again!.n).toBe(applied!.n);
  });
});

describe('migrations of a database that earlier releases built (0000-0020), with data', () => {
  let url: string;
  let freshUrl: string;
  let sql: Sql;
  let fresh: Sql;
  const oldMigrations = readJournal(path.join(OLD_SCHEMA, 'drizzle')).entries;

  beforeAll(async () => {
    url = await createTestDatabase();
    sql = postgres(url, { max: 2, onnotice: () => {} });

    // The oldest shape: 0000 alone. Attempts have no outcome column yet.
    await migrateOldSchemaTo(url, 1);
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

    // 0000 + 0001: it backfills outcome; rows written now have one.
    await migrateOldSchemaTo(url, 2);
    await sql.unsafe(`
      insert into deliveries (id, tenant_id, event_id, subscription_id, status, attempt_count, ordering_key, claimed_until) values
        ('dlv_a3', 'ten_old_a', 'evt_a', 'sub_a', 'HELD', 1, 'order-1', null);
      insert into delivery_attempts (id, tenant_id, delivery_id, status_code, error, duration_ms, outcome) values
        ('att_6', 'ten_old_a', 'dlv_a3', 429, null, 5, 'RATE_LIMITED');
      update subscriptions set rate_limit = 5, max_in_flight = 2, retry_schedule_ms = '{1000,2000}' where id = 'sub_a';`);

    // All of 0000-0020, started as those releases started: rows in the last shape.
    await migrateOldSchemaTo(url, oldMigrations.length);
    await startOldRelease(url, sql);
    await sql.unsafe(`
      update tenants set quota_deliveries_in_flight = 10 where id = 'ten_old_a';
      update subscriptions set ed25519_public_key = 'whpk_old', channels = '{eu}' where id = 'sub_a';
      insert into events (id, tenant_id, event_type, body, channels) values
        ('evt_c', 'ten_old_a', 'invoice.paid', '{"type":"invoice.paid","timestamp":"2024-02-01T00:00:00.000Z","data":{"n":3}}', '{eu}');
      insert into deliveries (id, tenant_id, event_id, subscription_id, status, claimed_until, counted_claim_until) values
        ('dlv_a4', 'ten_old_a', 'evt_c', 'sub_a', 'PENDING', now() + interval '1 minute', now() + interval '1 minute');
      insert into hooklane_worker_heartbeats (worker_id) values ('worker_old');`);

    // This release.
    await applyAll(url);

    freshUrl = await createTestDatabase();
    await applyAll(freshUrl);
    fresh = postgres(freshUrl, { max: 2, onnotice: () => {} });
  });

  afterAll(async () => {
    await sql?.end();
    await fresh?.end();
  });

  it('ends with the schema of a new database: tables, constraints, indexes, policies, triggers, functions, grants', async () => {
    const upgraded = await describeSchema(sql);
    const created = await describeSchema(fresh);
    // Not two empty descriptions.
    expect(created.functions.length).toBeGreaterThan(10);
    expect(created.triggers.length).toBeGreaterThan(5);
    expect(upgraded).toEqual(created);
  });

  it('keeps the migration history, does not run the baseline, which stands for it, and runs the migrations after it', async () => {
    const rows = await sql<{ created_at: string }[]>`select created_at::text from drizzle.__drizzle_migrations order by id`;
    const later = readJournal(MIGRATIONS_FOLDER).entries.slice(1);
    expect(rows.map((r) => Number(r.created_at))).toEqual([...oldMigrations, ...later].map((e) => e.when));
    expect(oldMigrations.at(-1)!.when).toBe(readJournal(MIGRATIONS_FOLDER).entries[0]!.when);
  });

  it('drops the functions nothing calls any more', async () => {
    const names = RETIRED_FUNCTIONS.map((signature) => signature.slice(0, signature.indexOf('(')));
    const [left] = await sql<{ n: number }[]>`select count(*)::int as n from pg_proc where proname = any(${names})`;
    expect(left!.n).toBe(1); // hooklane_claim_deliveries: its current signature only
    const [claim] = await sql<{ args: string }[]>`
      select pg_get_function_identity_arguments(oid) as args from pg_proc where proname = 'hooklane_claim_deliveries'`;
    expect(claim!.args).toBe('p_tenant text, p_ids json, p_claim_ms integer, p_count_every_claim boolean');
  });

  it('keeps every row', async () => {
    const [counts] = await sql<Record<string, number>[]>`
      select (select count(*) from tenants)::int as tenants, (select count(*) from event_types)::int as event_types,
        (select count(*) from subscriptions)::int as subscriptions, (select count(*) from events)::int as events,
        (select count(*) from deliveries)::int as deliveries, (select count(*) from delivery_attempts)::int as attempts,
        (select count(*) from hooklane_worker_heartbeats)::int as heartbeats`;
    expect(counts).toEqual({ tenants: 2, event_types: 2, subscriptions: 2, events: 3, deliveries: 5, attempts: 6, heartbeats: 1 });
    const [sub] = await sql<{ url: string; rate_limit: number; max_in_flight: number; retry_schedule_ms: number[]; enabled: boolean; channels: string[]; ed25519_public_key: string }[]>`
      select url, rate_limit, max_in_flight, retry_schedule_ms, enabled, channels, ed25519_public_key from subscriptions where id = 'sub_a'`;
    expect(sub).toEqual({
      url: 'https://example.com/a',
      rate_limit: 5,
      max_in_flight: 2,
      retry_schedule_ms: [1000, 2000],
      enabled: true,
      channels: ['eu'],
      ed25519_public_key: 'whpk_old',
    });
    const [event] = await sql<{ body: string; idempotency_key: string }[]>`select body, idempotency_key from events where id = 'evt_a'`;
    expect(JSON.parse(event!.body)).toEqual({ type: 'invoice.paid', timestamp: '2024-01-01T00:00:00.000Z', data: { n: 1 } });
    expect(event!.idempotency_key).toBe('key-1');
    const [claim] = await sql<{ counted: boolean }[]>`select counted_claim_until is not null as counted from deliveries where id = 'dlv_a4'`;
    expect(claim!.counted).toBe(true);
  });

  it('gives the oldest attempts an outcome from what they recorded', async () => {
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

  it('fills the columns added since the oldest rows with their defaults', async () => {
    const tenants = await sql<{ status: string; config_version: string }[]>`select status::text, config_version::text from tenants`;
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

  it('enforces the invariants with constraints and triggers', async () => {
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
    expect(left).toEqual({ b: 0, a: 4 });
  });

  it('runs a migration written after the baseline on it and on a new database alike', async () => {
    const baseline = readJournal(MIGRATIONS_FOLDER).entries;
    const later = { tag: '0001_feature_probe', when: baseline.at(-1)!.when + 1, sql: 'CREATE TABLE "feature_probe" ("id" text PRIMARY KEY NOT NULL);' };
    for (const [database, target] of [[sql, url], [fresh, freshUrl]] as const) {
      const [before] = await database<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`;
      await migrateWith(target, migrationsFolder(MIGRATIONS_FOLDER, baseline.length, [later]));
      const [after] = await database<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`;
      expect(after!.n).toBe(before!.n + 1);
      const [probe] = await database<{ present: boolean }[]>`select to_regclass('public.feature_probe') is not null as present`;
      expect(probe!.present).toBe(true);
    }
  });
});

describe('migrations of a database that stopped before the last migration the baseline stands for', () => {
  it('refuses it and leaves it as it was', async () => {
    const url = await createTestDatabase();
    await migrateOldSchemaTo(url, 16);
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const before = await describeSchema(sql);
      await expect(applyAll(url)).rejects.toBeInstanceOf(SchemaTooOldError);
      expect(await describeSchema(sql)).toEqual(before);
      const [applied] = await sql<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`;
      expect(applied!.n).toBe(16);
    } finally {
      await sql.end();
    }
  });
});
