/**
 * `npm run codegen` writes the TypeScript that codegen.ts describes; `npm run codegen:check` exits 1
 * if a generated file differs from what would be written. GraphQL Code Generator's programmatic API
 * (@graphql-codegen/core), driven as its CLI drives it: the schema sorted, the documents read in
 * path order, the same configuration defaults. The CLI itself is not installed: it brings loaders
 * for remote schemas (URLs, GitHub, Apollo Studio) that need Node 22, and Hooklane reads local files.
 * Only what codegen.ts uses is supported; anything else is refused rather than ignored.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { codegen } from '@graphql-codegen/core';
import {
  getCachedDocumentNodeFromSchema,
  normalizeConfig,
  normalizeImportExtension,
  type CodegenPlugin,
  type Types,
} from '@graphql-codegen/plugin-helpers';
import { buildASTSchema, Kind, lexicographicSortSchema, parse, Source, type DefinitionNode, type DocumentNode } from 'graphql';
import config from '../codegen.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUTPUT_KEYS = new Set(['plugins', 'config', 'documents']);
const ROOT_KEYS = new Set(['schema', 'generates', 'config', 'documents', 'emitLegacyCommonJSImports', 'importExtension']);

function refuse(what: string): never {
  throw new Error(`scripts/codegen.ts does not support ${what} (codegen.ts)`);
}

/** Local files only: a path, or a `*` pattern in a path's last segment. Sorted, as the CLI sorts them. */
function files(pointers: unknown): string[] {
  if (pointers === undefined) return [];
  const list = Array.isArray(pointers) ? pointers : [pointers];
  return list
    .flatMap((pointer) => {
      if (typeof pointer !== 'string') refuse(`a schema or document pointer that is not a path: ${JSON.stringify(pointer)}`);
      const directory = path.dirname(pointer);
      const name = path.basename(pointer);
      if (/[*?{[]/.test(directory) || /[?{[]/.test(name)) refuse(`the pattern ${pointer}`);
      if (!name.includes('*')) return [path.join(ROOT, pointer)];
      const matcher = new RegExp(`^${name.split('*').map((part) => part.replace(/[.+^$()|\\]/g, '\\$&')).join('[^/]*')}$`);
      return readdirSync(path.join(ROOT, directory))
        .filter((entry) => matcher.test(entry))
        .map((entry) => path.join(ROOT, directory, entry));
    })
    .sort();
}

const OPERATION_KINDS: string[] = [Kind.OPERATION_DEFINITION, Kind.FRAGMENT_DEFINITION];

function loadSchema(pointers: unknown) {
  const definitions: DefinitionNode[] = files(pointers).flatMap((file) => parse(readFileSync(file, 'utf8')).definitions);
  if (definitions.length === 0) refuse('an empty schema');
  const schemaAst = lexicographicSortSchema(buildASTSchema({ kind: Kind.DOCUMENT, definitions }, { assumeValidSDL: true }));
  return { schemaAst, schema: getCachedDocumentNodeFromSchema(schemaAst) };
}

function loadDocuments(pointers: unknown): Types.DocumentFile[] {
  return files(pointers).map((location) => {
    const rawSDL = readFileSync(location, 'utf8');
    const parsed = parse(new Source(rawSDL, location));
    const document: DocumentNode = { ...parsed, definitions: parsed.definitions.filter((node) => OPERATION_KINDS.includes(node.kind)) };
    return { location, rawSDL, document };
  });
}

async function generate(): Promise<{ filename: string; content: string }[]> {
  for (const key of Object.keys(config)) if (!ROOT_KEYS.has(key)) refuse(`the option ${key}`);
  const { schema, schemaAst } = loadSchema(config.schema);
  const outputs: { filename: string; content: string }[] = [];
  for (const [filename, output] of Object.entries(config.generates)) {
    if (Array.isArray(output) || typeof output !== 'object') refuse(`the output ${filename} given as a plugin list`);
    for (const key of Object.keys(output)) if (!OUTPUT_KEYS.has(key)) refuse(`the option ${key} of ${filename}`);
    const plugins = normalizeConfig(output.plugins ?? refuse(`the output ${filename} without plugins`));
    const pluginMap: Record<string, CodegenPlugin> = {};
    for (const plugin of plugins) {
      const name = Object.keys(plugin)[0]!;
      // A plugin named by a relative path is the project's own (sdk/codegen/typed-documents.mjs).
      const specifier = name.startsWith('.') ? pathToFileURL(path.join(ROOT, name)).href : `@graphql-codegen/${name}`;
      pluginMap[name] = (await import(specifier)) as CodegenPlugin;
    }
    const rawConfig: Record<string, unknown> = {
      ...(config.config as object),
      emitLegacyCommonJSImports: config.emitLegacyCommonJSImports,
      importExtension: config.importExtension,
      ...(output.config as object),
    };
    const importExtension = normalizeImportExtension({
      emitLegacyCommonJSImports: rawConfig.emitLegacyCommonJSImports as boolean | undefined,
      importExtension: rawConfig.importExtension as Types.Config['importExtension'],
    });
    const emitLegacyCommonJSImports = (rawConfig.emitLegacyCommonJSImports as boolean | undefined) ?? true;
    const content = await codegen({
      filename,
      plugins,
      pluginMap,
      schema,
      schemaAst,
      documents: loadDocuments([...[config.documents ?? []].flat(), ...[output.documents ?? []].flat()]),
      config: { ...rawConfig, importExtension, emitLegacyCommonJSImports },
      pluginContext: {},
      documentTransforms: [],
      importExtension,
      emitLegacyCommonJSImports,
    });
    outputs.push({ filename, content });
  }
  return outputs;
}

const check = process.argv.includes('--check');
const outputs = await generate();
const stale = outputs.filter(({ filename, content }) => {
  try {
    return readFileSync(path.join(ROOT, filename), 'utf8') !== content;
  } catch {
    return true;
  }
});
if (check) {
  for (const { filename } of stale) console.error(`${filename} is out of date: run \`npm run codegen\``);
  if (stale.length === 0) console.log(`The ${outputs.length} generated files match schema.graphql and their documents.`);
  process.exitCode = stale.length === 0 ? 0 : 1;
} else {
  for (const { filename, content } of stale) {
    mkdirSync(path.dirname(path.join(ROOT, filename)), { recursive: true });
    writeFileSync(path.join(ROOT, filename), content);
    console.log(`wrote ${filename}`);
  }
  if (stale.length === 0) console.log(`The ${outputs.length} generated files are up to date.`);
}
