#!/usr/bin/env node
// `npm run build`: the server as plain JavaScript in dist/, which `npm start` runs under node.
//   - src/**/*.ts compiled by tsc (tsconfig.build.json; the portal's browser code excepted);
//   - every other file under src/ the server reads at run time (SQL, HTML, CSS, ...) copied beside it;
//   - the portal's browser script bundled by esbuild into dist/portal/app.js.
// It builds into a fresh directory and swaps it in whole: a failed build leaves dist/ as it was.
// Plain JavaScript, so that it runs without a loader (npm start runs it before every start).
//
//   node scripts/build.mjs                build (needs the development dependencies)
//   node scripts/build.mjs --if-stale     build if dist/ is missing or older than its sources
//                                         (npm start, npm run migrate, npm run token)
//   node scripts/build.mjs --if-possible  build unless the development dependencies are absent, as
//                                         after `npm install --omit=dev` (npm's prepare, at install)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = path.join(ROOT, 'src');
const DIST = path.join(ROOT, 'dist');
/** Written last: its modification time is when dist/ was complete. */
const STAMP = 'BUILT';
/** What dist/ is made from: a change to any of these makes it stale. */
const INPUTS = ['src', 'sdk/dist', 'tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs'];
/** Files under src/ that are neither compiled nor read by the server at run time. */
const NOT_COPIED = [/\.ts$/, /^cli\/bin\.js$/];

const require = createRequire(import.meta.url);

async function newestModification(entry) {
  const info = await stat(entry);
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const child of await readdir(entry)) newest = Math.max(newest, await newestModification(path.join(entry, child)));
  return newest;
}

/** Why dist/ needs building, or undefined when it is up to date. */
export async function staleReason() {
  let built;
  try {
    built = (await stat(path.join(DIST, STAMP))).mtimeMs;
  } catch {
    return 'dist/ has not been built';
  }
  for (const input of INPUTS) {
    const file = path.join(ROOT, input);
    if (existsSync(file) && (await newestModification(file)) > built) return `${input} changed since dist/ was built`;
  }
  return undefined;
}

function devDependenciesInstalled() {
  try {
    require.resolve('typescript/package.json');
    require.resolve('esbuild');
    return true;
  } catch {
    return false;
  }
}

async function copyAssets(from, to, relative = '') {
  for (const entry of await readdir(path.join(from, relative), { withFileTypes: true })) {
    const name = path.posix.join(relative, entry.name);
    if (entry.isDirectory()) {
      await copyAssets(from, to, name);
    } else if (!NOT_COPIED.some((pattern) => pattern.test(name))) {
      await mkdir(path.join(to, relative), { recursive: true });
      await cp(path.join(from, name), path.join(to, name));
    }
  }
}

export async function build() {
  if (!devDependenciesInstalled()) {
    throw new Error('building dist/ needs the development dependencies (typescript, esbuild): run `npm install` without --omit=dev');
  }
  const output = path.join(ROOT, `.dist-${process.pid}`);
  await rm(output, { recursive: true, force: true });
  try {
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', output], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    if (tsc.status !== 0) throw new Error(`tsc failed (exit code ${tsc.status ?? tsc.signal})`);
    await copyAssets(SRC, output);
    // The bundler's options live with the server, which uses them when it runs from src/.
    const { buildPortalBundle } = await import(path.join(output, 'portal', 'bundle.js'));
    const portal = await buildPortalBundle({ entryPoint: path.join(SRC, 'portal', 'app.ts') });
    await writeFile(path.join(output, 'portal', 'app.js'), portal.code);
    await writeFile(path.join(output, STAMP), `${new Date().toISOString()}\n`);
    await rm(DIST, { recursive: true, force: true });
    await rename(output, DIST);
  } finally {
    await rm(output, { recursive: true, force: true });
  }
}

function isRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

/**
 * One build at a time: two `npm start`s, or two test files, may ask for one at once. The lock file
 * holds its owner's pid, so that a lock left by a killed build is taken over.
 */
async function underBuildLock(task) {
  const lock = path.join(ROOT, '.dist-lock');
  for (;;) {
    try {
      await writeFile(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    }
    const owner = Number(await readFile(lock, 'utf8').catch(() => ''));
    if (owner && !isRunning(owner)) await rm(lock, { force: true });
    else await new Promise((resolve) => setTimeout(resolve, 200));
  }
  try {
    return await task();
  } finally {
    await rm(lock, { force: true });
  }
}

/** What --if-possible, --if-stale or no flag asks for (see the top of this file). */
export async function buildAs(mode) {
  if (mode !== 'build' && !devDependenciesInstalled()) {
    if (mode === 'if-possible') {
      console.error('hooklane: dist/ not built: the development dependencies (typescript, esbuild) are not installed.');
      return;
    }
    const reason = await staleReason();
    if (reason === undefined) return;
    if (!existsSync(path.join(DIST, 'main.js'))) {
      throw new Error(`dist/ has not been built, and building it needs the development dependencies: run \`npm install\`, then \`npm run build\``);
    }
    console.error(`hooklane: dist/ may be out of date (${reason}), and rebuilding it needs the development dependencies: running it as it is.`);
    return;
  }
  if (mode === 'if-stale' && (await staleReason()) === undefined) return;
  await underBuildLock(async () => {
    if (mode === 'if-stale') {
      // Asked again under the lock: a build that held it may have just brought dist/ up to date.
      const reason = await staleReason();
      if (reason === undefined) return;
      console.error(`hooklane: building dist/ (${reason}) ...`);
    }
    const started = Date.now();
    await build();
    console.error(`hooklane: dist/ built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const flag = process.argv[2];
  const mode = flag === undefined ? 'build' : flag === '--if-stale' ? 'if-stale' : flag === '--if-possible' ? 'if-possible' : undefined;
  if (mode === undefined) {
    console.error('Usage: node scripts/build.mjs [--if-stale | --if-possible]');
    process.exit(2);
  }
  buildAs(mode).catch((error) => {
    console.error(`hooklane: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
