/**
 * Runs Hooklane as a child process (`node dist/main.js`, as `npm start` does), so that its memory and
 * CPU are its own: finds the process that actually holds the listening socket, waits for
 * GET /readyz, and stops it (SIGTERM, then SIGKILL).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, type WriteStream } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { serverEntry } from '../support/dist.js';
import { nowMs, sleep, waitUntil } from './clock.js';
import { childrenOf, commandLine } from './proc.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export type Role = 'all' | 'api' | 'worker';

/**
 * Exports a committed revision (`git archive <ref>`) into `directory`, with the working tree's
 * node_modules linked in, so that a revision can be benchmarked while the working tree is in flux.
 * Returns the tree's root and the commit it holds.
 */
export function exportRevision(ref: string, directory: string): { root: string; commit: string } {
  const commit = execFileSync('git', ['-C', REPO_ROOT, 'rev-parse', '--verify', `${ref}^{commit}`], { encoding: 'utf8' }).trim();
  const root = path.join(directory, `hooklane-${commit.slice(0, 12)}`);
  mkdirSync(root, { recursive: true });
  execFileSync('sh', ['-c', 'git -C "$1" archive --format=tar "$2" | tar -x -C "$3"', 'sh', REPO_ROOT, commit, root]);
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'));
  return { root, commit };
}

export interface HooklaneOptions {
  role: Role;
  databaseUrl: string;
  jwtSecret: string;
  /** Where the child's stdout and stderr go. */
  logFile: string;
  /** The Hooklane tree to run: the working tree unless a revision was exported. */
  root?: string;
  /** Extra environment (e.g. WORKER_CONCURRENCY); Hooklane's defaults otherwise. */
  env?: Record<string, string>;
  /** Extra Node.js flags (e.g. --cpu-prof) for the child. */
  nodeArgs?: string[];
  startTimeoutMs?: number;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Socket inodes listening on 127.0.0.1:port, from /proc/net/tcp. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  try {
    const lines = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1);
    const wanted = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      // local_address is fields[1], state fields[3] (0A = LISTEN), inode fields[9].
      if (fields[1]?.endsWith(wanted) && fields[3] === '0A' && fields[9]) inodes.add(fields[9]);
    }
  } catch {
    // Not Linux: no verification.
  }
  return inodes;
}

function holdsSocket(pid: number, inodes: Set<string>): boolean {
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match && inodes.has(match[1]!)) return true;
    }
  } catch {
    // Gone, or not ours to read.
  }
  return false;
}

export class HooklaneProcess {
  private exited = false;
  private exitCode: number | null = null;
  private readonly tail: string[] = [];
  /** The process that holds the listening socket (the spawned one, unless a wrapper forked it). */
  serverPid: number;
  readonly startedAtMs: number;
  readyAtMs = 0;
  pidNote = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly role: Role,
    readonly port: number,
    private readonly log: WriteStream,
  ) {
    this.serverPid = child.pid!;
    this.startedAtMs = nowMs();
    const keep = (chunk: Buffer) => {
      this.log.write(chunk);
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        this.tail.push(line);
        if (this.tail.length > 40) this.tail.shift();
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('exit', (code) => {
      this.exited = true;
      this.exitCode = code;
    });
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get graphqlUrl(): string {
    return `${this.baseUrl}/graphql`;
  }

  get alive(): boolean {
    return !this.exited;
  }

  logTail(): string {
    return this.tail
      .slice(-15)
      .map((line) => (line.length > 800 ? `${line.slice(0, 800)}…` : line))
      .join('\n');
  }

  static async start(options: HooklaneOptions): Promise<HooklaneProcess> {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ROLE: options.role,
      DATABASE_URL: options.databaseUrl,
      HOST: '127.0.0.1',
      PORT: String(port),
      AUTH_JWT_SECRET: options.jwtSecret,
      DELIVERY_ALLOW_PRIVATE_NETWORKS: 'true',
      LOG_LEVEL: 'warn',
      DATA_DIR: path.join(path.dirname(options.logFile), 'hooklane-data'),
      ...options.env,
    };
    // The parent's own loader flags (tsx) must not leak into the child: it runs plain JavaScript.
    delete env.NODE_OPTIONS;
    for (const name of ['AUTH_JWKS_URL', 'AUTH_ISSUER', 'AUTH_AUDIENCE']) delete env[name];
    const log = createWriteStream(options.logFile, { flags: 'a' });
    log.write(`\n--- ${new Date().toISOString()} start ROLE=${options.role} PORT=${port}\n`);
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...serverEntry(options.root ?? REPO_ROOT)], {
      cwd: options.root ?? REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error('could not spawn Hooklane');
    const hooklane = new HooklaneProcess(child, options.role, port, log);
    live.add(hooklane);
    try {
      await hooklane.waitReady(options.startTimeoutMs ?? 60_000);
      hooklane.locateServer();
    } catch (error) {
      await hooklane.stop();
      throw error;
    }
    return hooklane;
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    await waitUntil(
      `Hooklane (ROLE=${this.role}) to answer GET /readyz with 200`,
      async () => {
        if (this.exited) throw new Error(`Hooklane exited with code ${this.exitCode} before it was ready:\n${this.logTail()}`);
        try {
          const response = await request(`${this.baseUrl}/readyz`, { headersTimeout: 2_000, bodyTimeout: 2_000 });
          await response.body.text();
          return response.statusCode === 200;
        } catch {
          return false;
        }
      },
      { timeoutMs, intervalMs: 100, progress: () => `last output:\n${this.logTail()}` },
    );
    this.readyAtMs = nowMs();
  }

  /** Verifies which process holds the listening socket: the spawned node, or a child of it. */
  private locateServer(): void {
    const inodes = listeningInodes(this.port);
    const spawned = this.child.pid!;
    const candidates = [spawned, ...childrenOf(spawned)];
    const holder = candidates.find((pid) => holdsSocket(pid, inodes));
    if (holder !== undefined) {
      this.serverPid = holder;
      this.pidNote = `pid ${holder} holds 127.0.0.1:${this.port} (${holder === spawned ? 'the spawned node itself, no wrapper' : `child of wrapper ${spawned}`}): ${commandLine(holder)}`;
    } else {
      this.pidNote = `could not verify the socket owner; sampling spawned pid ${spawned}`;
    }
  }

  /** SIGTERM (Hooklane finishes in-flight work and exits), then SIGKILL after `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    live.delete(this);
    if (!this.exited) {
      this.child.kill('SIGTERM');
      const deadline = nowMs() + graceMs;
      while (!this.exited && nowMs() < deadline) await sleep(50);
      if (!this.exited) {
        this.child.kill('SIGKILL');
        while (!this.exited) await sleep(20);
      }
    }
    await new Promise<void>((resolve) => this.log.end(() => resolve()));
  }

  /** For exit handlers: no waiting. */
  killNow(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

/** Every Hooklane not yet stopped, for the exit handlers. */
const live = new Set<HooklaneProcess>();

export function killAllHooklanes(): void {
  for (const hooklane of live) hooklane.killNow();
  live.clear();
}
