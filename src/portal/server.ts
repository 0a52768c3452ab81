import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { Logger } from 'pino';

/**
 * The self-service portal: a static page, a stylesheet and one script, read once and served from
 * memory. The script is the build's bundle of `app.ts` (dist/portal/app.js, see bundle.ts); a
 * server running from the sources bundles it on the first request for it.
 */
const PORTAL_DIR = path.dirname(fileURLToPath(import.meta.url));
/** The guide for whoever writes a tenant's receiving endpoint, linked from the portal's header. */
const RECEIVING_GUIDE = path.resolve(PORTAL_DIR, '../../docs/receiving.md');

/** Same-origin only: no inline script or style, no plugins; framing only by PORTAL_FRAME_ANCESTORS. */
const PORTAL_CSP_BASE = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
];

/** The portal's Content-Security-Policy for the origins that may frame it (none: framing is refused). */
export function portalCsp(frameAncestors: readonly string[] = []): string {
  const ancestors = frameAncestors.length === 0 ? "'none'" : frameAncestors.join(' ');
  return [...PORTAL_CSP_BASE, `frame-ancestors ${ancestors}`].join('; ');
}

/** The policy without PORTAL_FRAME_ANCESTORS: no page may frame the portal. */
export const PORTAL_CSP = portalCsp();

async function portalScript(): Promise<string> {
  try {
    return await readFile(path.join(PORTAL_DIR, 'app.js'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const { buildPortalBundle } = await import('./bundle.js');
  return (await buildPortalBundle()).code;
}

function once<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= load().catch((error: unknown) => {
      pending = undefined; // a failed build is tried again on the next request
      throw error;
    });
    return pending;
  };
}

function securityHeaders(res: express.Response, csp: string, framable: boolean): void {
  res.setHeader('Content-Security-Policy', csp);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // X-Frame-Options cannot name origins: with PORTAL_FRAME_ANCESTORS, frame-ancestors alone decides.
  if (!framable) res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-cache');
}

/** The portal's routes; mount with `app.use('/portal', portalRouter())`. */
export function portalRouter(options: { logger?: Logger; frameAncestors?: readonly string[] } = {}): express.Router {
  const frameAncestors = options.frameAncestors ?? [];
  const csp = portalCsp(frameAncestors);
  const router = express.Router({ strict: true });
  const script = once(portalScript);
  const html = once(() => readFile(path.join(PORTAL_DIR, 'index.html'), 'utf8'));
  const css = once(() => readFile(path.join(PORTAL_DIR, 'portal.css'), 'utf8'));
  const receivingGuide = once(() => readFile(RECEIVING_GUIDE, 'utf8'));

  router.use((_req, res, next) => {
    securityHeaders(res, csp, frameAncestors.length > 0);
    next();
  });

  // `/portal` → `/portal/`, so that the page's relative URLs (`./app.js`) resolve under the mount.
  router.get('/', async (req, res, next) => {
    try {
      const [pathname, query] = req.originalUrl.split('?', 2) as [string, string | undefined];
      if (!pathname.endsWith('/')) {
        res.redirect(301, `${pathname}/${query === undefined ? '' : `?${query}`}`);
        return;
      }
      res.type('html').send(await html());
    } catch (error) {
      next(error);
    }
  });
  router.get('/portal.css', async (_req, res, next) => {
    try {
      res.type('css').send(await css());
    } catch (error) {
      next(error);
    }
  });
  // Markdown, served as plain text: readable as it is, and no renderer to keep.
  router.get('/receiving', async (_req, res, next) => {
    try {
      res.type('text').send(await receivingGuide());
    } catch (error) {
      next(error);
    }
  });
  router.get('/app.js', async (_req, res) => {
    try {
      res.type('js').send(await script());
    } catch (error) {
      options.logger?.error({ err: error }, 'the portal script could not be built');
      res.status(500).type('text').send('The portal script could not be built; see the server log.');
    }
  });
  router.use((_req, res) => {
    res.status(404).type('text').send('Not found');
  });
  return router;
}
