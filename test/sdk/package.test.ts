import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The published package as a stranger gets it: `npm pack` of the sdk/ workspace, installed alone
// in a scratch project, then imported, required, type-checked and bundled for an edge runtime.

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const vectorsFile = path.join(repo, 'test/fixtures/standard-webhooks.json');
const tsc = path.join(repo, 'node_modules/typescript/bin/tsc');

/** The environment without the npm_* variables of an enclosing `npm test`, which a child npm would read as its own configuration. */
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));

async function npm(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('npm', [...args, '--no-audit', '--no-fund', '--no-update-notifier'], { cwd, env: cleanEnv, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

async function node(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, args, { cwd, env: cleanEnv });
  return stdout;
}

/** The packages of a node_modules folder, scoped ones as `@scope/name`. */
function installedPackages(nodeModules: string): string[] {
  return readdirSync(nodeModules)
    .filter((name) => !name.startsWith('.'))
    .flatMap((name) => (name.startsWith('@') ? readdirSync(path.join(nodeModules, name)).map((scoped) => `${name}/${scoped}`) : [name]))
    .sort();
}

// Each script verifies both reference vectors (v1 HMAC, v1a Ed25519), builds a client and says
// which file of the package it loaded.
const verifyVectors = `
const vectors = JSON.parse(readFileSync(${JSON.stringify(vectorsFile)}, 'utf8'));
const results = [];
for (const [vector, key] of [[vectors.hmac, vectors.hmac.secret], [vectors.ed25519, vectors.ed25519.publicKey]]) {
  const headers = { 'webhook-id': vector.msgId, 'webhook-timestamp': String(vector.timestamp), 'webhook-signature': vector.signature };
  results.push(await sdk.verifyWebhook(vector.payload, headers, key, { now: new Date(vector.timestamp * 1000) }));
}
const tampered = await sdk.verifyWebhook('{}', { 'webhook-id': vectors.hmac.msgId, 'webhook-timestamp': String(vectors.hmac.timestamp), 'webhook-signature': vectors.hmac.signature }, vectors.hmac.secret, { now: new Date(vectors.hmac.timestamp * 1000) })
  .then(() => 'accepted', (error) => error instanceof sdk.WebhookVerificationError ? error.code : String(error));
const client = sdk.createClient({ url: 'http://127.0.0.1:1/graphql', token: 'token' });
const summary = {
  results,
  tampered,
  methods: ['publishEvent', 'createSubscription', 'events', 'request'].filter((name) => typeof client[name] === 'function'),
  error: new sdk.HooklaneError('NOT_FOUND', 'gone') instanceof Error,
};
`;

const esmScript = `
import { readFileSync } from 'node:fs';
import * as sdk from '@hooklane/sdk';
${verifyVectors}
console.log(JSON.stringify({ ...summary, loaded: import.meta.resolve('@hooklane/sdk') }));
`;

const cjsScript = `
const { readFileSync } = require('node:fs');
const sdk = require('@hooklane/sdk');
(async () => {
${verifyVectors}
console.log(JSON.stringify({ ...summary, loaded: require.resolve('@hooklane/sdk') }));
})();
`;

// What a TypeScript user writes. The @ts-expect-error lines fail the check if the types were `any`.
const consumerSource = `
import { createClient, HooklaneError, verifyWebhook, WebhookVerificationError, type Event, type HooklaneClient, type WebhookPayload } from '@hooklane/sdk';

const client: HooklaneClient = createClient({ url: 'http://127.0.0.1:4000/graphql', token: () => 'token', retryQuotaExceeded: true });

export async function publish(): Promise<string> {
  const { event } = await client.publishEvent({ eventType: 'invoice.paid', payload: { amount: 4200 } });
  const typed: Pick<Event, 'id' | 'eventType'> = event;
  // @ts-expect-error eventType is required
  await client.publishEvent({ payload: {} });
  const page = await client.events({ first: 10 });
  return typed.id + page.edges.length;
}

export async function receive(body: Uint8Array, headers: Headers): Promise<number> {
  try {
    const payload: WebhookPayload<{ amount: number }> = await verifyWebhook<{ amount: number }>(body, headers, ['whsec_AAAA', 'whpk_BBBB']);
    // @ts-expect-error verifyWebhook returns a promise
    verifyWebhook(body, headers, 'whsec_AAAA').data;
    return payload.data.amount;
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error.code.length;
    if (error instanceof HooklaneError && error.code === 'QUOTA_EXCEEDED') return error.retryAfter ?? 0;
    throw error;
  }
}
`;

describe('@hooklane/sdk as published', () => {
  let scratch: string;
  let consumer: string;
  let packedFiles: string[];

  beforeAll(async () => {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'hooklane-sdk-package-'));
    // Packed from a copy, so that its build (the `prepare` script) leaves the repository's sdk/dist
    // alone while other tests read it; the copy finds typescript through a node_modules link.
    const build = path.join(scratch, 'build');
    mkdirSync(build);
    symlinkSync(path.join(repo, 'node_modules'), path.join(build, 'node_modules'), 'dir');
    cpSync(path.join(repo, 'sdk'), path.join(build, 'sdk'), {
      recursive: true,
      filter: (source) => !['dist', 'node_modules'].includes(path.basename(source)),
    });
    const [packed] = JSON.parse(await npm(path.join(build, 'sdk'), 'pack', '--json', '--pack-destination', scratch)) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    packedFiles = packed!.files.map((file) => file.path).sort();

    consumer = path.join(scratch, 'consumer');
    mkdirSync(consumer);
    writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    await npm(consumer, 'install', '--offline', path.join(scratch, packed!.filename));
  }, 120_000);

  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('ships the ESM and CommonJS builds with their types, and no sources', () => {
    for (const file of ['package.json', 'README.md', 'LICENSE', 'dist/esm/index.js', 'dist/esm/node.js', 'dist/esm/index.d.ts', 'dist/cjs/index.js', 'dist/cjs/node.js', 'dist/cjs/index.d.ts', 'dist/cjs/package.json']) {
      expect(packedFiles).toContain(file);
    }
    expect(packedFiles.filter((file) => !file.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE'].includes(file))).toEqual([]);
    expect(packedFiles.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
  });

  it('installs alone: no dependency, no server package', () => {
    expect(installedPackages(path.join(consumer, 'node_modules'))).toEqual(['@hooklane/sdk']);
    const manifest = JSON.parse(readFileSync(path.join(consumer, 'node_modules/@hooklane/sdk/package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(manifest.peerDependencies ?? {}).toEqual({});
  });

  it.each([
    { format: 'ESM', file: 'consumer.mjs', script: esmScript, loads: 'dist/esm/node.js' },
    { format: 'CommonJS', file: 'consumer.cjs', script: cjsScript, loads: 'dist/cjs/node.js' },
  ])('loads in Node from $format, verifies the reference vectors and builds a client', async ({ file, script, loads }) => {
    writeFileSync(path.join(consumer, file), script);
    const summary = JSON.parse(await node(consumer, file)) as { results: unknown[]; tampered: string; methods: string[]; error: boolean; loaded: string };
    expect(summary.results).toEqual([{ test: 2432232314 }, { test: 2432232314 }]);
    expect(summary.tampered).toBe('INVALID_SIGNATURE');
    expect(summary.methods).toEqual(['publishEvent', 'createSubscription', 'events', 'request']);
    expect(summary.error).toBe(true);
    expect(summary.loaded.endsWith(`node_modules/@hooklane/sdk/${loads}`)).toBe(true);
  });

  it('bundles for an edge runtime without node: imports and verifies there on Web Crypto', async () => {
    const { build } = await import('esbuild');
    writeFileSync(path.join(consumer, 'edge.mjs'), `import { readFileSync } from 'node:fs';\nimport * as sdk from '@hooklane/sdk';\n${verifyVectors}\nconsole.log(JSON.stringify(summary));\n`);
    // The vectors' file is read by the test harness only: it stays outside the bundle.
    const result = await build({
      entryPoints: [path.join(consumer, 'edge.mjs')],
      bundle: true,
      write: false,
      platform: 'neutral',
      format: 'esm',
      conditions: ['worker', 'browser'],
      external: ['node:fs'],
      logLevel: 'silent',
    });
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/node:crypto|require\(/);
    writeFileSync(path.join(consumer, 'edge.bundle.mjs'), code);
    const summary = JSON.parse(await node(consumer, 'edge.bundle.mjs')) as { results: unknown[]; tampered: string };
    expect(summary.results).toEqual([{ test: 2432232314 }, { test: 2432232314 }]);
    expect(summary.tampered).toBe('INVALID_SIGNATURE');
  });

  it.each([
    // consumer.mts imports the ES module build's types, consumer.cts requires the CommonJS build's.
    { resolution: 'nodenext', files: ['consumer.mts', 'consumer.cts'], module: 'nodenext', declarations: ['dist/cjs/index.d.ts', 'dist/esm/index.d.ts'] },
    { resolution: 'bundler', files: ['consumer.ts'], module: 'esnext', declarations: ['dist/esm/index.d.ts'] },
  ])('type-checks a TypeScript consumer under moduleResolution $resolution', async ({ resolution, files, module, declarations }) => {
    for (const file of files) writeFileSync(path.join(consumer, file), consumerSource);
    const tsconfig = `tsconfig.${resolution}.json`;
    const compilerOptions = { strict: true, noEmit: true, skipLibCheck: false, skipDefaultLibCheck: true, types: [], lib: ['ES2022', 'DOM'], target: 'ES2022', module, moduleResolution: resolution };
    writeFileSync(path.join(consumer, tsconfig), JSON.stringify({ compilerOptions, files }));
    // --listFiles names every file of the program: the package's entry declarations must be among them.
    const listed = await run(process.execPath, [tsc, '--project', tsconfig, '--listFiles'], { cwd: consumer, env: cleanEnv }).catch(
      (error: { stdout?: string }) => {
        throw new Error(`tsc found errors:\n${error.stdout}`);
      },
    );
    const entries = listed.stdout
      .split('\n')
      .map((file) => /node_modules\/@hooklane\/sdk\/(dist\/(?:esm|cjs)\/index\.d\.ts)$/.exec(file.trim())?.[1])
      .filter((file) => file !== undefined);
    expect(entries.sort()).toEqual(declarations);
  }, 60_000);
});

describe('the root package\'s hooklane/sdk export', () => {
  it('resolves to the built SDK from plain Node, imported and required', async () => {
    const imported = await node(repo, '--input-type=module', '-e', "const sdk = await import('hooklane/sdk'); console.log(import.meta.resolve('hooklane/sdk'), typeof sdk.createClient, typeof sdk.verifyWebhook)");
    expect(imported.trim()).toBe(`${new URL('sdk/dist/esm/node.js', `file://${repo}`).href} function function`);
    const required = await node(repo, '-e', "const sdk = require('hooklane/sdk'); console.log(require.resolve('hooklane/sdk'), typeof sdk.createClient, typeof sdk.verifyWebhook)");
    expect(required.trim()).toBe(`${path.join(repo, 'sdk/dist/cjs/node.js')} function function`);
  });
});
