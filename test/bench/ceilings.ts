/**
 * The two ceilings a delivery cannot beat: graphile-worker's own job throughput (no-op jobs with
 * Hooklane's worker settings) and plain HTTP POSTs to the same receiver at the same concurrency.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Logger as GraphileLogger, run, runMigrations } from 'graphile-worker';
import pg from 'pg';
import postgres from 'postgres';
import { Agent, request } from 'undici';
import { loadConfig } from '../../src/config.js';
import { runnerPoolConfig } from '../../src/worker/runner.js';
import { nowMs, withTimeout } from './clock.js';
import { REPO_ROOT } from './hooklane.js';

export interface WorkerSettings {
  concurrency: number;
  pollIntervalMs: number;
  preset: GraphileConfig.Preset;
  /** WORKER_ASYNC_COMMIT's default: the ceiling's connections commit the way Hooklane's worker's do. */
  asyncCommit: boolean;
  /** Where the preset came from: read out of src/worker/runner.ts, or the mirrored fallback. */
  source: string;
}

function matchingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

/**
 * Hooklane's graphile-worker settings with its default configuration: the `preset` literal of
 * src/worker/runner.ts is read from the file and evaluated with the same `settings`, so the
 * ceiling follows the runner when someone tunes it. If the file no longer has that shape, the
 * values last seen there are used and the report says so.
 */
export function hooklaneWorkerSettings(root = REPO_ROOT): WorkerSettings {
  const config = loadConfig({});
  const settings = { concurrency: config.worker.concurrency, pollIntervalMs: config.worker.pollIntervalMs, databaseUrl: '' };
  const file = path.join(root, 'src/worker/runner.ts');
  try {
    const source = readFileSync(file, 'utf8');
    if (!/concurrency:\s*settings\.concurrency/.test(source) || !/pollInterval:\s*settings\.pollIntervalMs/.test(source)) {
      throw new Error('run() no longer takes concurrency/pollInterval from settings');
    }
    const at = source.indexOf('preset:');
    if (at < 0) throw new Error('no preset in runner.ts');
    const open = source.indexOf('{', at);
    const close = matchingBrace(source, open);
    if (close < 0) throw new Error('unbalanced preset literal');
    const literal = source.slice(open, close + 1);
    const preset = new Function('settings', `return (${literal});`)(settings) as GraphileConfig.Preset;
    return {
      concurrency: settings.concurrency,
      pollIntervalMs: settings.pollIntervalMs,
      preset,
      asyncCommit: config.worker.asyncCommit,
      source: path.relative(process.cwd(), file) || file,
    };
  } catch (error) {
    return {
      concurrency: settings.concurrency,
      pollIntervalMs: settings.pollIntervalMs,
      asyncCommit: config.worker.asyncCommit,
      preset: {
        worker: {
          localQueue: { size: 16 },
          completeJobBatchDelay: 2,
          failJobBatchDelay: 2,
          maxPoolSize: Math.max(10, settings.concurrency),
        },
      },
      source: `mirrored copy (could not read runner.ts: ${(error as Error).message})`,
    };
  }
}

export interface GraphileCeiling {
  jobsPerSec: number;
  jobs: number;
  seconds: number;
  enqueueJobsPerSec: number;
  settings: { concurrency: number; pollIntervalMs: number; asyncCommit: boolean; worker: unknown; source: string };
}

const silentLogger = new GraphileLogger(() => () => {});

/**
 * Enqueues `jobs` no-op jobs shaped like Hooklane's `deliver` jobs (payload, job key, max
 * attempts) with `add_jobs` in batches of 10,000, then times draining them with `run()`: from the
 * first job started to the last one finished; the completions are flushed and checked afterwards.
 */
export async function graphileWorkerCeiling(databaseUrl: string, jobs: number, settings: WorkerSettings): Promise<GraphileCeiling> {
  await runMigrations({ connectionString: databaseUrl, logger: silentLogger });
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const enqueueStart = nowMs();
    for (let offset = 0; offset < jobs; offset += 10_000) {
      const specs = [];
      for (let n = offset; n < Math.min(jobs, offset + 10_000); n++) {
        specs.push({
          identifier: 'noop',
          payload: { tenantId: 'ten_bench', deliveryId: `dlv_${n}` },
          job_key: `deliver:dlv_${n}`,
          max_attempts: 25,
        });
      }
      await sql`select count(*) from graphile_worker.add_jobs(array(
        select json_populate_record(null::graphile_worker.job_spec, spec)
        from json_array_elements(${JSON.stringify(specs)}::text::json) as spec), false)`;
    }
    const enqueueSeconds = (nowMs() - enqueueStart) / 1000;

    let done = 0;
    let firstStart = 0;
    let lastEnd = 0;
    let finish!: () => void;
    const allDone = new Promise<void>((resolve) => (finish = resolve));
    const pool = new pg.Pool(runnerPoolConfig({ databaseUrl, concurrency: settings.concurrency, asyncCommit: settings.asyncCommit }));
    const runner = await run({
      pgPool: pool,
      concurrency: settings.concurrency,
      pollInterval: settings.pollIntervalMs,
      noHandleSignals: true,
      logger: silentLogger,
      taskList: {
        noop: async () => {
          if (firstStart === 0) firstStart = nowMs();
          if (++done === jobs) {
            lastEnd = nowMs();
            finish();
          }
        },
      },
      preset: settings.preset,
    });
    try {
      await withTimeout(`graphile-worker to run ${jobs} no-op jobs`, allDone, Math.max(60_000, jobs * 2));
    } finally {
      await runner.stop();
      await pool.end();
    }
    const [left] = await sql<{ count: number }[]>`select count(*)::int as count from graphile_worker._private_jobs`;
    if ((left?.count ?? 0) !== 0) throw new Error(`graphile-worker ceiling: ${left?.count} jobs left after the drain`);
    const seconds = (lastEnd - firstStart) / 1000;
    return {
      jobsPerSec: jobs / seconds,
      jobs,
      seconds,
      enqueueJobsPerSec: jobs / enqueueSeconds,
      settings: {
        concurrency: settings.concurrency,
        pollIntervalMs: settings.pollIntervalMs,
        asyncCommit: settings.asyncCommit,
        worker: settings.preset.worker,
        source: settings.source,
      },
    };
  } finally {
    await sql.end();
  }
}

export interface HttpCeiling {
  postsPerSec: number;
  posts: number;
  seconds: number;
  concurrency: number;
  bodyBytes: number;
}

/**
 * POSTs a ~200-byte JSON body to the receiver from `concurrency` loops with an undici Agent set up
 * like Hooklane's HttpSender (keep-alive, one request per connection at a time), reading each
 * response body. A short warm-up opens the connections first.
 */
export async function httpCeiling(url: string, posts: number, concurrency: number): Promise<HttpCeiling> {
  const agent = new Agent({ pipelining: 1, keepAliveTimeout: 4_000, keepAliveMaxTimeout: 30_000, connections: null });
  const body = JSON.stringify({
    type: 'bench.ceiling',
    timestamp: new Date().toISOString(),
    data: { orderId: 'ord_00000001', amountCents: 1234, currency: 'EUR', note: 'benchmark payload for the http ceiling' },
  }).padEnd(200, ' ');
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'Hooklane-Webhooks/0.1',
    'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
    'webhook-signature': `v1,${'x'.repeat(44)}`,
  };
  const blast = async (count: number) => {
    let next = 0;
    const loop = async () => {
      while (next < count) {
        next++;
        const response = await request(url, { method: 'POST', headers, body, dispatcher: agent, headersTimeout: 15_000, bodyTimeout: 15_000 });
        await response.body.text();
        if (response.statusCode !== 200) throw new Error(`receiver answered ${response.statusCode}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
  };
  try {
    await withTimeout('HTTP ceiling warm-up', blast(Math.min(2_000, posts)), 60_000);
    const started = nowMs();
    await withTimeout(`${posts} POSTs to the receiver`, blast(posts), Math.max(60_000, posts * 2));
    const seconds = (nowMs() - started) / 1000;
    return { postsPerSec: posts / seconds, posts, seconds, concurrency, bodyBytes: Buffer.byteLength(body) };
  } finally {
    await agent.close();
  }
}
