import type { SignatureCrypto } from './verify.js';

function subtle(): SubtleCrypto {
  const subtleCrypto = globalThis.crypto?.subtle;
  if (!subtleCrypto) throw new Error('Web Crypto (globalThis.crypto.subtle) is not available in this runtime');
  return subtleCrypto;
}

/** A copy on its own ArrayBuffer, as Web Crypto's typings ask (a view may sit on a SharedArrayBuffer). */
const own = (bytes: Uint8Array) => new Uint8Array(bytes);

/** Standard Webhooks' checks on Web Crypto, whose `verify` compares in constant time. */
export const webCrypto: SignatureCrypto = {
  async verifyHmacSha256(key, content, signature) {
    const hmacKey = await subtle().importKey('raw', own(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    return subtle().verify('HMAC', hmacKey, own(signature), own(content));
  },
  async verifyEd25519(publicKey, content, signature) {
    const verifyKey = await subtle().importKey('raw', own(publicKey), { name: 'Ed25519' }, false, ['verify']);
    try {
      return await subtle().verify('Ed25519', verifyKey, own(signature), own(content));
    } catch {
      return false; // e.g. a signature of the wrong length
    }
  },
};
