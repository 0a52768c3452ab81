/**
 * Hooklane's SQL functions: one file each in src/db/functions, applied with CREATE OR REPLACE at
 * every start. The database holds what the files say, a start puts back a function that was
 * dropped or changed, and no migration defines a function (so that no second definition can come
 * back into drizzle/).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import postgres, { type Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../../src/db/client.js';
import { APP_ROLE, applyMigrations, FUNCTIONS_FOLDER, MIGRATIONS_FOLDER, readFunctionFiles } from '../../src/db/migrate.js';
import { createTestDatabase } from '../support/database.js';

const files = readFunctionFiles();

async function applyAll(url: string): Promise<void> {
  const owner = connectDatabase(url, { max: 1 });
  try {
    await applyMigrations(owner.db, url);
  } finally {
    await owner.close();
  }
}

/** The body of the function a file defines: the text between its dollar quotes. */
function bodyOf(text: string): string {
  const match = /\bAS\s+(\$\w*\$)([\s\S]*?)\1/.exec(text);
  if (!match) throw new Error('no dollar-quoted body');
  return match[2]!;
}

interface FunctionRow {
  name: string;
  signature: string;
  source: string;
  returns_trigger: boolean;
  security_definer: boolean;
  app_may_call: boolean;
  public_may_call: boolean;
}

async function hooklaneFunctions(sql: Sql): Promise<FunctionRow[]> {
  return sql<FunctionRow[]>`
    select p.proname as name, p.oid::regprocedure::text as signature, p.prosrc as source,
      p.prorettype = 'trigger'::regtype as returns_trigger, p.prosecdef as security_definer,
      has_function_privilege(${APP_ROLE}, p.oid, 'EXECUTE') as app_may_call,
      exists (select from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a where a.grantee = 0) as public_may_call
    from pg_proc p where p.pronamespace = 'public'::regnamespace and p.proname like 'hooklane%'
    order by p.proname`;
}

describe('the SQL function files', () => {
  it('define each the one function they are named for, and nothing else', () => {
    expect(readdirSync(FUNCTIONS_FOLDER).filter((file) => !file.endsWith('.sql'))).toEqual([]);
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const definitions = [...file.sql.matchAll(/\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\s+([\w.]+)/gi)].map((m) => m[1]);
      expect(definitions, file.name).toEqual([`public.${file.name}`]);
      // Applying the file creates no other object; a body may (hooklane_create_partitions makes partitions when called).
      const outsideBodies = file.sql.replace(/(\$\w*\$)[\s\S]*?\1/g, '');
      expect(outsideBodies, file.name).not.toMatch(/\b(CREATE|ALTER|DROP)\s+(TABLE|INDEX|TRIGGER|TYPE|POLICY)\b/i);
    }
  });

  it('are the only place a function is defined: no migration creates one', () => {
    const migrations = readdirSync(MIGRATIONS_FOLDER).filter((file) => file.endsWith('.sql'));
    expect(migrations.length).toBeGreaterThan(0);
    for (const file of migrations) {
      const text = readFileSync(path.join(MIGRATIONS_FOLDER, file), 'utf8');
      expect(text, file).not.toMatch(/\bCREATE\s+(OR\s+REPLACE\s+)?(FUNCTION|PROCEDURE)\b/i);
    }
  });
});

describe('the SQL functions of a started database', () => {
  let url: string;
  let sql: Sql;

  beforeAll(async () => {
    url = await createTestDatabase();
    await applyAll(url);
    sql = postgres(url, { max: 1, onnotice: () => {} });
  });

  afterAll(async () => {
    await sql?.end();
  });

  it('are exactly the files, one signature each, with the body each file gives', async () => {
    const functions = await hooklaneFunctions(sql);
    expect(functions.map((f) => f.name)).toEqual(files.map((f) => f.name));
    for (const file of files) {
      const [fn] = functions.filter((f) => f.name === file.name);
      expect(fn!.source, file.name).toBe(bodyOf(file.sql));
      expect(fn!.returns_trigger, file.name).toBe(file.returnsTrigger);
    }
  });

  it('may be called by the application role, but for the trigger functions; those with the owner\'s rights by no one else', async () => {
    for (const fn of await hooklaneFunctions(sql)) {
      if (!fn.returns_trigger) expect(fn.app_may_call, fn.signature).toBe(true);
      if (fn.security_definer && !fn.returns_trigger) expect(fn.public_may_call, fn.signature).toBe(false);
    }
  });

  it('come back at the next start when dropped, changed or revoked', async () => {
    const before = await hooklaneFunctions(sql);
    // hooklane_reserve_publish with other result columns: CREATE OR REPLACE alone cannot restore it.
    await sql.unsafe(`
      DROP FUNCTION hooklane_reserve_publish(text, integer, double precision, double precision, integer, text);
      CREATE FUNCTION hooklane_reserve_publish(p_tenant text, p_count integer, p_rate double precision, p_burst double precision, p_monthly integer, p_period text)
      RETURNS TABLE (ok boolean) LANGUAGE sql AS $$ SELECT true $$;
      DROP FUNCTION hooklane_publish_context(text, json, json);
      CREATE OR REPLACE FUNCTION hooklane_job_queue_stats()
      RETURNS TABLE (due_jobs bigint, oldest_due_age_seconds double precision)
      LANGUAGE sql STABLE SECURITY DEFINER AS $$ SELECT 0::bigint, 0::double precision $$;
      REVOKE EXECUTE ON FUNCTION hooklane_record_attempts(text, json) FROM ${APP_ROLE};`);
    const broken = await hooklaneFunctions(sql);
    expect(broken.map((f) => f.name)).not.toContain('hooklane_publish_context');
    expect(broken.find((f) => f.name === 'hooklane_job_queue_stats')!.source).not.toBe(before.find((f) => f.name === 'hooklane_job_queue_stats')!.source);

    await applyAll(url);
    expect(await hooklaneFunctions(sql)).toEqual(before);
  });

  it('come back at the next start when a function returns other columns than its file says', async () => {
    // CREATE OR REPLACE refuses a change of result columns: a start drops and creates that one again.
    const before = await hooklaneFunctions(sql);
    await sql.unsafe(`
      DROP FUNCTION hooklane_job_queue_stats();
      CREATE FUNCTION hooklane_job_queue_stats() RETURNS TABLE (due_jobs bigint)
      LANGUAGE sql STABLE AS $$ SELECT 0::bigint $$;`);
    await applyAll(url);
    expect(await hooklaneFunctions(sql)).toEqual(before);
  });

  it('work once restored: the trigger functions as triggers, the others when called', async () => {
    // hooklane_bump_config_version fires on a new subscription; the references check refuses a
    // delivery of an event that does not exist.
    await sql`insert into tenants (id, name) values ('ten_fn', 'Functions')`;
    await sql`insert into subscriptions (id, tenant_id, url, event_types, secrets) values ('sub_fn', 'ten_fn', 'https://example.com', '{a.b}', '{s}')`;
    const [context] = await sql<{ context: { version: number; subscriptions: { id: string }[] } }[]>`
      select hooklane_publish_context('ten_fn', '[]'::json, '["a.b"]'::json) as context`;
    expect(context!.context.version).toBe(1);
    expect(context!.context.subscriptions.map((s) => s.id)).toEqual(['sub_fn']);
    await expect(sql`insert into deliveries (id, tenant_id, event_id, subscription_id) values ('dlv_fn', 'ten_fn', 'evt_none', 'sub_fn')`).rejects.toMatchObject({
      code: '23503',
    });
  });

  it('are applied by processes starting at once, each waiting for the one that migrates', async () => {
    const before = await hooklaneFunctions(sql);
    await sql`drop function hooklane_worker_stopped(text)`;
    await Promise.all([applyAll(url), applyAll(url), applyAll(url)]);
    expect(await hooklaneFunctions(sql)).toEqual(before);
  });
});
