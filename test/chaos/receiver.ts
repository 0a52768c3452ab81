/**
 * Chaos receivers: one node:http server on 127.0.0.1 in a worker thread (its own event loop), whose
 * behaviour is chosen by the first path segment of each subscription's URL:
 *
 *   /ok/<label>      200 "ok" at once
 *   /flaky/<label>   500 with probability `flakyRate`, else 200
 *   /reset/<label>   reads the request, then destroys the socket (connection reset)
 *   /hang/<label>    never answers (the socket is dropped by the receiver after 120 s at the latest)
 *   /big/<label>     200 with a 10 MB body
 *   /drip/<label>    200 headers, then 1 byte every 100 ms (at most 600 bytes)
 *   /slow/<label>    200 after `slowMs`
 *
 * It counts requests per (webhook-id, path), records what it answered, and the first arrival of
 * each webhook-id per path on the process-wide monotonic clock (shared by every thread).
 */
import { Worker } from 'node:worker_threads';
import { withTimeout } from '../bench/clock.js';

const WORKER_SOURCE = String.raw`
const http = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const perKey = new Map();      // 'webhookId path' -> requests
const okKey = new Map();       // 'webhookId path' -> 2xx answers completed
const firstByKey = new Map();  // 'webhookId path' -> first arrival (ms, monotonic)
const inFlight = new Set();
let total = 0, answered = 0, resets = 0, hangs = 0, maxInFlight = 0;
let flakyRate = workerData.flakyRate, slowMs = workerData.slowMs;
const BIG = Buffer.alloc(10 * 1024 * 1024, 120);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const server = http.createServer((req, res) => {
  const at = now();
  const id = req.headers['webhook-id'];
  const path = req.url || '/';
  const key = String(id) + ' ' + path;
  total++;
  perKey.set(key, (perKey.get(key) || 0) + 1);
  if (!firstByKey.has(key)) firstByKey.set(key, at);
  inFlight.add(res);
  maxInFlight = Math.max(maxInFlight, inFlight.size);
  const timers = [];
  res.on('close', () => { inFlight.delete(res); for (const t of timers) clearTimeout(t), clearInterval(t); });
  const ok = (body) => {
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) });
    res.end(body, () => { answered++; okKey.set(key, (okKey.get(key) || 0) + 1); });
  };
  const mode = path.split('/')[1];
  req.on('data', () => {});
  req.on('end', () => {
    if (mode === 'ok') ok('ok');
    else if (mode === 'flaky') {
      if (Math.random() < flakyRate) { res.writeHead(500, { 'content-type': 'text/plain' }); res.end('boom'); }
      else ok('ok');
    } else if (mode === 'reset') { resets++; req.socket.destroy(); }
    else if (mode === 'hang') { hangs++; timers.push(setTimeout(() => req.socket.destroy(), 120000)); }
    else if (mode === 'big') ok(BIG);
    else if (mode === 'drip') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      let sent = 0;
      const t = setInterval(() => {
        if (res.destroyed || sent >= 600) { clearInterval(t); if (!res.destroyed) res.end(); return; }
        res.write('x'); sent++;
      }, 100);
      timers.push(t);
    } else if (mode === 'slow') timers.push(setTimeout(() => ok('ok'), slowMs));
    else { res.writeHead(404); res.end(); }
  });
});
server.keepAliveTimeout = 65000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ ready: server.address().port }));
parentPort.on('message', ({ id, cmd, args }) => {
  let result;
  if (cmd === 'stats') result = { total, answered, resets, hangs, inFlight: inFlight.size, maxInFlight, distinct: perKey.size };
  else if (cmd === 'dump') result = { keys: [...perKey.keys()], counts: [...perKey.values()], okKeys: [...okKey.keys()], okCounts: [...okKey.values()] };
  else if (cmd === 'arrivals') result = args.map((key) => firstByKey.get(key) ?? null);
  else if (cmd === 'set') { if (args.flakyRate !== undefined) flakyRate = args.flakyRate; if (args.slowMs !== undefined) slowMs = args.slowMs; result = true; }
  else if (cmd === 'close') { server.closeAllConnections(); server.close(() => parentPort.postMessage({ id, result: true })); return; }
  parentPort.postMessage({ id, result });
});
`;

export interface ReceiverStats {
  total: number;
  answered: number;
  resets: number;
  hangs: number;
  inFlight: number;
  maxInFlight: number;
  distinct: number;
}

export interface ReceiverDump {
  /** Requests per "webhookId path". */
  requests: Map<string, number>;
  /** 2xx answers fully written per "webhookId path". */
  successes: Map<string, number>;
}

export class ChaosReceiver {
  private nextId = 0;
  private readonly pending = new Map<number, (result: unknown) => void>();

  private constructor(
    private readonly worker: Worker,
    readonly port: number,
  ) {
    worker.on('message', (message: { id?: number; result?: unknown }) => {
      if (message.id === undefined) return;
      this.pending.get(message.id)?.(message.result);
      this.pending.delete(message.id);
    });
  }

  static async start(options: { flakyRate?: number; slowMs?: number } = {}): Promise<ChaosReceiver> {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { flakyRate: options.flakyRate ?? 0.5, slowMs: options.slowMs ?? 2_000 },
    });
    const port = await withTimeout(
      'the chaos receiver to listen',
      new Promise<number>((resolve, reject) => {
        worker.once('error', reject);
        worker.once('message', (message: { ready?: number }) => (message.ready ? resolve(message.ready) : reject(new Error('bad receiver start'))));
      }),
      10_000,
    );
    return new ChaosReceiver(worker, port);
  }

  url(mode: 'ok' | 'flaky' | 'reset' | 'hang' | 'big' | 'drip' | 'slow', label: string): string {
    return `http://127.0.0.1:${this.port}/${mode}/${label}`;
  }

  /** The path part of a URL made by `url`, as it appears in keys. */
  static pathOf(url: string): string {
    return new URL(url).pathname;
  }

  private ask<T>(cmd: string, args?: unknown): Promise<T> {
    const id = this.nextId++;
    const answer = new Promise<T>((resolve) => this.pending.set(id, resolve as (result: unknown) => void));
    this.worker.postMessage({ id, cmd, args });
    return withTimeout(`receiver command ${cmd}`, answer, 30_000);
  }

  stats(): Promise<ReceiverStats> {
    return this.ask('stats');
  }

  set(options: { flakyRate?: number; slowMs?: number }): Promise<void> {
    return this.ask('set', options);
  }

  async dump(): Promise<ReceiverDump> {
    const raw = await this.ask<{ keys: string[]; counts: number[]; okKeys: string[]; okCounts: number[] }>('dump');
    return {
      requests: new Map(raw.keys.map((key, i) => [key, raw.counts[i]!])),
      successes: new Map(raw.okKeys.map((key, i) => [key, raw.okCounts[i]!])),
    };
  }

  /** First arrival (monotonic ms) per "webhookId path". */
  arrivals(keys: readonly string[]): Promise<(number | null)[]> {
    return this.ask('arrivals', keys);
  }

  async close(): Promise<void> {
    try {
      await this.ask('close');
    } catch {
      // Terminated below regardless.
    } finally {
      await this.worker.terminate();
    }
  }
}
