import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The portal's browser script: `app.ts` beside this module (and what it imports: the client of
 * `@hooklane/sdk`) bundled with esbuild. `npm run build` writes it to dist/portal/app.js;
 * a server running from the sources (tests, tsx) bundles it on its first request instead.
 */
export const PORTAL_ENTRY_POINT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'app.ts');

export interface PortalBundle {
  code: string;
  /** Warnings esbuild reported, for the curious (they do not stop the bundle). */
  warnings: string[];
}

export async function buildPortalBundle(options: { entryPoint?: string; minify?: boolean } = {}): Promise<PortalBundle> {
  // esbuild is a development dependency: only the build and a server running from src/ load it.
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [options.entryPoint ?? PORTAL_ENTRY_POINT],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: ['es2022'],
    minify: options.minify ?? true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error('esbuild produced no output for the portal');
  return { code: file.text, warnings: result.warnings.map((warning) => warning.text) };
}
