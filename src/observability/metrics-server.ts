import http from 'node:http';
import type { Logger } from 'pino';
import type { HooklaneMetrics } from './metrics.js';

/** Answers a scrape: the registry's exposition text with Prometheus' content type. */
export function metricsHandler(metrics: HooklaneMetrics, logger?: Logger) {
  return (_req: http.IncomingMessage, res: http.ServerResponse): void => {
    metrics.render().then(
      (text) => {
        res.statusCode = 200;
        res.setHeader('content-type', metrics.contentType);
        res.setHeader('cache-control', 'no-store');
        res.end(text);
      },
      (error: unknown) => {
        logger?.error({ err: error }, 'collecting metrics failed');
        res.statusCode = 500;
        res.setHeader('content-type', 'text/plain; charset=utf-8');
        res.end('collecting metrics failed\n');
      },
    );
  };
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A small HTTP server with only GET /metrics, on METRICS_PORT: how a worker-only process
 * (ROLE=worker, no API server) is scraped, and how metrics stay off the API's port (which then
 * serves none). Anything else is 404.
 */
export async function startMetricsServer(options: {
  host: string;
  port: number;
  metrics: HooklaneMetrics;
  logger?: Logger;
}): Promise<MetricsServer> {
  const handle = metricsHandler(options.metrics, options.logger);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if ((req.method === 'GET' || req.method === 'HEAD') && path === '/metrics') return handle(req, res);
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
