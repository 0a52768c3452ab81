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
import { idAt } from '../../src/ids.js';
import { createLogger } from '../../src/logger.js';
import { loadOrCreateDevSecretsKey, SecretBox } from '../../src/secrets/secret-box.js';
import { createTestDatabase } from '../support/database.js';
import { TEST_JWT_SECRET } from '../support/hooklane.js';

const TABLES = ['tenants', 'event_types', 'subscriptions', 'events', 'deliveries', 'delivery_attempts', 'tenant_usage', 'audit_log', 'delivery_stats', 'hooklane_worker_heartbeats'];
const RLS_TABLES = ['tenants', 'tenant_usage', 'audit_log', 'event_types', 'subscriptions', 'events', 'deliveries', 'delivery_attempts', 'delivery_stats'];
/** Ids as the earlier releases made them: their time (1 March 2024) in the first 12 hex digits. */
const MARCH = new Date('2024-03-01T00:00:00Z');
const MARCH_EVENT = `${idAt('event', MARCH)}7abc8def01234567890`;
const MARCH_DELIVERY = `${idAt('delivery', MARCH)}7abc8def01234567891`;
const MARCH_ATTEMPT = `${idAt('attempt', new Date(MARCH.getTime() + 1_000))}7abc8def01234567892`;
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

/** Tables, indexes and constraints of the public schema that are not partitions (or theirs): those are time windows. */
const NOT_A_PARTITION = `not exists (select from pg_inherits i where i.inhrelid = c.oid)`;

/**
 * Everything of the public schema that a migration or a function file makes, as PostgreSQL shows
 * it. The partitions are time windows, named and bounded by when they were made: they are described
 * apart (describePartitions), not compared.
 */
async function describeSchema(sql: Sql) {
  return {
    columns: await sql`
      select c.relname as table, a.attname as column, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null,
        pg_get_expr(d.adbin, d.adrelid) as default
      from pg_attribute a join pg_class c on c.oid = a.attrelid left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
        and ${sql.unsafe(NOT_A_PARTITION)}
      order by c.relname, a.attnum`,
    relations: await sql`
      select relname, relkind, relrowsecurity, relforcerowsecurity, reloptions::text, relacl::text
      from pg_class c where relnamespace = 'public'::regnamespace and ${sql.unsafe(NOT_A_PARTITION)} order by relname`,
    types: await sql`
      select t.typname, array_agg(e.enumlabel order by e.enumsortorder)::text as labels
      from pg_type t join pg_enum e on e.enumtypid = t.oid where t.typnamespace = 'public'::regnamespace group by t.typname order by t.typname`,
    constraints: await sql`
      select k.conrelid::regclass::text as table, k.conname, pg_get_constraintdef(k.oid) as definition
      from pg_constraint k left join pg_class c on c.oid = k.conrelid
      where k.connamespace = 'public'::regnamespace and (c.oid is null or ${sql.unsafe(NOT_A_PARTITION)}) order by 1, 2`,
    indexes: await sql`
      select indexname, indexdef from pg_indexes x join pg_class c on c.oid = format('%I.%I', x.schemaname, x.indexname)::regclass
      where schemaname = 'public' and ${sql.unsafe(NOT_A_PARTITION)} order by indexname`,
    policies: await sql`
      select tablename, policyname, permissive, roles::text, cmd, qual, with_check from pg_policies where schemaname = 'public' order by 1, 2`,
    triggers: await sql`
      select tgname, pg_get_triggerdef(t.oid) as definition from pg_trigger t join pg_class c on c.oid = t.tgrelid
      where not tgisinternal and ${sql.unsafe(NOT_A_PARTITION)} order by 1`,
    functions: await sql`
      select p.oid::regprocedure::text as signature, pg_get_functiondef(p.oid) as definition, p.proacl::text as acl
      from pg_proc p where p.pronamespace = 'public'::regnamespace order by 1`,
    schemaGrants: await sql`select nspname, nspacl::text from pg_namespace where nspname = 'public'`,
  };
}

/**
 * The partitions of each partitioned table, by kind (`before`, `beyond`, a time window), each with
 * its indexes, constraints and triggers as its parent's (names and bounds left out), its storage
 * options, and no grant: the application role reaches rows through the parent only.
 */
async function describePartitions(sql: Sql) {
  const partitions = await sql<{ parent: string; kind: string; reloptions: string | null; relacl: string | null; rls: boolean }[]>`
    select p.relname as parent, case when c.relname ~ '_(before|beyond)$' then substring(c.relname from '_(before|beyond)$') else 'window' end as kind,
      c.reloptions::text as reloptions, c.relacl::text as relacl, c.relrowsecurity as rls
    from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent
    where p.relnamespace = 'public'::regnamespace and p.relkind = 'p'`;
  const shapes = await sql<{ parent: string; indexes: string; checks: string; triggers: string }[]>`
    select p.relname as parent,
      (select string_agg(pi.relname, ',' order by pi.relname) from pg_index x join pg_inherits ii on ii.inhrelid = x.indexrelid
         join pg_class pi on pi.oid = ii.inhparent where x.indrelid = c.oid) as indexes,
      (select string_agg(k.conname || ' ' || pg_get_constraintdef(k.oid), ',' order by k.conname) from pg_constraint k
         where k.conrelid = c.oid and k.contype = 'c') as checks,
      (select string_agg(t.tgname, ',' order by t.tgname) from pg_trigger t where t.tgrelid = c.oid and not t.tgisinternal) as triggers
    from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent
    where p.relnamespace = 'public'::regnamespace and p.relkind = 'p'`;
  const byParent = new Map<string, Set<string>>();
  for (const row of [...partitions.map((p) => ({ parent: p.parent, shape: `${p.kind} ${p.reloptions} ${p.relacl} rls=${p.rls}` })), ...shapes.map((s) => ({ parent: s.parent, shape: `${s.indexes} | ${s.checks} | ${s.triggers}` }))]) {
    byParent.set(row.parent, (byParent.get(row.parent) ?? new Set()).add(row.shape));
  }
  return Object.fromEntries([...byParent].sort(([a], [b]) => a.localeCompare(b)).map(([parent, set]) => [parent, [...set].sort()]));
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
          'event_idempotency_keys_tenant_id_tenants_id_fk',
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
    // The references of events, deliveries and attempts are kept by triggers acting once per statement.
    const triggers = await sql<{ tgname: string }[]>`
      select tgname from pg_trigger t join pg_class c on c.oid = t.tgrelid where not tgisinternal and not c.relispartition`;
    expect(triggers.map((t) => t.tgname).sort()).toEqual([
      'deliveries_delete_attempts',
      'deliveries_references_exist',
      'deliveries_references_fixed',
      'delivery_attempts_references_exist',
      'delivery_attempts_references_fixed',
      'event_types_publish_context_version',
      'events_delete_deliveries',
      'events_references_fixed',
      'events_tenant_exists',
      'subscriptions_delete_deliveries',
      'subscriptions_publish_context_version',
      'tenants_delete_events',
    ]);
    const partitioned = await sql<{ relname: string; key: string }[]>`
      select c.relname, pg_get_partkeydef(c.oid) as key from pg_class c where c.relkind = 'p' and c.relnamespace = 'public'::regnamespace order by 1`;
    expect(partitioned).toEqual([
      { relname: 'deliveries', key: 'RANGE (id)' },
      { relname: 'delivery_attempts', key: 'RANGE (delivery_id)' },
      { relname: 'events', key: 'RANGE (id)' },
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

  it('records every migration as applied', async () => {
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
      insert into hooklane_worker_heartbeats (worker_id) values ('worker_old');
      insert into audit_log (id, tenant_id, actor_subject, actor_role, action, target_id) values
        ('aud_1', 'ten_old_a', 'ops', 'admin', 'updateTenantQuotas', 'ten_old_a'),
        ('aud_2', null, 'ops', 'admin', 'deleteTenant', 'ten_gone');`);
    // Rows with the ids those releases made (time-ordered, from March 2024), and the job of a
    // delivery still to be attempted, which names it by id.
    await sql.unsafe(`
      insert into events (id, tenant_id, event_type, body, idempotency_key, created_at) values
        ('${MARCH_EVENT}', 'ten_old_a', 'invoice.paid', '{"type":"invoice.paid","timestamp":"2024-03-01T00:00:00.000Z","data":{"n":4}}', 'key-2', '2024-03-01T00:00:00Z');
      insert into deliveries (id, tenant_id, event_id, subscription_id, status, next_attempt_at, created_at) values
        ('${MARCH_DELIVERY}', 'ten_old_a', '${MARCH_EVENT}', 'sub_a', 'PENDING', now(), '2024-03-01T00:00:00Z');
      insert into delivery_attempts (id, tenant_id, delivery_id, status_code, duration_ms, outcome, created_at) values
        ('${MARCH_ATTEMPT}', 'ten_old_a', '${MARCH_DELIVERY}', 503, 40, 'HTTP_ERROR', '2024-03-01T00:00:01Z');
      select graphile_worker.add_job('deliver', json_build_object('tenantId', 'ten_old_a', 'deliveryId', '${MARCH_DELIVERY}'),
        job_key => 'deliver:${MARCH_DELIVERY}', run_at => now() + interval '1 hour');`);

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

  it('ends with partitions shaped as a new database has them: before, beyond and time windows, each with its parent\'s indexes and triggers', async () => {
    const upgraded = await describePartitions(sql);
    expect(Object.keys(upgraded)).toEqual(['deliveries', 'delivery_attempts', 'events']);
    for (const shapes of Object.values(upgraded)) {
      expect(shapes.filter((shape) => /^(before|beyond|window) /.test(shape)).map((shape) => shape.split(' ')[0])).toEqual(['before', 'beyond', 'window']);
    }
    expect(upgraded).toEqual(await describePartitions(fresh));
  });

  it('keeps the migration history, does not run the baseline, which stands for it, and runs the later migrations', async () => {
    const rows = await sql<{ created_at: string }[]>`select created_at::text from drizzle.__drizzle_migrations order by id`;
    const [baseline, ...later] = readJournal(MIGRATIONS_FOLDER).entries;
    // The old history, then every migration after the baseline.
    expect(rows.map((r) => Number(r.created_at))).toEqual([...oldMigrations, ...later].map((e) => e.when));
    expect(oldMigrations.at(-1)!.when).toBe(baseline!.when);
  });

  it('drops the functions nothing calls any more', async () => {
    const names = RETIRED_FUNCTIONS.map((signature) => signature.slice(0, signature.indexOf('(')));
    const left = await sql<{ signature: string }[]>`
      select oid::regprocedure::text as signature from pg_proc where proname = any(${names}) order by proname`;
    // What is left of those names is the current signature of the functions that are still defined.
    expect(left.map((row) => row.signature)).toEqual([
      'hooklane_claim_deliveries(text,json,integer,boolean)',
      'hooklane_write_event_columns(text,text,text,text,text,text,jsonb,text,text,text,text,jsonb,json,boolean,json,bigint)',
    ]);
    const retired = new Set(RETIRED_FUNCTIONS.map((signature) => signature.replaceAll(' ', '')));
    expect(left.filter((row) => retired.has(row.signature))).toEqual([]);
  });

  it('keeps every row', async () => {
    const [counts] = await sql<Record<string, number>[]>`
      select (select count(*) from tenants)::int as tenants, (select count(*) from event_types)::int as event_types,
        (select count(*) from subscriptions)::int as subscriptions, (select count(*) from events)::int as events,
        (select count(*) from deliveries)::int as deliveries, (select count(*) from delivery_attempts)::int as attempts,
        (select count(*) from hooklane_worker_heartbeats)::int as heartbeats`;
    expect(counts).toEqual({ tenants: 2, event_types: 2, subscriptions: 2, events: 4, deliveries: 6, attempts: 7, heartbeats: 1 });
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

  it('moves every row into the partition its id names: the ids made before it into _before, hand-made ones into _beyond', async () => {
    const rows = await sql<{ id: string; partition: string }[]>`
      select id, tableoid::regclass::text as partition from events union all select id, tableoid::regclass::text from deliveries
      union all select id, tableoid::regclass::text from delivery_attempts order by 1`;
    const where = Object.fromEntries(rows.map((row) => [row.id, row.partition]));
    expect(where[MARCH_EVENT]).toBe('events_before');
    expect(where[MARCH_DELIVERY]).toBe('deliveries_before');
    expect(where[MARCH_ATTEMPT]).toBe('delivery_attempts_before');
    expect(where['evt_a']).toBe('events_beyond');
    expect(where['att_1']).toBe('delivery_attempts_beyond');
  });

  it('keeps the idempotency keys used before, unique per tenant across partitions', async () => {
    const keys = await sql<{ tenant_id: string; idempotency_key: string; event_id: string }[]>`
      select tenant_id, idempotency_key, event_id from event_idempotency_keys order by idempotency_key`;
    expect(keys).toEqual([
      { tenant_id: 'ten_old_a', idempotency_key: 'key-1', event_id: 'evt_a' },
      { tenant_id: 'ten_old_a', idempotency_key: 'key-2', event_id: MARCH_EVENT },
    ]);
    // A new event (in a time window) with a key an old one (in _before) took.
    const now = new Date();
    const fresh = `${idAt('event', now)}7000800000000000000`;
    expect(await sqlState(sql, `insert into events (id, tenant_id, event_type, body, idempotency_key) values ('${fresh}', 'ten_old_a', 'invoice.paid', '{}', 'key-2')`)).toBe('23505');
    expect(await sqlState(sql, `insert into events (id, tenant_id, event_type, body, idempotency_key) values ('${fresh}', 'ten_old_b', 'invoice.paid', '{}', 'key-2')`)).toBe('ok');
    await sql`delete from events where id = ${fresh}`;
    const [left] = await sql<{ n: number }[]>`select count(*)::int as n from event_idempotency_keys where tenant_id = 'ten_old_b'`;
    expect(left!.n).toBe(0);
  });

  it('keeps a queued job valid: the delivery it names is claimed by id, with its event', async () => {
    const [job] = await sql<{ n: number }[]>`select count(*)::int as n from graphile_worker.jobs where key = ${`deliver:${MARCH_DELIVERY}`}`;
    expect(job!.n).toBe(1);
    const claimed = await sql<{ id: string; body: string; url: string }[]>`
      select id, body, url from hooklane_claim_deliveries('ten_old_a', ${JSON.stringify([MARCH_DELIVERY])}::text::json, 60000, false)`;
    expect(claimed).toEqual([
      { id: MARCH_DELIVERY, body: '{"type":"invoice.paid","timestamp":"2024-03-01T00:00:00.000Z","data":{"n":4}}', url: 'https://example.com/a' },
    ]);
    await sql`update deliveries set claimed_until = null, counted_claim_until = null where id = ${MARCH_DELIVERY}`;
  });

  it('moves the entries of no tenant (a tenant deleted) to the platform audit log', async () => {
    const tenantEntries = await sql<{ id: string }[]>`select id from audit_log order by id`;
    expect(tenantEntries.map((entry) => entry.id)).toEqual(['aud_1']);
    const platform = await sql<{ id: string; action: string; target_id: string }[]>`select id, action, target_id from platform_audit_log`;
    expect(platform).toEqual([{ id: 'aud_2', action: 'deleteTenant', target_id: 'ten_gone' }]);
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
      [MARCH_ATTEMPT]: 'HTTP_ERROR',
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
      // The unsealed secrets of the oldest rows are sealed at start, each bound to its row.
      const secrets = await sql<{ id: string; secrets: string[] }[]>`select id, secrets from subscriptions order by id`;
      const box = new SecretBox(loadOrCreateDevSecretsKey(config.dataDir));
      expect(secrets.map((row) => row.secrets.map((sealed) => box.open(sealed, row.id)))).toEqual([
        ['whsec_MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE='],
        ['whsec_MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE='],
      ]);
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
    expect(left).toEqual({ b: 0, a: 5 });
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
