// @hooklane/sdk for Node (the `node` condition of package.json's exports): the same API as
// index.ts, verifying on node:crypto, which Node 18 has where it lacks a global Web Crypto.
import { nodeCrypto } from './node-crypto.js';
import { verifyWebhookWith, type VerifyOptions, type WebhookBody, type WebhookHeaders, type WebhookPayload } from './verify.js';

export * from './exports.js';

/** See index.ts: the same verification, on node:crypto. */
export function verifyWebhook<TData = unknown>(
  rawBody: WebhookBody,
  headers: WebhookHeaders,
  secret: string | readonly string[],
  options?: VerifyOptions,
): Promise<WebhookPayload<TData>> {
  return verifyWebhookWith<TData>(nodeCrypto, rawBody, headers, secret, options);
}
