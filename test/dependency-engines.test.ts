import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

interface LockedPackage {
  version?: string;
  engines?: { node?: string } | string[];
}

/**
 * package.json's `engines` is a promise to the people who install Hooklane: every package the
 * lockfile installs must run on the oldest Node it names, or `npm install` warns (EBADENGINE) on
 * that Node. An upgrade that raises a dependency's floor fails here: pin the last version that
 * supports it (an override for a dependency's dependency), or raise the claim.
 */
describe('engines', () => {
  const claimed = (JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } }).engines.node;
  const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, LockedPackage> };

  it(`every package in the lockfile supports the oldest Node that package.json claims (${claimed})`, () => {
    const oldest = semver.minVersion(claimed)!.version;
    const unsupported = Object.entries(lock.packages)
      .filter(([path]) => path !== '')
      .flatMap(([path, locked]) => {
        const wanted = Array.isArray(locked.engines) ? undefined : locked.engines?.node;
        return wanted && !semver.satisfies(oldest, wanted) ? [`${path}@${locked.version} needs Node ${wanted}`] : [];
      });
    expect(unsupported).toEqual([]);
  });
});
