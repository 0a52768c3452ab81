import { createHmac, createPublicKey, timingSafeEqual, verify } from 'node:crypto';
import type { SignatureCrypto } from './verify.js';

/** Standard Webhooks' checks on node:crypto, for Node (18 has no global Web Crypto). */
export const nodeCrypto: SignatureCrypto = {
  async verifyHmacSha256(key, content, signature) {
    const digest = createHmac('sha256', key).update(content).digest();
    return signature.length === digest.length && timingSafeEqual(signature, digest);
  },
  async verifyEd25519(publicKey, content, signature) {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' });
    try {
      return verify(null, content, key, signature);
    } catch {
      return false; // e.g. a signature of the wrong length
    }
  },
};
