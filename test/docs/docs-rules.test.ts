import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { checkDocs, headingAnchors, README_MAX_LINES, renderApiReference } from '../../src/cli/api-reference.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('the documentation', () => {
  it('keeps its rules: a short README, links that arrive, no history', () => {
    expect(checkDocs(ROOT)).toEqual([]);
  });

  it('has an API reference generated from schema.graphql as it is now', () => {
    const reference = renderApiReference(readFileSync(path.join(ROOT, 'schema.graphql'), 'utf8'));
    expect(readFileSync(path.join(ROOT, 'docs/api-reference.md'), 'utf8')).toBe(reference);
    expect(reference).toContain('| `publishEvent(input: PublishEventInput!)` |');
  });
});

describe('checkDocs', () => {
  let root: string | undefined;
  afterEach(() => {
    if (root) rmSync(root, { recursive: true, force: true });
    root = undefined;
  });

  function project(files: Record<string, string>): string {
    root = mkdtempSync(path.join(os.tmpdir(), 'hooklane-docs-'));
    mkdirSync(path.join(root, 'docs'));
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(root, name), text);
    return root;
  }

  it('accepts links to existing files and headings, and ignores code and absolute URLs', () => {
    const dir = project({
      'README.md': '# Title\n\nSee [guide](docs/guide.md#the-retry-schedule), [top](#title) and <https://example.com>.\n\n```md\n[not a link](missing.md)\n```\n',
      'docs/guide.md': '# Guide\n\n## The retry schedule\n\nBack to [the README](../README.md) and [elsewhere](https://example.com/x.md). `[code](gone.md)`\n',
    });
    expect(checkDocs(dir)).toEqual([]);
  });

  it('reports a missing file, a missing heading, a long README and history wording', () => {
    const dir = project({
      'README.md': `# Title\n\n[gone](docs/gone.md) and [bad anchor](docs/guide.md#nowhere)\n${'line\n'.repeat(README_MAX_LINES)}`,
      'docs/guide.md': '# Guide\n\nMeasured in the previous session.\n',
    });
    const problems = checkDocs(dir);
    expect(problems).toHaveLength(4);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^README\.md has \d+ lines; at most 400$/),
        'README.md: link to docs/gone.md: docs/gone.md does not exist',
        'README.md: link to docs/guide.md#nowhere: docs/guide.md has no heading #nowhere',
        expect.stringMatching(/^docs\/guide\.md: "previous session" tells/),
      ]),
    );
  });

  it('makes anchors as GitHub does', () => {
    const anchors = headingAnchors('# Thin payloads: fetching the full object\n## `webhook-id` and you\n## Notes\n## Notes\n');
    expect([...anchors]).toEqual(['thin-payloads-fetching-the-full-object', 'webhook-id-and-you', 'notes', 'notes-1']);
  });
});
