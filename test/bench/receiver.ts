/**
 * The webhook receiver: a bare node:http server on 127.0.0.1 in a worker thread (its own event
 * loop, so publishing and load generation in the main thread do not slow it down). It answers
 * 200 "ok" at once, counts requests per (webhook-id, path) — each subscription gets its own path —
 * and records when each webhook-id first arrived (request headers parsed), on the process-wide
 * monotonic clock that the main thread also uses.
 */
import { Worker } from 'node:worker_threads';
import { withTimeout } from './clock.js';

// Plain JavaScript run with `eval: true`, so the worker needs no TypeScript loader.
const WORKER_SOURCE = String.raw`
const http = require('node:http');
const { parentPort } = require('node:worker_threads');
const perKey = new Map();       // 'webhookId path' -> requests
const firstById = new Map();    // webhookId -> first arrival (ms, monotonic)
let total = 0, other = 0, phaseCount = 0, phaseFirst = null, phaseLast = null;
const now = () => Number(process.hrtime.bigint()) / 1e6;
const server = http.createServer((req, res) => {
  const at = now();
  const id = req.headers['webhook-id'];
  if (typeof id === 'string') {
    total++;
    phaseCount++;
    if (phaseFirst === null) phaseFirst = at;
    phaseLast = at;
    const key = id + ' ' + req.url;
    perKey.set(key, (perKey.get(key) || 0) + 1);
    if (!firstById.has(id)) firstById.set(id, at);
  } else {
    other++;
  }
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
    res.end('ok');
  });
});
server.keepAliveTimeout = 65000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ ready: server.address().port }));
parentPort.on('message', ({ id, cmd, args }) => {
  let result;
  if (cmd === 'count') result = { total, distinct: perKey.size, other, phaseCount, phaseFirst, phaseLast };
  else if (cmd === 'mark') { phaseCount = 0; phaseFirst = null; phaseLast = null; result = true; }
  else if (cmd === 'arrivals') result = args.map((webhookId) => firstById.get(webhookId) ?? null);
  else if (cmd === 'dump') result = { keys: [...perKey.keys()], counts: [...perKey.values()] };
  else if (cmd === 'close') { server.closeAllConnections(); server.close(() => parentPort.postMessage({ id, result: true })); return; }
  parentPort.postMessage({ id, result });
});
`;

export interface ReceiverCounts {
  /** Requests that carried a webhook-id (deliveries). */
  total: number;
  /** Distinct (webhook-id, path) pairs. */
  distinct: number;
  /** Requests without a webhook-id (the HTTP ceiling's load). */
  other: number;
  /** Since the last mark(): deliveries, and first/last arrival (ms, monotonic). */
  phaseCount: number;
  phaseFirst: number | null;
  phaseLast: number | null;
}

export class Receiver {
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

  static async start(): Promise<Receiver> {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    const port = await withTimeout(
      'the receiver thread to listen',
      new Promise<number>((resolve, reject) => {
        worker.once('error', reject);
        worker.once('message', (message: { ready?: number }) => (message.ready ? resolve(message.ready) : reject(new Error('bad receiver start'))));
      }),
      10_000,
    );
    return new Receiver(worker, port);
  }

  /** The URL of one subscription's endpoint: the path tells subscriptions apart at the receiver. */
  url(label: string): string {
    return `http://127.0.0.1:${this.port}/hook/${label}`;
  }

  /** An endpoint for load that is not a delivery (no webhook-id). */
  get plainUrl(): string {
    return `http://127.0.0.1:${this.port}/plain`;
  }

  private ask<T>(cmd: string, args?: unknown): Promise<T> {
    const id = this.nextId++;
    const answer = new Promise<T>((resolve) => this.pending.set(id, resolve as (result: unknown) => void));
    this.worker.postMessage({ id, cmd, args });
    return withTimeout(`receiver command ${cmd}`, answer, 30_000);
  }

  counts(): Promise<ReceiverCounts> {
    return this.ask('count');
  }

  /** Starts a new phase window (phaseCount, phaseFirst, phaseLast). */
  async mark(): Promise<void> {
    await this.ask('mark');
  }

  /** First arrival (ms, monotonic) of each webhook-id, null where none arrived. */
  arrivals(webhookIds: readonly string[]): Promise<(number | null)[]> {
    return this.ask('arrivals', webhookIds);
  }

  /** Requests per "webhookId path". */
  async dump(): Promise<Map<string, number>> {
    const { keys, counts } = await this.ask<{ keys: string[]; counts: number[] }>('dump');
    return new Map(keys.map((key, index) => [key, counts[index]!]));
  }

  async close(): Promise<void> {
    try {
      await this.ask('close');
    } finally {
      await this.worker.terminate();
    }
  }
}
