import type { Logger } from 'pino';
import type { RetentionSettings } from '../config.js';
import { idAt } from '../ids.js';

/**
 * The retention sweep: keeps Hooklane the same size under a steady load. Events older than their
 * tenant's retention go, with their deliveries, attempts and idempotency keys; an event with a
 * delivery still PENDING or HELD stays until that delivery ends. In order:
 *
 * 1. Time windows are created ahead (hooklane_create_partitions), and what a sweep that stopped
 *    half way left behind is finished: a partition still being detached, a detached one not dropped.
 * 2. A window that ended before every tenant's horizon (the longest retention) is dropped whole:
 *    its partitions of delivery_attempts, deliveries and events, each detached CONCURRENTLY (a SHARE
 *    UPDATE EXCLUSIVE lock on the parent, which no insert, update or read waits for) and dropped.
 *    First go, in bounded batches, the idempotency keys of its events and the deliveries of its
 *    events that live in later windows (made by a replay). A window holding a delivery still to
 *    end is not dropped; step 3 empties it around that delivery instead.
 * 3. Within partitions, in bounded batches (hooklane_expire_events): the events of tenants with a
 *    shorter retention than the longest, and, for every tenant, events past its horizon that no
 *    drop will take soon (in the window of rows written before partitioning, or in a window kept
 *    by step 2). Tenants take turns, one batch each, until done or out of time for this sweep.
 *
 * Every statement is short or waits without blocking others; the DDL gives up after lock_timeout
 * and is tried again at the next sweep. One sweep at a time (an advisory lock); it runs as the
 * tables' owner (graphile-worker's connection, src/worker/tasks.ts).
 */

/** What the sweep needs of a connection: pg's Client and PoolClient have it. Never inside a transaction. */
export interface SweepConnection {
  query<Row>(text: string, values?: unknown[]): Promise<{ rows: Row[] }>;
}

export interface SweepOptions extends RetentionSettings {
  /** The sweep's notion of now; the database's clock otherwise (tests move it forward). */
  now?: Date;
  /** Events per batch of deletion within partitions. */
  batchSize?: number;
  /** How long the deletion within partitions may run in one sweep; the rest waits for the next. */
  deleteBudgetMs?: number;
}

export interface SweepReport {
  partitionsCreated: number;
  /** Windows dropped whole, by name (`p20250101_000000`, `before`). */
  windowsDropped: string[];
  /** Windows past every horizon kept for a delivery still PENDING or HELD. */
  windowsKept: string[];
  /** Events deleted within partitions. */
  eventsDeleted: number;
  /** Deliveries of dropped windows' events that lived in later windows. */
  laterDeliveriesDeleted: number;
  /** Every tenant's deletion within partitions finished (not cut short by deleteBudgetMs). */
  complete: boolean;
  /** False when another sweep was running: this one did nothing. */
  ran: boolean;
}

interface WindowRow {
  table_name: string;
  partition_name: string;
  window_name: string | null;
  from_id: string | null;
  to_id: string | null;
  from_at: Date | null;
  to_at: Date | null;
  attached: boolean;
  detach_pending: boolean;
}

const DEFAULT_BATCH_SIZE = 500;
/** Rows per statement when clearing a window's keys and later deliveries before its drop. */
const CLEAR_BATCH_SIZE = 2_000;
/** DDL (attaching, detaching) gives up after this and is tried again at the next sweep. */
const DDL_LOCK_TIMEOUT = '5s';
/** Detached in this order: what refers to a row goes before it. */
const DROP_ORDER = ['delivery_attempts', 'deliveries', 'events'] as const;

/** Batches of delivery_stats rows one sweep folds or deletes per tenant, at most; the rest waits for the next. */
const STATS_BATCHES_PER_SWEEP = 10;

export async function sweepRetention(connection: SweepConnection, options: SweepOptions, logger?: Logger): Promise<SweepReport> {
  const report: SweepReport = {
    partitionsCreated: 0,
    windowsDropped: [],
    windowsKept: [],
    eventsDeleted: 0,
    laterDeliveriesDeleted: 0,
    complete: true,
    ran: false,
  };
  const [lock] = (await connection.query<{ locked: boolean }>(`select pg_try_advisory_lock(hashtext('hooklane.retention_sweep')) as locked`)).rows;
  if (!lock?.locked) return report;
  report.ran = true;
  try {
    await connection.query(`set lock_timeout = '${DDL_LOCK_TIMEOUT}'`);
    const now = options.now ?? (await databaseNow(connection));
    const [created] = (
      await connection.query<{ created: number }>('select hooklane_create_partitions($1::bigint, $2::bigint, $3) as created', [
        options.defaultMs,
        options.sweepIntervalMs,
        now,
      ])
    ).rows;
    report.partitionsCreated = created?.created ?? 0;
    await finishInterruptedDrops(connection);

    const tenants = await tenantRetentions(connection, options.defaultMs);
    const longestMs = Math.max(options.defaultMs, ...tenants.map((tenant) => tenant.retentionMs));
    const horizon = new Date(now.getTime() - longestMs);
    await dropExpiredWindows(connection, horizon, report);

    const windows = await listWindows(connection);
    // The window the longest horizon falls in is dropped whole once it has passed: rows of the
    // tenants with the longest retention in it are left to that drop (unless it is `before`).
    const straddling = windows.find(
      (w) => w.table_name === 'events' && w.attached && w.window_name !== 'before' && w.from_at !== null && w.to_at !== null && w.from_at <= horizon && horizon < w.to_at,
    );
    await expireWithinPartitions(connection, tenants, longestMs, now, straddling?.from_id ?? null, options, report);
    await sweepDeliveryStats(connection, tenants);
    if (report.windowsDropped.length > 0 || report.eventsDeleted > 0 || report.windowsKept.length > 0) {
      logger?.info(
        {
          windowsDropped: report.windowsDropped,
          windowsKept: report.windowsKept,
          eventsDeleted: report.eventsDeleted,
          complete: report.complete,
        },
        'retention sweep',
      );
    }
    return report;
  } finally {
    await connection.query('reset lock_timeout').catch(() => {});
    await connection.query(`select pg_advisory_unlock(hashtext('hooklane.retention_sweep'))`).catch(() => {});
  }
}

/**
 * Step 4: each tenant's delivery_stats rows, folded into hourly rows after a week and deleted after
 * 400 days (hooklane_sweep_delivery_stats), a bounded batch at a time.
 */
async function sweepDeliveryStats(connection: SweepConnection, tenants: readonly TenantRetention[]): Promise<void> {
  for (const tenant of tenants) {
    for (let batch = 0; batch < STATS_BATCHES_PER_SWEEP; batch++) {
      const [done] = (await connection.query<{ changed: number }>('select hooklane_sweep_delivery_stats($1) as changed', [tenant.id])).rows;
      if (!done?.changed) break;
    }
  }
}

async function databaseNow(connection: SweepConnection): Promise<Date> {
  const [row] = (await connection.query<{ now: Date }>('select now() as now')).rows;
  return new Date(row!.now);
}

async function listWindows(connection: SweepConnection): Promise<WindowRow[]> {
  const rows = (await connection.query<WindowRow>('select * from hooklane_partition_windows()')).rows;
  return rows.map((row) => ({
    ...row,
    from_at: row.from_at === null ? null : new Date(row.from_at),
    to_at: row.to_at === null ? null : new Date(row.to_at),
  }));
}

interface TenantRetention {
  id: string;
  retentionMs: number;
}

async function tenantRetentions(connection: SweepConnection, defaultMs: number): Promise<TenantRetention[]> {
  const rows = (await connection.query<{ id: string; retention_ms: string | null }>('select id, quota_retention_ms as retention_ms from tenants order by id')).rows;
  return rows.map((row) => ({ id: row.id, retentionMs: row.retention_ms === null ? defaultMs : Number(row.retention_ms) }));
}

/** A partition left detached-but-pending, or detached and not dropped, by a sweep that stopped. */
async function finishInterruptedDrops(connection: SweepConnection): Promise<void> {
  for (const partition of await listWindows(connection)) {
    if (partition.attached && partition.detach_pending) {
      await connection.query(`alter table public.${ident(partition.table_name)} detach partition public.${ident(partition.partition_name)} finalize`);
      await connection.query(`drop table public.${ident(partition.partition_name)}`);
    } else if (!partition.attached) {
      await connection.query(`drop table public.${ident(partition.partition_name)}`);
    }
  }
}

async function dropExpiredWindows(connection: SweepConnection, horizon: Date, report: SweepReport): Promise<void> {
  const windows = await listWindows(connection);
  const expired = new Map<string, WindowRow[]>();
  for (const partition of windows) {
    if (!partition.attached || partition.window_name === null || partition.window_name === 'beyond') continue;
    if (partition.to_at === null || partition.to_at > horizon) continue;
    expired.set(partition.window_name, [...(expired.get(partition.window_name) ?? []), partition]);
  }
  const oldestFirst = [...expired.entries()].sort(([, a], [, b]) => a[0]!.to_at!.getTime() - b[0]!.to_at!.getTime());
  for (const [name, partitions] of oldestFirst) {
    const bounds = windowBounds(partitions[0]!);
    if (await holdsUnfinishedDeliveries(connection, bounds)) {
      report.windowsKept.push(name);
      continue;
    }
    await clearBefore(connection, bounds, report);
    for (const table of DROP_ORDER) {
      const partition = partitions.find((p) => p.table_name === table);
      if (!partition) continue;
      // Outside a transaction block, as DETACH ... CONCURRENTLY requires.
      await connection.query(`alter table public.${ident(table)} detach partition public.${ident(partition.partition_name)} concurrently`);
      await connection.query(`drop table public.${ident(partition.partition_name)}`);
    }
    // A replay made while the window was being dropped: its delivery would point at nothing.
    report.laterDeliveriesDeleted += await deleteLaterDeliveries(connection, bounds);
    report.windowsDropped.push(name);
  }
}

/** A window's bounds as ids of events and of deliveries ('' below the first window). */
interface WindowBounds {
  eventsFrom: string;
  eventsTo: string;
  deliveriesFrom: string;
  deliveriesTo: string;
}

function windowBounds(partition: WindowRow): WindowBounds {
  const to = partition.to_at!;
  return {
    eventsFrom: partition.from_at ? idAt('event', partition.from_at) : '',
    eventsTo: idAt('event', to),
    deliveriesFrom: partition.from_at ? idAt('delivery', partition.from_at) : '',
    deliveriesTo: idAt('delivery', to),
  };
}

/**
 * A delivery still to end in the window: its own PENDING ones (their partial index), its own HELD
 * ones (by subscription, the index every read of held deliveries uses), or one of its events' made
 * in a later window (a replay; by the events' index, a short range).
 */
async function holdsUnfinishedDeliveries(connection: SweepConnection, bounds: WindowBounds): Promise<boolean> {
  const [row] = (
    await connection.query<{ unfinished: boolean }>(
      `select exists (select from deliveries where id >= $1 and id < $2 and status = 'PENDING')
          or exists (select from subscriptions s
                     where exists (select from deliveries d where d.subscription_id = s.id and d.status = 'HELD' and d.id >= $1 and d.id < $2))
          or exists (select from deliveries where event_id >= $3 and event_id < $4 and id >= $2 and status::text in ('PENDING', 'HELD'))
        as unfinished`,
      [bounds.deliveriesFrom, bounds.deliveriesTo, bounds.eventsFrom, bounds.eventsTo],
    )
  ).rows;
  return row?.unfinished === true;
}

/** Before a window is dropped: its events' idempotency keys, and their deliveries in later windows. */
async function clearBefore(connection: SweepConnection, bounds: WindowBounds, report: SweepReport): Promise<void> {
  for (;;) {
    const result = await connection.query<{ n: number }>(
      `with gone as (
         delete from event_idempotency_keys k
         using (select tenant_id, idempotency_key from event_idempotency_keys where event_id >= $1 and event_id < $2 limit ${CLEAR_BATCH_SIZE}) x
         where k.tenant_id = x.tenant_id and k.idempotency_key = x.idempotency_key
         returning 1)
       select count(*)::int as n from gone`,
      [bounds.eventsFrom, bounds.eventsTo],
    );
    if ((result.rows[0]?.n ?? 0) < CLEAR_BATCH_SIZE) break;
  }
  report.laterDeliveriesDeleted += await deleteLaterDeliveries(connection, bounds);
}

/** The deliveries of the window's events that live in later windows, with their attempts (hooklane_delete_dependents). */
async function deleteLaterDeliveries(connection: SweepConnection, bounds: WindowBounds): Promise<number> {
  let deleted = 0;
  for (;;) {
    const result = await connection.query<{ n: number }>(
      `with gone as (
         delete from deliveries d
         using (select tenant_id, id from deliveries where event_id >= $1 and event_id < $2 and id >= $3 limit ${CLEAR_BATCH_SIZE}) x
         where d.tenant_id = x.tenant_id and d.id = x.id and d.id >= $3
         returning 1)
       select count(*)::int as n from gone`,
      [bounds.eventsFrom, bounds.eventsTo, bounds.deliveriesTo],
    );
    const n = result.rows[0]?.n ?? 0;
    deleted += n;
    if (n < CLEAR_BATCH_SIZE) return deleted;
  }
}

/** Step 3: tenants take turns, one batch each, until every tenant is done or the budget is spent. */
async function expireWithinPartitions(
  connection: SweepConnection,
  tenants: readonly TenantRetention[],
  longestMs: number,
  now: Date,
  straddlingFrom: string | null,
  options: SweepOptions,
  report: SweepReport,
): Promise<void> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const budgetMs = options.deleteBudgetMs ?? Math.min(300_000, Math.max(1_000, options.sweepIntervalMs / 2));
  const deadline = Date.now() + budgetMs;
  let work = tenants.map((tenant) => {
    const horizon = new Date(now.getTime() - tenant.retentionMs);
    const horizonId = idAt('event', horizon);
    // With the longest retention, rows in the window the horizon falls in wait for its drop.
    const before = tenant.retentionMs < longestMs || straddlingFrom === null || horizonId < straddlingFrom ? horizonId : straddlingFrom;
    return { tenantId: tenant.id, horizon, before, after: '' };
  });
  while (work.length > 0) {
    const next: typeof work = [];
    for (const tenant of work) {
      if (Date.now() > deadline) {
        report.complete = false;
        return;
      }
      const [batch] = (
        await connection.query<{ examined: number; deleted: number; last_id: string | null }>(
          'select * from hooklane_expire_events($1, $2, $3, $4, $5)',
          [tenant.tenantId, tenant.after, tenant.before, tenant.horizon, batchSize],
        )
      ).rows;
      report.eventsDeleted += batch?.deleted ?? 0;
      if (batch && batch.examined === batchSize && batch.last_id !== null) next.push({ ...tenant, after: batch.last_id });
    }
    work = next;
  }
}

/** Partition and table names come from the catalog and match /^[a-z0-9_]+$/; quoted all the same. */
function ident(name: string): string {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`unexpected relation name ${name}`);
  return `"${name}"`;
}
