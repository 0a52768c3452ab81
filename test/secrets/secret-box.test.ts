import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEV_SECRET_FILE, loadOrCreateDevSecret } from '../../src/auth/dev-secret.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import {
  DEV_KEY_FILE,
  isSealed,
  loadOrCreateDevSecretsKey,
  parseSecretsKey,
  SealedSecretError,
  SecretBox,
  secretsKeyBytes,
} from '../../src/secrets/secret-box.js';

const KEY = Buffer.alloc(32, 1);
const OTHER_KEY = Buffer.alloc(32, 2);
const PLAIN = 'whsec_MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=';

/** A value as earlier releases sealed it: `enc1:`, AES-256-GCM without additional data. */
function sealUnbound(key: Buffer, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return ['enc1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), ciphertext.toString('base64')].join(':');
}

/** `sealed` with its part `index` (1 IV, 2 tag, 3 ciphertext) changed by `change`. */
function withPart(sealed: string, index: number, change: (bytes: Buffer) => Buffer): string {
  const parts = sealed.split(':');
  parts[index] = change(Buffer.from(parts[index]!, 'base64')).toString('base64');
  return parts.join(':');
}

const flipFirstByte = (bytes: Buffer) => {
  const copy = Buffer.from(bytes);
  copy.writeUInt8(copy.readUInt8(0) ^ 0x01, 0);
  return copy;
};

describe('SecretBox', () => {
  it('seals in the current format, differently each time, and opens for the same row', () => {
    const box = new SecretBox(KEY);
    const first = box.seal(PLAIN, 'sub_a');
    const second = box.seal(PLAIN, 'sub_a');
    expect(first).toMatch(/^enc2:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(isSealed(first)).toBe(true);
    expect(first).not.toBe(second);
    expect(first).not.toContain(PLAIN.slice('whsec_'.length));
    expect(box.open(first, 'sub_a')).toBe(PLAIN);
    expect(new SecretBox(KEY).open(second, 'sub_a')).toBe(PLAIN);
  });

  it('refuses a tampered value: IV, tag or ciphertext', () => {
    const box = new SecretBox(KEY);
    const sealed = box.seal(PLAIN, 'sub_a');
    for (const part of [1, 2, 3]) {
      expect(() => box.open(withPart(sealed, part, flipFirstByte), 'sub_a')).toThrow(SealedSecretError);
    }
  });

  it('refuses the wrong key', () => {
    const sealed = new SecretBox(KEY).seal(PLAIN, 'sub_a');
    expect(() => new SecretBox(OTHER_KEY).open(sealed, 'sub_a')).toThrow(/cannot be opened/);
  });

  it('refuses a value copied into another row, also once the right row has opened it (the cache is per row)', () => {
    const box = new SecretBox(KEY);
    const ofA = box.seal(PLAIN, 'sub_a');
    const ofB = box.seal('whsec_b', 'sub_b');
    expect(() => box.open(ofA, 'sub_b')).toThrow(SealedSecretError);
    expect(box.open(ofA, 'sub_a')).toBe(PLAIN);
    expect(box.open(ofB, 'sub_b')).toBe('whsec_b');
    // Swapped rows: each row's value in the other.
    expect(() => box.open(ofA, 'sub_b')).toThrow(SealedSecretError);
    expect(() => box.open(ofB, 'sub_a')).toThrow(SealedSecretError);
    // A row id that would run into the value in a naive cache key.
    expect(() => box.open(ofA, `sub_a\n${ofA}`)).toThrow(SealedSecretError);
  });

  it('requires the full 16-byte tag and a 12-byte IV', () => {
    const box = new SecretBox(KEY);
    const sealed = box.seal(PLAIN, 'sub_a');
    for (const length of [4, 8, 12, 15]) {
      expect(() => box.open(withPart(sealed, 2, (tag) => tag.subarray(0, length)), 'sub_a')).toThrow(/16-byte tag/);
    }
    expect(() => box.open(withPart(sealed, 2, (tag) => Buffer.concat([tag, Buffer.alloc(1)])), 'sub_a')).toThrow(SealedSecretError);
    expect(() => box.open(withPart(sealed, 1, (iv) => iv.subarray(0, 8)), 'sub_a')).toThrow(/12-byte IV/);
  });

  it('refuses malformed values', () => {
    const box = new SecretBox(KEY);
    const sealed = box.seal(PLAIN, 'sub_a');
    for (const value of ['enc2:', 'enc2:a:b', `${sealed}:extra`, sealed.replace(/:[^:]+$/, ':not*base64'), '']) {
      expect(() => box.open(value, 'sub_a'), value).toThrow(SealedSecretError);
    }
  });

  it('opens only the current format: an unbound enc1 value or an unsealed one is an error, not taken as it is', () => {
    const box = new SecretBox(KEY);
    expect(() => box.open(sealUnbound(KEY, PLAIN), 'sub_a')).toThrow(/not sealed in the current format/);
    expect(() => box.open(PLAIN, 'sub_a')).toThrow(/not sealed in the current format/);
  });

  it('seals values of earlier releases again for their row; a current value stays as it is', () => {
    const box = new SecretBox(KEY);
    const fromUnbound = box.reseal(sealUnbound(KEY, PLAIN), 'sub_a');
    const fromPlain = box.reseal(PLAIN, 'sub_b');
    expect(isSealed(fromUnbound) && isSealed(fromPlain)).toBe(true);
    expect(box.open(fromUnbound, 'sub_a')).toBe(PLAIN);
    expect(box.open(fromPlain, 'sub_b')).toBe(PLAIN);
    expect(() => box.open(fromUnbound, 'sub_b')).toThrow(SealedSecretError);
    expect(box.reseal(fromUnbound, 'sub_a')).toBe(fromUnbound);
    // An enc1 value of another key is not sealed again as if it were plain text.
    expect(() => box.reseal(sealUnbound(OTHER_KEY, PLAIN), 'sub_a')).toThrow(SealedSecretError);
    expect(() => box.reseal(withPart(sealUnbound(KEY, PLAIN), 2, (tag) => tag.subarray(0, 4)), 'sub_a')).toThrow(/16-byte tag/);
  });

  it('wants a 32-byte key', () => {
    expect(() => new SecretBox(Buffer.alloc(16))).toThrow(/32 bytes/);
  });
});

describe('SECRETS_KEY', () => {
  const key = randomBytes(32);

  it('is 64 hex characters, or base64 (standard or URL alphabet, padding optional) of 32 bytes', () => {
    expect(parseSecretsKey(key.toString('hex'))).toEqual(key);
    expect(parseSecretsKey(key.toString('hex').toUpperCase())).toEqual(key);
    expect(parseSecretsKey(key.toString('base64'))).toEqual(key);
    expect(parseSecretsKey(`  ${key.toString('base64')}\n`)).toEqual(key);
    expect(parseSecretsKey(key.toString('base64url'))).toEqual(key);
  });

  it('refuses any other length or text', () => {
    for (const text of [
      randomBytes(31).toString('base64'),
      randomBytes(33).toString('base64'),
      key.toString('hex').slice(1),
      `${key.toString('base64').slice(0, 20)}!!${key.toString('base64').slice(22)}`,
      `${key.toString('base64')} ${key.toString('base64')}`,
      'correct horse battery staple correct horse battery',
      '',
    ]) {
      expect(secretsKeyBytes(text), text).toBeUndefined();
      expect(() => parseSecretsKey(text), text).toThrow(/32 bytes/);
    }
  });

  it('a bad SECRETS_KEY stops the configuration in one line naming it, without its value', () => {
    const bad = randomBytes(16).toString('hex');
    let error: unknown;
    try {
      loadConfig({ SECRETS_KEY: bad });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^Invalid configuration: SECRETS_KEY: must be 32 bytes.*\. Fix: /);
    expect((error as Error).message).not.toContain(bad);
    expect(loadConfig({ SECRETS_KEY: key.toString('base64') }).secretsKey).toBe(key.toString('base64'));
  });
});

describe('development secret files in DATA_DIR', () => {
  const folders: string[] = [];
  afterEach(async () => {
    for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
  });
  /** A DATA_DIR that does not exist yet. */
  const dataDir = async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'hooklane-devkey-'));
    folders.push(folder);
    return path.join(folder, 'data');
  };

  it('the secrets key: created once, mode 0600, reused', async () => {
    const dir = await dataDir();
    const key = loadOrCreateDevSecretsKey(dir);
    expect(key).toHaveLength(32);
    const file = path.join(dir, DEV_KEY_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const written = await readFile(file, 'utf8');
    expect(loadOrCreateDevSecretsKey(dir)).toEqual(key);
    expect(await readFile(file, 'utf8')).toBe(written);
    // What one box sealed with it, a box with the reused key opens.
    const sealed = new SecretBox(key).seal(PLAIN, 'sub_a');
    expect(new SecretBox(loadOrCreateDevSecretsKey(dir)).open(sealed, 'sub_a')).toBe(PLAIN);
  });

  it('the secrets key: a damaged file is an error naming it, not replaced by a new key', async () => {
    const dir = await dataDir();
    loadOrCreateDevSecretsKey(dir);
    const file = path.join(dir, DEV_KEY_FILE);
    await writeFile(file, 'not a key\n');
    expect(() => loadOrCreateDevSecretsKey(dir)).toThrow(file);
    expect(await readFile(file, 'utf8')).toBe('not a key\n');
  });

  it('the JWT secret: created once, mode 0600, reused', async () => {
    const dir = await dataDir();
    const secret = loadOrCreateDevSecret(dir);
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
    expect((await stat(path.join(dir, DEV_SECRET_FILE))).mode & 0o777).toBe(0o600);
    expect(loadOrCreateDevSecret(dir)).toBe(secret);
  });
});
