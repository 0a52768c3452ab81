/**
 * `npm run bench:profile -- [--out <dir>] [--events <n>]`: where Hooklane's CPU goes, phase by
 * phase, with `node --cpu-prof` on the Hooklane child process. Not a measurement of record (the
 * profiler slows everything down); it points at what to fix when a target of `npm run bench` is
 * missed.
 *
 *   publish: publishEvent at concurrency 32 (ROLE=api)
 *   batch:   publishEvents, 1,000 per call (ROLE=api); leaves a backlog of 1-subscription deliveries
 *   drain:   ROLE=worker drains that backlog
 *
 * For each phase it prints the rate, the CPU of Hooklane and PostgreSQL, the functions with the
 * most self time and the packages they belong to, and keeps the .cpuprofile files (open them in
 * Chrome DevTools or speedscope).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nowMs } from './clock.js';
import { adminToken, apiAgent, createEventType, createSubscription, createTenant, GraphQLClient, tenantToken } from './graphql.js';
import { HooklaneProcess, killAllHooklanes, type Role } from './hooklane.js';
import { Ledger } from './ledger.js';
import { cpuSnapshot, cpuUse, publishBatches, publishSingles, succeededCount, waitForCount, type LoadContext } from './load.js';
import { databaseName, enableStatements, resetStatements, startBenchPostgres, STATS_SETTLE_MS, topStatements } from './postgres.js';
import { Receiver } from './receiver.js';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function parseArgs(argv: string[]) {
  const options = { out: path.join(os.tmpdir(), `hooklane-profile-${Date.now()}`), events: 5_000, singles: 2_000 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--out') options.out = path.resolve(argv[++i] ?? '.');
    else if (arg === '--events') options.events = Number(argv[++i]);
    else if (arg === '--singles') options.singles = Number(argv[++i]);
    else throw new Error(`unknown argument ${arg} (usage: npm run bench:profile -- [--out <dir>] [--events <n>] [--singles <n>])`);
  }
  return options;
}

const log = (line: string) => console.log(`[profile ${new Date().toISOString().slice(11, 19)}] ${line}`);

/** Self time per function and per package, in ms, from a .cpuprofile. */
function summarise(file: string, top = 25): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMs = new Map<number, number>();
  profile.samples.forEach((id, index) => selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000));
  const perFunction = new Map<string, number>();
  const perPackage = new Map<string, number>();
  let total = 0;
  for (const [id, ms] of selfMs) {
    const frame = byId.get(id)!.callFrame;
    total += ms;
    const where = frame.url.replace(/^file:\/\//, '');
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where)?.[1] ?? (where.includes('/src/') ? 'hooklane' : where === '' ? `(${frame.functionName || 'native'})` : 'node');
    const name = `${frame.functionName || '(anonymous)'}  ${where.replace(/^.*node_modules\//, '').replace(/^.*\/src\//, 'src/')}:${frame.lineNumber + 1}`;
    perFunction.set(name, (perFunction.get(name) ?? 0) + ms);
    perPackage.set(pkg, (perPackage.get(pkg) ?? 0) + ms);
  }
  const rows = (map: Map<string, number>, count: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, ms]) => `  ${ms.toFixed(0).padStart(7)} ms ${((ms / total) * 100).toFixed(1).padStart(5)}%  ${name}`)
      .join('\n');
  const idle = perPackage.get('((idle))') ?? 0;
  return `sampled ${total.toFixed(0)} ms, busy ${(total - idle).toFixed(0)} ms\nby package:\n${rows(perPackage, 15)}\nby function (self time):\n${rows(perFunction, top)}`;
}

const busyMs = (summary: string) => Number(/busy (\d+) ms/.exec(summary)?.[1] ?? 0);

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  rmSync(options.out, { recursive: true, force: true });
  mkdirSync(options.out, { recursive: true });
  const pg = await startBenchPostgres(log);
  const receiver = await Receiver.start();
  let current: HooklaneProcess | undefined;
  try {
    const databaseUrl = await pg.createDatabase('profile');
    const sql = pg.connect(databaseUrl);
    const jwtSecret = randomBytes(32).toString('hex');
    const agent = apiAgent(64);
    const ledger = new Ledger();
    const statements = await enableStatements(sql);
    const start = async (role: Role, phase: string) => {
      const dir = path.join(options.out, phase);
      mkdirSync(dir, { recursive: true });
      current = await HooklaneProcess.start({
        role,
        databaseUrl,
        jwtSecret,
        logFile: path.join(options.out, 'hooklane.log'),
        nodeArgs: process.env.PROFILE_NODE_ARGS ? process.env.PROFILE_NODE_ARGS.split(' ') : ['--cpu-prof', `--cpu-prof-dir=${dir}`],
      });
      return dir;
    };
    const stop = async (dir: string, what: string, rate: string, cpu: ReturnType<typeof cpuUse>) => {
      await current?.stop();
      current = undefined;
      const files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
      log(`${what}: ${rate}; hooklane ${cpu.hooklanePct?.toFixed(0)}% / postgres ${cpu.postgresPct?.toFixed(0)}% of a core`);
      // tsx runs its loader in a thread with a profile of its own: show the main thread's, the busiest.
      const summaries = files.map((file) => summarise(path.join(dir, file)));
      const busiest = summaries.sort((a, b) => busyMs(b) - busyMs(a))[0];
      if (busiest) console.log(busiest);
      if (statements) {
        await new Promise((resolve) => setTimeout(resolve, STATS_SETTLE_MS));
        const top = (await topStatements(sql, databaseName(databaseUrl), 200)).sort((a, b) => b.totalMs - a.totalMs).slice(0, 12);
        console.log('statements by total time:');
        for (const row of top) console.log(`  ${row.totalMs.toFixed(0).padStart(7)} ms ${String(row.calls).padStart(7)} calls ${row.meanMs.toFixed(2).padStart(7)} ms  ${row.query.slice(0, 110)}`);
        await resetStatements(sql);
      }
    };
    const ctx: LoadContext = {
      receiver,
      sql,
      databaseName: databaseName(databaseUrl),
      ledger,
      hooklane: () => current,
      postmasterPid: () => pg.postmasterPid(),
      statementsEnabled: false,
      log,
    };

    let dir = await start('api', 'publish');
    const admin = new GraphQLClient(current!.graphqlUrl, await adminToken(jwtSecret), agent);
    const tenant = await createTenant(admin, 'profile tenant');
    const client = new GraphQLClient(() => current!.graphqlUrl, await tenantToken(jwtSecret, tenant), agent);
    await createEventType(client, 'profile.one');
    await createSubscription(client, receiver.url('one'), ['profile.one']);
    const target = { client, eventType: 'profile.one', paths: ['/hook/one'] };

    let before = cpuSnapshot(ctx);
    const single = await publishSingles(ctx, target, options.singles, 32);
    await stop(dir, 'publish', `${single.eventsPerSec.toFixed(0)} events/s`, cpuUse(before, cpuSnapshot(ctx)));

    dir = await start('api', 'batch');
    before = cpuSnapshot(ctx);
    const batch = await publishBatches(ctx, target, options.events);
    await stop(dir, 'batch', `${batch.eventsPerSec.toFixed(0)} events/s`, cpuUse(before, cpuSnapshot(ctx)));

    const backlog = options.singles + options.events;
    dir = await start('all', 'drain');
    before = cpuSnapshot(ctx);
    const started = nowMs();
    await waitForCount('drain', () => succeededCount(sql), backlog, { stallMs: 30_000 });
    const seconds = (nowMs() - started) / 1000;
    await stop(dir, 'drain', `${(backlog / seconds).toFixed(0)} deliveries/s (${backlog} in ${seconds.toFixed(1)} s, start-up included)`, cpuUse(before, cpuSnapshot(ctx)));
    await sql.end();
    log(`profiles in ${options.out}`);
  } finally {
    await current?.stop().catch(() => {});
    killAllHooklanes();
    await receiver.close().catch(() => {});
    await pg.stop().catch(() => {});
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
