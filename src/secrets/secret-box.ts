import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BoundedMap } from '../bounded-map.js';

const VERSION = 'enc1';
const DEV_KEY_FILE = 'secrets-key';
const MAX_OPENED = 4096;

/**
 * Encrypts signing secrets at rest with AES-256-GCM. A sealed value is
 * `enc1:<iv>:<tag>:<ciphertext>` (base64 parts); values that are not sealed (written before
 * encryption existed) are read as they are and sealed on their next rotation.
 */
export class SecretBox {
  private readonly opened = new BoundedMap<string, string>(MAX_OPENED);

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('SECRETS_KEY must be 32 bytes (base64 or hex)');
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64'), cipher.getAuthTag().toString('base64'), ciphertext.toString('base64')].join(':');
  }

  /** Decrypts; results are cached because the same secrets sign every delivery of a subscription. */
  open(sealed: string): string {
    if (!sealed.startsWith(`${VERSION}:`)) return sealed;
    const cached = this.opened.get(sealed);
    if (cached !== undefined) return cached;
    const [, iv, tag, ciphertext] = sealed.split(':');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv!, 'base64'));
    decipher.setAuthTag(Buffer.from(tag!, 'base64'));
    const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext!, 'base64')), decipher.final()]).toString('utf8');
    this.opened.set(sealed, plain);
    return plain;
  }
}

/** SECRETS_KEY as 32 bytes: 64 hex characters or base64 of 32 bytes. */
export function parseSecretsKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) throw new Error('SECRETS_KEY must be 32 bytes, written as 64 hex characters or base64');
  return key;
}

/** The development key kept in DATA_DIR when SECRETS_KEY is not set, created on first use. */
export function loadOrCreateDevSecretsKey(dataDir: string): Buffer {
  const file = path.join(dataDir, DEV_KEY_FILE);
  if (existsSync(file)) return parseSecretsKey(readFileSync(file, 'utf8'));
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600 });
  return key;
}
