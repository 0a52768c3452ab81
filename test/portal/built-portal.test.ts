import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import express from 'express';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildPortalBundle } from '../../src/portal/bundle.js';
import type * as PortalServer from '../../src/portal/server.js';
import { BUILD_TIMEOUT_MS, ensureBuilt } from '../support/dist.js';

/**
 * The rest of the portal's tests run it from src/, where the script is bundled on request. The
 * built server serves what `npm run build` put in dist/portal: the page, the stylesheet, and the
 * bundle, which must be the current sources' and needs no esbuild at run time.
 */
describe('the built portal (dist/portal)', () => {
  beforeAll(() => ensureBuilt(), BUILD_TIMEOUT_MS);

  it('serves the page, the stylesheet and the build’s bundle of the current sources', async () => {
    const built = fileURLToPath(new URL('../../dist/portal/server.js', import.meta.url));
    const { portalRouter } = (await import(/* @vite-ignore */ pathToFileURL(built).href)) as typeof PortalServer;
    const server = express().use('/portal', portalRouter()).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/portal`;
      const [page, css, script] = await Promise.all(['/', '/portal.css', '/app.js'].map((file) => fetch(`${base}${file}`)));
      expect([page!.status, css!.status, script!.status]).toEqual([200, 200, 200]);
      expect(page!.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await page!.text()).toContain('src="./app.js"');
      expect(css!.headers.get('content-type')).toMatch(/^text\/css/);
      expect(script!.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(await script!.text()).toBe((await buildPortalBundle()).code);
    } finally {
      server.close();
    }
  });
});
