/**
 * `npm run chaos -- [--quick] [--json <file>] [--only <name,...>]`: Hooklane under failure, with
 * real processes: its own embedded PostgreSQL (which the harness can restart), Hooklane started
 * as a user would (`node dist/main.js` with environment variables), and receivers on
 * 127.0.0.1. Each scenario reports published, delivered, lost (must be 0), duplicates and
 * recoverySeconds, plus violations (exit code 1) and findings. Every scenario requires acknowledged
 * publishes and no failed publish outside the outage it injects; latency and memory go to the
 * report (details, findings), never into the pass condition, but for noisy-neighbour's, which
 * compares tenant B's publish p99 with B's own baseline measured in the same run.
 *
 *   worker-killed      ROLE=api + ROLE=worker; SIGKILL the worker 3 (quick) / 5 times under load
 *   postgres-restart   PostgreSQL stopped and started again under load
 *   postgres-crash     PostgreSQL crashed (immediate shutdown) and started again under load
 *   hostile-receivers  500s, resets, hangs, 10 MB bodies, slow drip next to a healthy receiver
 *   scale-out          2 × ROLE=api + 3 × ROLE=worker on one PostgreSQL
 *   graceful-shutdown  SIGTERM with deliveries in flight
 *   noisy-neighbour    tenant B at 50/s, alone and then while tenant A attacks with hostile schemas,
 *                      replays, the costliest queries and a backlog to endpoints that hang
 *
 * Every loop is bounded in count and time; all traffic stays on 127.0.0.1; every child process and
 * the PostgreSQL are stopped on every exit path.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nowMs } from '../bench/clock.js';
import { ChaosPostgres, type HooklaneNode } from './cluster.js';
import { ChaosReceiver } from './receiver.js';
import {
  gracefulShutdown,
  hostileReceivers,
  noisyNeighbour,
  postgresCrash,
  postgresRestart,
  scaleOut,
  workerKilled,
  type ScenarioContext,
  type ScenarioResult,
} from './scenarios.js';

const SCENARIOS: Record<string, (ctx: ScenarioContext) => Promise<ScenarioResult>> = {
  'worker-killed': workerKilled,
  'postgres-restart': postgresRestart,
  'postgres-crash': postgresCrash,
  'hostile-receivers': hostileReceivers,
  'scale-out': scaleOut,
  'graceful-shutdown': gracefulShutdown,
  'noisy-neighbour': noisyNeighbour,
};

const USAGE = `usage: npm run chaos -- [--quick] [--json <file>] [--only ${Object.keys(SCENARIOS).join(',')}]`;

function parseArgs(argv: string[]): { quick: boolean; json?: string; only?: string[] } {
  const options: { quick: boolean; json?: string; only?: string[] } = { quick: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') options.quick = true;
    else if (arg === '--json') options.json = path.resolve(argv[++i] ?? '');
    else if (arg.startsWith('--json=')) options.json = path.resolve(arg.slice(7));
    else if (arg === '--only') options.only = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${arg} (${USAGE})`);
  }
  for (const name of options.only ?? []) if (!SCENARIOS[name]) throw new Error(`unknown scenario ${name} (${USAGE})`);
  return options;
}

function printTable(results: ScenarioResult[]): void {
  const rows = results.map((r) => [
    r.name,
    r.ok ? 'ok' : 'FAIL',
    String(r.published),
    String(r.delivered),
    String(r.lost),
    String(r.duplicates),
    r.recoverySeconds === null ? '—' : String(r.recoverySeconds),
    r.seconds === undefined ? '' : String(r.seconds),
  ]);
  const header = ['scenario', 'result', 'published', 'delivered', 'lost', 'duplicates', 'recovery s', 'took s'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
  console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const row of rows) console.log(line(row));
  for (const r of results) {
    for (const violation of r.violations) console.log(`  ✗ ${r.name}: ${violation}`);
    for (const finding of r.findings) console.log(`  ! ${r.name}: ${finding}`);
  }
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const started = nowMs();
  const workDir = path.join(os.tmpdir(), `hooklane-chaos-run-${process.pid}`);
  mkdirSync(workDir, { recursive: true });
  const log = (line: string) => console.log(`[chaos] ${line}`);
  const nodes = new Set<HooklaneNode>();
  let pg: ChaosPostgres | undefined;
  let receiver: ChaosReceiver | undefined;
  const cleanUpNow = () => {
    for (const n of nodes) n.killNow();
  };
  process.once('exit', cleanUpNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanUpNow();
      process.exit(130);
    });
  }
  const results: ScenarioResult[] = [];
  try {
    log(`${options.quick ? 'quick' : 'full'} run; logs in ${workDir}`);
    pg = await ChaosPostgres.start(log);
    receiver = await ChaosReceiver.start();
    const ctx: ScenarioContext = { pg, receiver, quick: options.quick, workDir, secret: randomBytes(32).toString('hex'), log, nodes };
    for (const [name, scenario] of Object.entries(SCENARIOS)) {
      if (options.only && !options.only.includes(name)) continue;
      const scenarioStarted = nowMs();
      log(`scenario ${name}…`);
      let r: ScenarioResult;
      try {
        r = await scenario(ctx);
      } catch (error) {
        r = {
          name,
          published: 0,
          delivered: 0,
          lost: 0,
          duplicates: 0,
          recoverySeconds: null,
          ok: false,
          violations: [`the scenario itself failed: ${(error as Error).stack ?? String(error)}`.slice(0, 2000)],
          findings: [],
          details: {},
        };
      }
      r.seconds = Math.round((nowMs() - scenarioStarted) / 100) / 10;
      log(`${name}: ${r.ok ? 'ok' : 'FAIL'} in ${r.seconds}s — published ${r.published}, delivered ${r.delivered}, lost ${r.lost}, duplicates ${r.duplicates}, recovery ${r.recoverySeconds}s`);
      results.push(r);
    }
  } finally {
    for (const n of nodes) await n.close().catch(() => {});
    await receiver?.close().catch(() => {});
    await pg?.destroy().catch(() => {});
  }
  printTable(results);
  const totalSeconds = Math.round((nowMs() - started) / 1000);
  console.log(`\nchaos ${options.quick ? '--quick ' : ''}took ${totalSeconds}s; Hooklane logs: ${workDir}`);
  if (options.json) {
    writeFileSync(
      options.json,
      `${JSON.stringify({ mode: options.quick ? 'quick' : 'full', at: new Date().toISOString(), totalSeconds, ok: results.every((r) => r.ok), scenarios: results }, null, 2)}\n`,
    );
    console.log(`JSON report: ${options.json}`);
  }
  return results.every((r) => r.ok) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
