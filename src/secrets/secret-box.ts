import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import path from 'node:path';
import { BoundedMap } from '../bounded-map.js';
import { readOrCreateDevFile } from '../dev-file.js';

/** The current format: AES-256-GCM bound to its row. */
const SEALED = 'enc2';
/** Sealed without a row (earlier releases): opened only to be sealed again (see reseal-secrets.ts). */
const UNBOUND = 'enc1';
export const DEV_KEY_FILE = 'secrets-key';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const MAX_OPENED = 4096;

/** A sealed value that cannot be opened: wrong key, altered, another row's, or not in the current format. */
export class SealedSecretError extends Error {
  override readonly name = 'SealedSecretError';
}

/**
 * Encrypts secrets at rest with AES-256-GCM under SECRETS_KEY. A sealed value is
 * `enc2:<iv>:<tag>:<ciphertext>` (base64 parts, a 12-byte IV and the full 16-byte tag), and the
 * id of the row that holds it is the cipher's additional data: a value copied into another row
 * (another subscription, another tenant's) does not open there.
 */
export class SecretBox {
  /** Opened values by row and sealed value: the same secrets sign every delivery of a subscription. */
  private readonly opened = new BoundedMap<string, string>(MAX_OPENED);

  constructor(private readonly key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error(`SECRETS_KEY must be ${KEY_BYTES} bytes`);
  }

  /** Seals `plain` for the row `rowId` (a subscription's id): only `open(sealed, rowId)` gives it back. */
  seal(plain: string, rowId: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(rowId, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [SEALED, iv.toString('base64'), cipher.getAuthTag().toString('base64'), ciphertext.toString('base64')].join(':');
  }

  /**
   * The plain value `seal(plain, rowId)` sealed. Anything else throws a SealedSecretError: another
   * row's value, a wrong key, an altered or truncated value, and values in an earlier format
   * (unbound `enc1:` or unsealed), which start-up seals again (`isSealed` finds them).
   */
  open(sealed: string, rowId: string): string {
    // A sealed value has no newline, so the key names its row and value unambiguously.
    const cacheKey = `${rowId}\n${sealed}`;
    const cached = this.opened.get(cacheKey);
    if (cached !== undefined) return cached;
    const parts = sealed.split(':');
    if (parts[0] !== SEALED) {
      throw new SealedSecretError(`a secret of ${rowId} is not sealed in the current format: start Hooklane once to seal it again (see "Signing secrets" in docs/security.md)`);
    }
    const plain = this.decrypt(parts, rowId);
    this.opened.set(cacheKey, plain);
    return plain;
  }

  /**
   * A value stored by an earlier release sealed again for its row: an unbound `enc1:` value is
   * opened with this key, an unsealed one is taken as it is. A current value is returned unchanged.
   */
  reseal(stored: string, rowId: string): string {
    if (isSealed(stored)) return stored;
    const parts = stored.split(':');
    const plain = parts[0] === UNBOUND ? this.decrypt(parts, undefined) : stored;
    return this.seal(plain, rowId);
  }

  private decrypt(parts: string[], rowId: string | undefined): string {
    const what = rowId === undefined ? 'a secret sealed without its row' : `a secret of ${rowId}`;
    const [, ivText, tagText, ciphertextText] = parts;
    const iv = decodeBase64(ivText);
    const tag = decodeBase64(tagText);
    const ciphertext = decodeBase64(ciphertextText);
    if (parts.length !== 4 || iv?.length !== IV_BYTES || tag?.length !== TAG_BYTES || ciphertext === undefined) {
      throw new SealedSecretError(`${what} is malformed: a sealed value has a ${IV_BYTES}-byte IV and a ${TAG_BYTES}-byte tag`);
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
      if (rowId !== undefined) decipher.setAAD(Buffer.from(rowId, 'utf8'));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      throw new SealedSecretError(`${what} cannot be opened: another SECRETS_KEY sealed it, or it was altered or copied from another row`);
    }
  }
}

/** Whether a stored value is sealed in the current format (bound to its row). */
export function isSealed(stored: string): boolean {
  return stored.startsWith(`${SEALED}:`);
}

/** The SQL LIKE pattern of the current format, for finding values to seal again. */
export const SEALED_LIKE = `${SEALED}:%`;

/** Strict base64 (standard or URL alphabet, padding optional), or undefined. */
function decodeBase64(text: string | undefined): Buffer | undefined {
  if (text === undefined || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(text) || text.replace(/=+$/, '').length % 4 === 1) return undefined;
  return Buffer.from(text, 'base64');
}

/** SECRETS_KEY's 32 bytes, from 64 hex characters or base64; undefined when it is neither. */
export function secretsKeyBytes(text: string): Buffer | undefined {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : decodeBase64(trimmed);
  return key?.length === KEY_BYTES ? key : undefined;
}

/** SECRETS_KEY as 32 bytes: 64 hex characters or base64 of 32 bytes. */
export function parseSecretsKey(text: string): Buffer {
  const key = secretsKeyBytes(text);
  if (!key) throw new Error(`SECRETS_KEY must be ${KEY_BYTES} bytes, written as 64 hex characters or base64`);
  return key;
}

/**
 * The development key kept in DATA_DIR (file `secrets-key`) when SECRETS_KEY is not set: created
 * once, readable by its owner only (0600), and reused. For the embedded mode: with DATABASE_URL,
 * start-up warns and `hooklane doctor` says so.
 */
export function loadOrCreateDevSecretsKey(dataDir: string): Buffer {
  const file = path.join(dataDir, DEV_KEY_FILE);
  const key = secretsKeyBytes(readOrCreateDevFile(file, () => randomBytes(KEY_BYTES).toString('base64')));
  if (!key) throw new Error(`${file} does not hold a ${KEY_BYTES}-byte key: restore it, or remove it to have a new one made (secrets sealed with it are then lost)`);
  return key;
}
