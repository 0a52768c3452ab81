import { constants as fsConstants, existsSync, readFileSync } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { lookup } from 'node:dns/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type postgres from 'postgres';
import type { Config } from '../config.js';

// Modules a command needs are loaded when it runs, so that `hooklane --help` starts quickly.

// `hooklane <command>`: one entry point for running, migrating and checking a Hooklane installation.
// The bin shim (src/cli/bin.js) runs this file's build, dist/cli/hooklane.js.

const USAGE = `Usage: hooklane <command> [options]

Commands:
  serve     run the API and the delivery worker in one process (ROLE=all), like \`npm start\`
  api       run only the GraphQL API (ROLE=api)
  worker    run only the delivery worker (ROLE=worker)
  migrate   apply the database migrations and exit
  token     print a signed JWT: --admin | --tenant <id>
  doctor    check the configuration, database, migrations, authentication and (--url) a receiver

Options:
  -h, --help     show this help (every command has its own: hooklane <command> --help)
  -v, --version  print Hooklane's version

Configuration comes from environment variables (DATABASE_URL, DATA_DIR, AUTH_JWT_SECRET, ...):
see docs/configuration.md.`;

const RUN_USAGE = (command: string, role: string, what: string) => `Usage: hooklane ${command} [--host <host>] [--port <port>]

Runs ${what} (ROLE=${role}) until SIGINT or SIGTERM. Applies the migrations first. Without
DATABASE_URL it runs an embedded PostgreSQL in DATA_DIR; without AUTH_* it prints a development
admin token.

Options:
  --host <host>  listen address (overrides HOST, default 127.0.0.1)
  --port <port>  listen port (overrides PORT, default 4000)
  -h, --help     show this help`;

const MIGRATE_USAGE = `Usage: hooklane migrate

Applies Hooklane's database migrations (drizzle/ and graphile-worker's schema) to DATABASE_URL,
or to the embedded PostgreSQL in DATA_DIR, and exits. Start-up applies them too.

Options:
  -h, --help  show this help`;

const DOCTOR_USAGE = `Usage: hooklane doctor [--url <receiver url>] [--method HEAD|POST]

Checks, printing one line each (✓ passed, ✗ failed, ! passed with a warning, – skipped), and
exits 1 if any failed:
  - the configuration (environment variables) parses, AUTH_JWT_SECRET is at least 32 bytes and
    AUTH_JWKS_URL comes with AUTH_AUDIENCE (or AUTH_AUDIENCE_ANY=true)
  - the database answers (DATABASE_URL), or, in embedded mode, DATA_DIR is writable
  - every migration in drizzle/ is applied and graphile-worker's schema exists
  - with DATABASE_READ_URL: the read database answers, whether it is a replica (read-only, and
    how far it lags) or accepts writes, and that its user may take on the row-level-security role
  - authentication: AUTH_JWT_SECRET or AUTH_JWKS_URL with DATABASE_URL; in embedded mode, the
    development secret
  - secrets: SECRETS_KEY, or in embedded mode the development key in DATA_DIR (a warning with
    DATABASE_URL)
  - with --url: the receiver URL is allowed (DELIVERY_ALLOW_PRIVATE_NETWORKS) and answers

Options:
  --url <url>      a webhook receiver to try
  --method <verb>  HEAD (default) or POST (an unsigned empty JSON object) for --url
  -h, --help       show this help`;

const RUN_COMMANDS = {
  serve: { role: 'all', what: 'the API and the delivery worker' },
  api: { role: 'api', what: 'only the GraphQL API' },
  worker: { role: 'worker', what: 'only the delivery worker' },
} as const;

function packageVersion(): string {
  const file = fileURLToPath(new URL('../../package.json', import.meta.url));
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

/** Starts main.ts as `npm start` / `npm run migrate` would, in this process. */
async function runMain(argv: string[]): Promise<void> {
  const mainModule = fileURLToPath(new URL('../main.js', import.meta.url));
  // main.ts reads its command from process.argv[2] and runs on import.
  process.argv = [process.argv[0]!, mainModule, ...argv];
  await import('../main.js');
}

async function runCommand(command: keyof typeof RUN_COMMANDS, args: string[]): Promise<number | undefined> {
  const { role, what } = RUN_COMMANDS[command];
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(RUN_USAGE(command, role, what));
    return 0;
  }
  process.env.ROLE = role;
  if (values.host !== undefined) process.env.HOST = values.host;
  if (values.port !== undefined) process.env.PORT = values.port;
  await runMain([]);
  return undefined; // keeps running
}

async function migrateCommand(args: string[]): Promise<number | undefined> {
  const { values } = parseArgs({ args, options: { help: { type: 'boolean', short: 'h', default: false } } });
  if (values.help) {
    console.log(MIGRATE_USAGE);
    return 0;
  }
  await runMain(['migrate']);
  return undefined; // main.ts exits when done
}

// ---------------------------------------------------------------------------------------------
// doctor

interface CheckResult {
  ok: boolean;
  message: string;
  /** Neither passed nor failed: shown with "–". */
  skipped?: boolean;
  warning?: boolean;
}

const pass = (message: string): CheckResult => ({ ok: true, message });
/** Passes, but worth the operator's attention: shown with "!". */
const warn = (message: string): CheckResult => ({ ok: true, warning: true, message });
const fail = (message: string): CheckResult => ({ ok: false, message });
const skip = (message: string): CheckResult => ({ ok: true, skipped: true, message });

function report(result: CheckResult): boolean {
  console.log(`${result.skipped ? '–' : result.warning ? '!' : result.ok ? '✓' : '✗'} ${result.message}`);
  return result.ok;
}

function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describeError(error.errors[0]);
  const err = error as { code?: string; message?: string; cause?: unknown };
  const message = err?.message || err?.code || String(error);
  if (err?.cause && (err.message === 'fetch failed' || !err.message)) return `${message}: ${describeError(err.cause)}`;
  return message;
}

/** Hides the password of a database URL. */
function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(unparseable URL)';
  }
}

async function writableDirectory(dir: string): Promise<CheckResult> {
  let probe = dir;
  // DATA_DIR may not exist yet: start-up creates it, so its nearest existing ancestor must be writable.
  while (!existsSync(probe) && path.dirname(probe) !== probe) probe = path.dirname(probe);
  try {
    if (!(await stat(probe)).isDirectory()) return fail(`DATA_DIR: ${probe} is not a directory`);
    await access(probe, fsConstants.W_OK | fsConstants.X_OK);
  } catch (error) {
    return fail(`DATA_DIR: ${probe} is not writable (${describeError(error)})`);
  }
  return pass(probe === dir ? `DATA_DIR ${dir} is writable` : `DATA_DIR ${dir} does not exist yet; ${probe} is writable, so start-up can create it`);
}

async function checkMigrations(sql: postgres.Sql): Promise<CheckResult[]> {
  const { MIGRATIONS_FOLDER } = await import('../db/migrate.js');
  const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as {
    entries: { tag: string; when: number }[];
  };
  const results: CheckResult[] = [];
  const [table] = await sql<{ present: boolean }[]>`select to_regclass('drizzle.__drizzle_migrations') is not null as present`;
  if (!table?.present) {
    results.push(fail(`migrations: none applied (no drizzle.__drizzle_migrations table); run \`hooklane migrate\``));
  } else {
    const rows = await sql<{ created_at: string }[]>`select created_at from drizzle.__drizzle_migrations`;
    const applied = new Set(rows.map((row) => Number(row.created_at)));
    const missing = journal.entries.filter((entry) => !applied.has(entry.when)).map((entry) => entry.tag);
    results.push(
      missing.length === 0
        ? pass(`migrations: up to date (${journal.entries.length} applied, latest ${journal.entries.at(-1)?.tag ?? 'none'})`)
        : fail(`migrations: ${journal.entries.length - missing.length} of ${journal.entries.length} applied, missing ${missing.join(', ')}; run \`hooklane migrate\``),
    );
  }
  const [graphile] = await sql<{ present: boolean }[]>`
    select exists (select 1 from pg_namespace where nspname = 'graphile_worker') as present`;
  results.push(
    graphile?.present
      ? pass('job queue: graphile_worker schema present')
      : fail('job queue: graphile_worker schema missing; run `hooklane migrate`'),
  );
  return results;
}

async function checkDatabase(config: Config): Promise<CheckResult[]> {
  if (!config.databaseUrl) {
    return [
      pass(`database: embedded PostgreSQL (DATABASE_URL is not set), files in ${path.join(config.dataDir, 'postgres')}`),
      await writableDirectory(config.dataDir),
      skip('migrations: the embedded database is migrated at start-up (not checked while it is not running)'),
    ];
  }
  const { default: postgres } = await import('postgres');
  const sql = postgres(config.databaseUrl, { max: 1, connect_timeout: 5, idle_timeout: 1, onnotice: () => {} });
  try {
    let version: string;
    try {
      const [row] = await sql<{ version: string }[]>`select current_setting('server_version') as version`;
      version = row?.version ?? 'unknown';
    } catch (error) {
      return [fail(`database: ${redactUrl(config.databaseUrl)} is not reachable: ${describeError(error)}`)];
    }
    const results = [pass(`database: ${redactUrl(config.databaseUrl)} answers (PostgreSQL ${version})`)];
    try {
      results.push(...(await checkMigrations(sql)));
    } catch (error) {
      results.push(fail(`migrations: could not be read: ${describeError(error)}`));
    }
    return results;
  } finally {
    await sql.end({ timeout: 2 }).catch(() => {});
  }
}

/** DATABASE_READ_URL: reachable, a replica or not (and its lag), and able to take on the application role. */
async function checkReadDatabase(readUrl: string): Promise<CheckResult[]> {
  const { default: postgres } = await import('postgres');
  const { APP_ROLE } = await import('../db/migrate.js');
  const sql = postgres(readUrl, { max: 1, connect_timeout: 5, idle_timeout: 1, onnotice: () => {} });
  const where = `read database: ${redactUrl(readUrl)} (DATABASE_READ_URL)`;
  try {
    let state: { replica: boolean; lag: number | null; roleExists: boolean; member: boolean | null; user: string };
    try {
      const [row] = await sql<typeof state[]>`
        select pg_is_in_recovery() as replica,
          extract(epoch from now() - pg_last_xact_replay_timestamp())::float8 as lag,
          exists (select from pg_roles where rolname = ${APP_ROLE}) as "roleExists",
          (select pg_has_role(current_user, ${APP_ROLE}, 'MEMBER') from pg_roles where rolname = ${APP_ROLE}) as member,
          current_user as "user"`;
      state = row!;
    } catch (error) {
      return [fail(`${where} is not reachable: ${describeError(error)}`)];
    }
    const results = [
      state.replica
        ? pass(`${where} answers: a read-only replica${state.lag === null ? '' : `, last replayed transaction ${Math.max(0, state.lag).toFixed(1)} s ago`}`)
        : warn(`${where} answers, but is not a replica: it accepts writes (Hooklane's read pool opens only read-only transactions there, and gains nothing over DATABASE_URL unless it is another server)`),
    ];
    if (state.roleExists && !state.member) {
      results.push(fail(`read database: its user ${state.user} may not take on ${APP_ROLE}: the API refuses to start; on the primary, run GRANT ${APP_ROLE} TO ${state.user}`));
    }
    return results;
  } finally {
    await sql.end({ timeout: 2 }).catch(() => {});
  }
}

async function checkAuth(config: Config): Promise<CheckResult> {
  const { DEV_SECRET_FILE, missingProductionAuth } = await import('../auth/dev-secret.js');
  if (config.auth.jwtSecret) return pass('authentication: HS256 tokens signed with AUTH_JWT_SECRET');
  if (config.auth.jwksUrl) {
    const audience = config.auth.audience ? `audience ${config.auth.audience}` : 'ANY audience (AUTH_AUDIENCE_ANY=true)';
    try {
      const response = await fetch(config.auth.jwksUrl, { signal: AbortSignal.timeout(5000) });
      const body = (await response.json().catch(() => null)) as { keys?: unknown[] } | null;
      if (!response.ok || !Array.isArray(body?.keys)) return fail(`authentication: AUTH_JWKS_URL ${config.auth.jwksUrl} answered HTTP ${response.status} without a key set`);
      const verified = `authentication: tokens verified with the ${body.keys.length} key(s) at AUTH_JWKS_URL ${config.auth.jwksUrl}, for ${audience}`;
      // Any token the identity provider issues for another application, admin role included, is accepted.
      return config.auth.audience ? pass(verified) : warn(`${verified}: tokens issued for other applications are accepted too`);
    } catch (error) {
      return fail(`authentication: AUTH_JWKS_URL ${config.auth.jwksUrl} is not reachable: ${describeError(error)}`);
    }
  }
  const refusal = missingProductionAuth(config);
  if (refusal) return fail(`authentication: ${refusal.problem}: the API refuses to start; ${refusal.fix}`);
  const file = path.join(config.dataDir, DEV_SECRET_FILE);
  if (existsSync(file)) return pass(`authentication: development secret in ${file} (embedded mode only; set AUTH_JWT_SECRET or AUTH_JWKS_URL with DATABASE_URL)`);
  return fail(`authentication: no AUTH_JWT_SECRET or AUTH_JWKS_URL, and no development secret in ${config.dataDir} yet (\`hooklane serve\` creates one)`);
}

async function checkSecrets(config: Config): Promise<CheckResult> {
  if (config.secretsKey) return pass('secrets: signing secrets are sealed with SECRETS_KEY');
  const { DEV_KEY_FILE } = await import('../secrets/secret-box.js');
  const file = path.join(config.dataDir, DEV_KEY_FILE);
  const where = existsSync(file) ? `the development key in ${file}` : `a development key that start-up creates in ${file}`;
  if (!config.databaseUrl) return pass(`secrets: signing secrets are sealed with ${where} (embedded mode)`);
  // Not refused: the key works, but it sits beside the data, and every process needs a copy.
  return warn(
    `secrets: SECRETS_KEY is not set, so signing secrets are sealed with ${where}, which is for development: ` +
      'set SECRETS_KEY, the same in every process (to the contents of that file if secrets are sealed with it already)',
  );
}

async function checkReceiver(config: Config, raw: string, method: 'HEAD' | 'POST'): Promise<CheckResult> {
  const { checkSubscriptionUrl, isPublicAddress, literalIp, refusalReason } = await import('../delivery/network-policy.js');
  const allowPrivateNetworks = config.delivery.allowPrivateNetworks;
  const checked = checkSubscriptionUrl(raw, { allowPrivateNetworks });
  if (!checked.ok) return fail(`receiver ${raw}: refused: ${checked.reason}${allowPrivateNetworks ? '' : ' (DELIVERY_ALLOW_PRIVATE_NETWORKS=false)'}`);
  const { url } = checked;
  if (literalIp(url.hostname) === null) {
    let addresses: { address: string }[];
    try {
      addresses = await lookup(url.hostname, { all: true });
    } catch (error) {
      return fail(`receiver ${raw}: ${url.hostname} does not resolve: ${describeError(error)}`);
    }
    const refused = allowPrivateNetworks ? undefined : addresses.find(({ address }) => !isPublicAddress(address));
    if (refused) return fail(`receiver ${raw}: refused: ${url.hostname} resolves to ${refusalReason(refused.address)} (DELIVERY_ALLOW_PRIVATE_NETWORKS=false)`);
  }
  const started = Date.now();
  try {
    const response = await fetch(url, {
      method,
      redirect: 'manual',
      headers: { 'user-agent': 'Hooklane-Doctor/1.0', ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
      body: method === 'POST' ? '{}' : undefined,
      signal: AbortSignal.timeout(config.delivery.timeoutMs),
    });
    await response.body?.cancel().catch(() => {});
    return pass(`receiver ${raw}: answered HTTP ${response.status} to ${method} in ${Date.now() - started}ms`);
  } catch (error) {
    const timedOut = (error as Error)?.name === 'TimeoutError';
    return fail(`receiver ${raw}: ${timedOut ? `no answer within DELIVERY_TIMEOUT (${config.delivery.timeoutMs}ms)` : `not reachable: ${describeError(error)}`}`);
  }
}

async function doctorCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      method: { type: 'string', default: 'HEAD' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(DOCTOR_USAGE);
    return 0;
  }
  const method = values.method.toUpperCase();
  if (method !== 'HEAD' && method !== 'POST') {
    console.error(`--method must be HEAD or POST, not ${values.method}`);
    return 1;
  }

  const { ConfigError, loadConfig } = await import('../config.js');
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    report(fail(`configuration: ${error.message.replace(/\n\s*/g, ' ')}`));
    return 1;
  }
  let ok = report(pass(`configuration: ROLE=${config.role}, API on ${config.host}:${config.port}, DATA_DIR ${config.dataDir}`));
  for (const result of await checkDatabase(config)) ok = report(result) && ok;
  if (config.databaseReadUrl) for (const result of await checkReadDatabase(config.databaseReadUrl)) ok = report(result) && ok;
  ok = report(await checkAuth(config)) && ok;
  ok = report(await checkSecrets(config)) && ok;
  if (values.url !== undefined) ok = report(await checkReceiver(config, values.url, method)) && ok;
  return ok ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------

/** Runs `hooklane <argv>`. Resolves to an exit code, or undefined when the command keeps running. */
export async function run(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      console.log(USAGE);
      return command === undefined ? 1 : 0;
    case '-v':
    case '--version':
      console.log(packageVersion());
      return 0;
    case 'serve':
    case 'api':
    case 'worker':
      return runCommand(command, rest);
    case 'migrate':
      return migrateCommand(rest);
    case 'token': {
      const { tokenCommand } = await import('./token.js');
      return tokenCommand(rest, 'hooklane token');
    }
    case 'doctor':
      return doctorCommand(rest);
    default:
      console.error(`Unknown command ${JSON.stringify(command)}.\n\n${USAGE}`);
      return 1;
  }
}

try {
  const code = await run(process.argv.slice(2));
  if (code !== undefined) process.exitCode = code;
} catch (error) {
  // parseArgs errors (unknown option, missing value) are the caller's: print them without a stack.
  if ((error as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`${(error as Error).message}\nRun \`hooklane ${process.argv[2] ?? ''} --help\`.`);
  } else {
    console.error(error);
  }
  process.exitCode = 1;
}
