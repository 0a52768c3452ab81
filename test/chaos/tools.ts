/**
 * What the chaos scenarios share: a GraphQL call that classifies its outcome (never hangs), a
 * bounded publisher, tenant set-up, and the ledger that compares acknowledged events with what
 * the receivers got and what the database recorded.
 */
import { Agent, request } from 'undici';
import type { Sql } from 'postgres';
import { signHs256Token } from '../../src/auth/jwt.js';
import { RETENTION_SWEEP_JOB_KEY } from '../../src/db/jobs.js';
import { nowMs, percentile, round, sleep } from '../bench/clock.js';
import type { ReceiverDump } from './receiver.js';

export const CONTRACT_CODES = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT', 'CONFLICT', 'QUOTA_EXCEEDED', 'INTERNAL_SERVER_ERROR']);

export type CallOutcome =
  | { kind: 'ok'; data: any; ms: number; status: number }
  | { kind: 'error'; code: string | undefined; message: string; ms: number; status: number }
  /** No answer within the client's timeout: a hang. */
  | { kind: 'timeout'; ms: number }
  /** Refused or reset connection, or not JSON. */
  | { kind: 'transport'; message: string; ms: number; status?: number };

const agent = new Agent({ connections: 32, keepAliveTimeout: 10_000, keepAliveMaxTimeout: 30_000 });

export async function gql(url: string, token: string, query: string, variables?: Record<string, unknown>, timeoutMs = 10_000): Promise<CallOutcome> {
  const started = nowMs();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await request(url, {
      method: 'POST',
      dispatcher: agent,
      signal: controller.signal,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.body.text();
    const ms = nowMs() - started;
    let parsed: { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
    try {
      parsed = JSON.parse(text);
    } catch {
      return { kind: 'transport', message: `HTTP ${response.statusCode}, not JSON: ${text.slice(0, 120)}`, ms, status: response.statusCode };
    }
    if (parsed.errors?.length) {
      return { kind: 'error', code: parsed.errors[0]!.extensions?.code, message: parsed.errors[0]!.message, ms, status: response.statusCode };
    }
    return { kind: 'ok', data: parsed.data, ms, status: response.statusCode };
  } catch (error) {
    const ms = nowMs() - started;
    if (controller.signal.aborted) return { kind: 'timeout', ms };
    return { kind: 'transport', message: (error as Error).message, ms };
  } finally {
    clearTimeout(timer);
  }
}

export async function gqlOk<T = any>(url: string, token: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const outcome = await gql(url, token, query, variables, 30_000);
  if (outcome.kind !== 'ok') throw new Error(`GraphQL call failed: ${JSON.stringify(outcome)}`);
  return outcome.data as T;
}

export interface Tenant {
  id: string;
  token: string;
  eventType: string;
  subscriptions: { id: string; url: string; path: string }[];
}

/** A tenant with one event type and one subscription per URL. */
export async function setUpTenant(apiUrl: string, secret: string, eventType: string, urls: string[]): Promise<Tenant> {
  const admin = await signHs256Token(secret, { sub: 'chaos-admin', roles: ['admin'] }, { expiresIn: '2h' });
  const created = await gqlOk(apiUrl, admin, 'mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { id } } }', {
    input: { name: `chaos ${eventType}` },
  });
  const id = created.createTenant.tenant.id as string;
  const token = await signHs256Token(secret, { sub: `chaos-${id}`, tenant_id: id }, { expiresIn: '2h' });
  await gqlOk(apiUrl, token, 'mutation($input: CreateEventTypeInput!) { createEventType(input: $input) { eventType { id } } }', {
    input: { name: eventType },
  });
  const subscriptions: Tenant['subscriptions'] = [];
  for (const url of urls) {
    const data = await gqlOk(apiUrl, token, 'mutation($input: CreateSubscriptionInput!) { createSubscription(input: $input) { subscription { id } } }', {
      input: { url, eventTypes: [eventType] },
    });
    subscriptions.push({ id: data.createSubscription.subscription.id, url, path: new URL(url).pathname });
  }
  return { id, token, eventType, subscriptions };
}

const PUBLISH = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }';

export interface PublishLog {
  /** Acknowledged events: id, when the request was sent and when it was answered (monotonic ms). */
  acked: { id: string; sentAt: number; ackedAt: number }[];
  /** Refusals by code ('timeout' and 'transport' for answers that were not GraphQL). */
  failures: Map<string, number>;
  /** Failures with their time, for attributing them to a phase. */
  failureLog: { at: number; what: string; ms: number }[];
  maxMs: number;
}

export function emptyLog(): PublishLog {
  return { acked: [], failures: new Map(), failureLog: [], maxMs: 0 };
}

/**
 * Publishes with `concurrency` callers, each at most `ratePerCaller` per second, until `until()`
 * says stop or `maxMs` passes; round-robin over `apiUrls()` (which may change as processes restart).
 */
export async function publishLoad(options: {
  apiUrls: () => string[];
  token: string;
  eventType: string;
  concurrency: number;
  ratePerCaller: number;
  maxMs: number;
  maxEvents?: number;
  until?: () => boolean;
  log?: PublishLog;
  timeoutMs?: number;
}): Promise<PublishLog> {
  const log = options.log ?? emptyLog();
  const deadline = nowMs() + options.maxMs;
  const gap = 1000 / options.ratePerCaller;
  let n = 0;
  const caller = async (index: number) => {
    for (let turn = 0; turn < 1_000_000; turn++) {
      if (nowMs() > deadline || options.until?.()) return;
      if (options.maxEvents !== undefined && n >= options.maxEvents) return;
      const seq = n++;
      const urls = options.apiUrls();
      const url = urls[(seq + index) % urls.length]!;
      const sentAt = nowMs();
      const outcome = await gql(url, options.token, PUBLISH, { input: { eventType: options.eventType, payload: { seq, at: Date.now() } } }, options.timeoutMs ?? 10_000);
      const ackedAt = nowMs();
      log.maxMs = Math.max(log.maxMs, ackedAt - sentAt);
      if (outcome.kind === 'ok') log.acked.push({ id: outcome.data.publishEvent.event.id, sentAt, ackedAt });
      else {
        const what = outcome.kind === 'error' ? (outcome.code ?? 'NO_CODE') : outcome.kind;
        log.failures.set(what, (log.failures.get(what) ?? 0) + 1);
        log.failureLog.push({ at: sentAt, what, ms: ackedAt - sentAt });
        // Back off a little on failure so that a down database is not hammered.
        await sleep(100);
      }
      const wait = gap - (nowMs() - sentAt);
      if (wait > 0) await sleep(wait);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, (_, i) => caller(i)));
  return log;
}

/** A span of the run, in the monotonic milliseconds of `nowMs()`. */
export interface Span {
  from: number;
  until: number;
}

/**
 * What every scenario must show of its publishes, whatever else it checks: some were acknowledged
 * (a run in which every publish failed proves nothing about delivery), and none failed outside the
 * outage the scenario injects on the publish path (`outage`; none: no publish may fail at all).
 */
export function publishViolations(log: PublishLog, outage?: Span): string[] {
  const violations: string[] = [];
  if (log.acked.length === 0) violations.push(`no publish was acknowledged (${log.failureLog.length} failed): nothing was checked`);
  const outside = log.failureLog.filter((failure) => !outage || failure.at + failure.ms < outage.from || failure.at > outage.until);
  if (outside.length > 0) {
    const byWhat: Record<string, number> = {};
    for (const failure of outside) byWhat[failure.what] = (byWhat[failure.what] ?? 0) + 1;
    const where = outage ? 'outside the injected outage' : 'with no outage on the publish path';
    violations.push(`${outside.length} publishes failed ${where}: ${JSON.stringify(byWhat)}`);
  }
  return violations;
}

export interface Ledger {
  published: number;
  delivered: number;
  lost: number;
  duplicates: number;
  lostIds: string[];
}

/** Acknowledged events vs. 2xx answers at one receiver path. */
export function ledger(ids: readonly string[], dump: ReceiverDump, path: string): Ledger {
  let delivered = 0;
  let duplicates = 0;
  const lostIds: string[] = [];
  for (const id of ids) {
    const key = `${id} ${path}`;
    if ((dump.successes.get(key) ?? 0) > 0) delivered++;
    else lostIds.push(id);
    duplicates += Math.max(0, (dump.requests.get(key) ?? 0) - 1);
  }
  return { published: ids.length, delivered, lost: lostIds.length, duplicates, lostIds };
}

/** Polls until `done()` or the deadline, or until `progress()` has not changed for `stallMs`. */
export async function waitProgress(options: {
  done: () => Promise<boolean>;
  progress: () => Promise<number>;
  timeoutMs: number;
  stallMs: number;
  intervalMs?: number;
}): Promise<{ done: boolean; ms: number; reason: 'done' | 'timeout' | 'stalled' }> {
  const started = nowMs();
  let last = -1;
  let lastChange = nowMs();
  for (let i = 0; i < 100_000; i++) {
    if (await options.done()) return { done: true, ms: nowMs() - started, reason: 'done' };
    const value = await options.progress();
    if (value !== last) {
      last = value;
      lastChange = nowMs();
    }
    if (nowMs() - started > options.timeoutMs) return { done: false, ms: nowMs() - started, reason: 'timeout' };
    if (nowMs() - lastChange > options.stallMs) return { done: false, ms: nowMs() - started, reason: 'stalled' };
    await sleep(options.intervalMs ?? 250);
  }
  return { done: false, ms: nowMs() - started, reason: 'timeout' };
}

/** Deliveries of the database by status. */
export async function statusCounts(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql<{ status: string; n: number }[]>`select status::text, count(*)::int as n from deliveries group by status`;
  return Object.fromEntries(rows.map((row) => [row.status, row.n]));
}

/** graphile-worker's jobs but the self-scheduling retention sweep: total, locked, and locked by the given worker ids. */
export async function jobCounts(sql: Sql, deadWorkers: readonly string[] = []): Promise<{ total: number; locked: number; lockedByDead: number; failedOut: number }> {
  const [row] = await sql<{ total: number; locked: number; dead: number; failed: number }[]>`
    select count(*)::int as total,
      count(*) filter (where locked_by is not null)::int as locked,
      count(*) filter (where locked_by = any(${deadWorkers as string[]}::text[]))::int as dead,
      count(*) filter (where attempts >= max_attempts)::int as failed
    from graphile_worker._private_jobs
    where key is distinct from ${RETENTION_SWEEP_JOB_KEY}`;
  return { total: row!.total, locked: row!.locked, lockedByDead: row!.dead, failedOut: row!.failed };
}

/**
 * The deliveries each graphile-worker job works on, with who has it locked: a `deliver` job's one
 * (its key), a `deliver_batch` job's several (its payload). Ordered streams' jobs name no delivery.
 */
export function jobDeliveries(sql: Sql) {
  return sql`
    select substr(j.key, length('deliver:') + 1) as delivery_id, j.locked_by from graphile_worker._private_jobs j
    where j.key like 'deliver:%'
    union all
    select ids.id, j.locked_by from graphile_worker._private_jobs j
      cross join lateral json_array_elements_text(j.payload -> 'deliveryIds') as ids(id)
    where json_typeof(j.payload -> 'deliveryIds') = 'array'`;
}

/**
 * PENDING deliveries that nothing will ever pick up: no job for them at all (the job finished or
 * was dropped while the delivery is still PENDING).
 */
export async function orphanedDeliveries(sql: Sql): Promise<{ count: number; claimed: number; sample: string[] }> {
  const rows = await sql<{ id: string; claimed: boolean }[]>`
    with job_deliveries as (${jobDeliveries(sql)})
    select d.id, (d.claimed_until is not null) as claimed from deliveries d
    where d.status = 'PENDING' and not exists (select 1 from job_deliveries jd where jd.delivery_id = d.id)`;
  return { count: rows.length, claimed: rows.filter((row) => row.claimed).length, sample: rows.slice(0, 3).map((row) => row.id) };
}

export function latencySummary(values: readonly number[]): { p50: number | undefined; p95: number | undefined; max: number | undefined; n: number } {
  return {
    p50: round(percentile(values, 50), 0),
    p95: round(percentile(values, 95), 0),
    max: round(values.length ? Math.max(...values) : undefined, 0),
    n: values.length,
  };
}

export function seconds(ms: number | undefined): number | null {
  return ms === undefined ? null : Math.round(ms / 100) / 10;
}
