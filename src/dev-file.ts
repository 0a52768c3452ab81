import { linkSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The text of a development secret file in DATA_DIR, created on first use with `make()`, readable
 * by its owner only (0600), and reused afterwards. The file is written in full under a temporary
 * name and then linked in place, which fails if it exists: two processes starting at once agree on
 * one secret, and neither reads a half-written file.
 */
export function readOrCreateDevFile(file: string, make: () => string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const draft = `${file}.${process.pid}.tmp`;
  rmSync(draft, { force: true }); // a crashed run's draft, whose mode could be anything
  writeFileSync(draft, `${make()}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(draft, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(draft);
  }
  return readFileSync(file, 'utf8');
}
