/**
 * The benchmark's PostgreSQL: an embedded server in a temporary directory (with
 * pg_stat_statements loaded, so round trips per delivery can be counted), or the server named by
 * BENCH_DATABASE_URL, where the benchmark creates (and afterwards drops) its own databases.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres, { type Sql } from 'postgres';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded-postgres.js';

export interface BenchPostgres {
  /** 'embedded' or the host of BENCH_DATABASE_URL. */
  kind: 'embedded' | 'external';
  /** The PostgreSQL server's main process, when it runs on this machine and is known. */
  postmasterPid(): number | undefined;
  createDatabase(prefix: string): Promise<string>;
  /** Drops a database made by createDatabase (its dead rows would otherwise draw autovacuum into later phases). */
  dropDatabase(url: string): Promise<void>;
  /** Opens a small connection pool for the benchmark's own queries. */
  connect(url: string): Sql;
  stop(): Promise<void>;
  /** Synchronous last resort for exit handlers: the temporary directory to remove. */
  readonly tempDir: string | undefined;
}

function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

const quiet = { onnotice: () => {} };

async function dropDatabase(serverUrl: string, url: string): Promise<void> {
  const admin = postgres(serverUrl, { max: 1, ...quiet });
  try {
    await admin.unsafe(`drop database if exists ${databaseName(url)} with (force)`);
  } finally {
    await admin.end();
  }
}

/** The main process of the PostgreSQL server running on `dataDir` (its postmaster.pid), if any. */
export function postmasterPidIn(dataDir: string): number | undefined {
  try {
    return Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) || undefined;
  } catch {
    return undefined;
  }
}

export async function startBenchPostgres(log: (line: string) => void): Promise<BenchPostgres> {
  const external = process.env.BENCH_DATABASE_URL;
  if (external) return externalServer(external, log);
  return embeddedServer(log);
}

async function embeddedServer(log: (line: string) => void): Promise<BenchPostgres> {
  const tempDir = await mkdtemp(path.join(os.tmpdir(), 'hooklane-bench-'));
  // Under root, PostgreSQL runs as a separate user that must be able to enter this directory.
  await chmod(tempDir, 0o755);
  const dataDir = path.join(tempDir, 'data');
  let server: EmbeddedDatabase | undefined;
  try {
    server = await startEmbeddedPostgres(dataDir, { persistent: true });
    // Load pg_stat_statements (statement counts per delivery) and time WAL syncs: both need a restart.
    const admin = postgres(server.url, { max: 1, ...quiet });
    try {
      await admin.unsafe(`alter system set shared_preload_libraries = 'pg_stat_statements'`);
      await admin.unsafe(`alter system set track_wal_io_timing = on`);
    } finally {
      await admin.end();
    }
    await server.stop();
    server = await startEmbeddedPostgres(dataDir, { persistent: true });
  } catch (error) {
    await server?.stop().catch(() => {});
    await rm(tempDir, { recursive: true, force: true }).catch(() => {});
    throw error;
  }
  const running = server;
  log(`embedded PostgreSQL in ${dataDir}`);
  return {
    kind: 'embedded',
    tempDir,
    postmasterPid: () => postmasterPidIn(dataDir),
    createDatabase: async (prefix) => {
      const name = `${prefix}_${randomBytes(4).toString('hex')}`;
      const admin = postgres(running.url, { max: 1, ...quiet });
      try {
        await admin.unsafe(`create database ${name}`);
      } finally {
        await admin.end();
      }
      return withDatabase(running.url, name);
    },
    dropDatabase: (url) => dropDatabase(running.url, url),
    connect: (url) => postgres(url, { max: 3, ...quiet, connection: { application_name: 'hooklane-bench' } }),
    stop: async () => {
      await running.stop();
      await rm(tempDir, { recursive: true, force: true });
    },
  };
}

async function externalServer(serverUrl: string, log: (line: string) => void): Promise<BenchPostgres> {
  const created: string[] = [];
  log(`PostgreSQL from BENCH_DATABASE_URL (${new URL(serverUrl).host})`);
  const admin = () => postgres(serverUrl, { max: 1, ...quiet });
  return {
    kind: 'external',
    tempDir: undefined,
    postmasterPid: () => undefined,
    createDatabase: async (prefix) => {
      const name = `${prefix}_${randomBytes(4).toString('hex')}`;
      const sql = admin();
      try {
        await sql.unsafe(`create database ${name}`);
      } finally {
        await sql.end();
      }
      created.push(name);
      return withDatabase(serverUrl, name);
    },
    dropDatabase: async (url) => {
      await dropDatabase(serverUrl, url);
      const at = created.indexOf(databaseName(url));
      if (at >= 0) created.splice(at, 1);
    },
    connect: (url) => postgres(url, { max: 3, ...quiet, connection: { application_name: 'hooklane-bench' } }),
    stop: async () => {
      // BENCH_KEEP_DATABASES=1 leaves them for inspection (EXPLAIN ANALYZE on the data a run made).
      if (process.env.BENCH_KEEP_DATABASES === '1') {
        log(`kept databases ${created.join(', ')}`);
        return;
      }
      const sql = admin();
      try {
        for (const name of created) await sql.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await sql.end();
      }
    },
  };
}

export interface DatabaseCounters {
  xactCommit: number;
  xactRollback: number;
  /** Next transaction id of the cluster: its delta counts the transactions that wrote anything. */
  nextXid: number;
  walRecords: number | undefined;
  walBytes: number | undefined;
  walSyncs: number | undefined;
  walSyncMs: number | undefined;
}

/** Counters read at the start and end of a measurement; see `settleStats` for their lag. */
export async function readCounters(sql: Sql, database: string): Promise<DatabaseCounters> {
  const [db] = await sql<{ xact_commit: string; xact_rollback: string }[]>`
    select xact_commit::text, xact_rollback::text from pg_stat_database where datname = ${database}`;
  const [xid] = await sql<{ xid: string }[]>`select pg_snapshot_xmax(pg_current_snapshot())::text as xid`;
  let wal: Record<string, unknown> | undefined;
  try {
    [wal] = await sql<Record<string, unknown>[]>`select * from pg_stat_wal`;
  } catch {
    wal = undefined;
  }
  const num = (value: unknown) => (value === undefined || value === null ? undefined : Number(value));
  return {
    xactCommit: Number(db?.xact_commit ?? 0),
    xactRollback: Number(db?.xact_rollback ?? 0),
    nextXid: Number(xid?.xid ?? 0),
    walRecords: num(wal?.wal_records),
    walBytes: num(wal?.wal_bytes),
    walSyncs: num(wal?.wal_sync),
    walSyncMs: num(wal?.wal_sync_time),
  };
}

/**
 * PostgreSQL (15+) backends flush their statistics at most once a second, and idle ones within
 * ten: wait a little so that the commits of a measurement are counted in its own window.
 */
export const STATS_SETTLE_MS = 1_500;

export async function enableStatements(sql: Sql): Promise<boolean> {
  try {
    await sql`create extension if not exists pg_stat_statements`;
    await sql`select pg_stat_statements_reset()`;
    return true;
  } catch {
    return false;
  }
}

export interface StatementStat {
  query: string;
  calls: number;
  totalMs: number;
  meanMs: number;
  rows: number;
}

export async function resetStatements(sql: Sql): Promise<void> {
  await sql`select pg_stat_statements_reset()`;
}

export async function topStatements(sql: Sql, database: string, limit = 15): Promise<StatementStat[]> {
  const rows = await sql<{ query: string; calls: string; total: number; mean: number; rows: string }[]>`
    select s.query, s.calls::text as calls, s.total_exec_time as total, s.mean_exec_time as mean, s.rows::text as rows
    from pg_stat_statements s
    where s.dbid = (select oid from pg_database where datname = ${database})
      and s.query not like '%pg_stat_statements%'
    order by s.calls desc, s.total_exec_time desc
    limit ${limit}`;
  return rows.map((row) => ({
    query: row.query.replace(/\s+/g, ' ').trim(),
    calls: Number(row.calls),
    totalMs: row.total,
    meanMs: row.mean,
    rows: Number(row.rows),
  }));
}

export function databaseName(url: string): string {
  return new URL(url).pathname.replace(/^\//, '');
}
