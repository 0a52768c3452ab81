#!/usr/bin/env node
// The `hooklane` command (package.json "bin"): the CLI compiled to dist/ by `npm run build`, built
// first if dist/ is missing or older than the sources, as `npm start` does.
import { buildAs } from '../../scripts/build.mjs';

try {
  await buildAs('if-stale');
} catch (error) {
  console.error(`hooklane: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
await import('../../dist/cli/hooklane.js');
