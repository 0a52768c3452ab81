/**
 * Hooklane's server entry (what `npm start` runs) as a child process, for the tests of start-up,
 * signals and shutdown. Every such test starts it through `startServerProcess`, so the entry is
 * named in one place: SERVER_ENTRY.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

/** The arguments to `node` that run the server entry (the build: call ensureBuilt in a beforeAll), from the repository's root. */
export const SERVER_ENTRY: readonly string[] = ['dist/main.js'];

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves when the process has exited and its output is read. */
  readonly exit: Promise<Exit>;
  /** Resolves with the first stdout line matching `pattern`, waiting for it if need be. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends `signal` to the process, or to its whole process group (as Ctrl-C or systemd do) when started with `ownProcessGroup`. */
  signal(signal: NodeJS.Signals): void;
  /** SIGKILLs it (its group too, with `ownProcessGroup`) if it still runs. */
  kill(): Promise<void>;
}

export interface ServerProcessOptions {
  /** Environment variables on top of the machine's own, from which every Hooklane setting is removed. */
  env?: Record<string, string>;
  /** Arguments after the entry (`migrate`). */
  args?: string[];
  /** Its own process group (spawn `detached`), which `signal` then reaches as a whole. */
  ownProcessGroup?: boolean;
  /** Through `npm start` rather than the entry itself. */
  viaNpmStart?: boolean;
  /** A copy of the repository to run from instead of this one. */
  cwd?: string;
}

/** The machine's environment without Hooklane's settings (a developer's shell may have some). */
export function cleanEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  const hooklaneSetting =
    /^(ROLE|DATABASE_URL|DATA_DIR|HOST|PORT|AUTH_.*|SECRETS_KEY|DELIVERY_.*|SUBSCRIPTION_.*|WORKER_.*|GRAPHQL_.*|QUOTA_.*|LOG_LEVEL|SHUTDOWN_TIMEOUT|METRICS_.*|VITEST.*|TEST_DATABASE_URL)$/;
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !hooklaneSetting.test(name)) env[name] = value;
  return env;
}

export function startServerProcess(options: ServerProcessOptions = {}): ServerProcess {
  const [command, args] = options.viaNpmStart
    ? ['npm', ['start', '--silent', ...(options.args?.length ? ['--', ...options.args] : [])]]
    : [process.execPath, [...SERVER_ENTRY, ...(options.args ?? [])]];
  const child = spawn(command, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...cleanEnvironment(), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.ownProcessGroup ?? false,
  });
  let stdout = '';
  let stderr = '';
  const lineWaiters = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    for (const waiter of lineWaiters) waiter();
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exit = new Promise<Exit>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  let exited = false;
  void exit.then(() => {
    exited = true;
    for (const waiter of lineWaiters) waiter();
  });

  const signalTarget = () => (options.ownProcessGroup ? -child.pid! : child.pid!);
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exit,
    waitForLine(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = stdout.split('\n').find((candidate) => pattern.test(candidate));
          if (line !== undefined || exited) {
            lineWaiters.delete(check);
            clearTimeout(timer);
            if (line !== undefined) resolve(line);
            else reject(new Error(`exited before printing ${pattern}:\n${stdout}\n${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          lineWaiters.delete(check);
          reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${stdout}\n${stderr}`));
        }, timeoutMs);
        lineWaiters.add(check);
        check();
      });
    },
    signal(signal) {
      process.kill(signalTarget(), signal);
    },
    async kill() {
      if (exited) return;
      try {
        process.kill(signalTarget(), 'SIGKILL');
      } catch {
        // Gone already.
      }
      await exit;
    },
  };
}

/** Whether a process with this id runs (an ended one that its parent has not reaped yet does not). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}

/**
 * For a describe block of tests that start servers: `cleanups` run after each test (last first),
 * and `folder()` makes a temporary folder the embedded PostgreSQL's user can enter (under root
 * too), removed after the test.
 */
export function scratchFolders(prefix: string): { cleanups: (() => Promise<unknown>)[]; folder: () => Promise<string> } {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });
  const folder = async () => {
    const created = await mkdtemp(path.join(os.tmpdir(), prefix));
    await chmod(created, 0o755);
    cleanups.push(() => rm(created, { recursive: true, force: true }));
    return created;
  };
  return { cleanups, folder };
}
