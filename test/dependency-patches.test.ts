import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface PackageJson {
  version?: string;
  dependencies?: Record<string, string>;
  overrides?: Record<string, string>;
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as PackageJson;

/**
 * Each patch in src/patches is made for one exact version of its package (patch-package names it
 * `<package>+<version>.patch`, a scope's slash as `+`): package.json must hold that version, as a
 * dependency or an override, so that an install without the lockfile cannot bring another one.
 */
describe('dependency patches', () => {
  const manifest = readJson('package.json');
  const patches = readdirSync('src/patches').filter((file) => file.endsWith('.patch'));

  it.each(patches)('%s is pinned in package.json and installed at its version', (file) => {
    const match = /^(.+)\+([^+]+)\.patch$/.exec(file);
    expect(match, `${file} is not named <package>+<version>.patch`).not.toBeNull();
    const [, mangled, version] = match!;
    const name = mangled!.replace('+', '/');
    const pinned = manifest.dependencies?.[name] ?? manifest.overrides?.[name];
    expect(pinned, `${name}'s version in package.json`).toBe(version);
    expect(readJson(`node_modules/${name}/package.json`).version, `${name}'s installed version`).toBe(version);
  });

  it('finds the patches', () => {
    expect(patches.length).toBeGreaterThan(0);
  });
});
