// @hooklane/sdk: a typed GraphQL client for Hooklane and a verifier for its webhooks. This entry
// point verifies on Web Crypto (Deno, Bun, browsers, edge runtimes); Node loads node.ts instead.
import { verifyWebhookWith, type VerifyOptions, type WebhookBody, type WebhookHeaders, type WebhookPayload } from './verify.js';
import { webCrypto } from './web-crypto.js';

export * from './exports.js';

/**
 * Verifies a Hooklane delivery (Standard Webhooks 1.0) and resolves to its parsed body.
 *
 * `rawBody` must be the body exactly as received, before any JSON parsing. `secret` is the
 * subscription's `whsec_…` secret, or its `whpk_…` Ed25519 public key to check `v1a` signatures;
 * pass several (e.g. during a rotation) to accept any of them. Checks that `webhook-timestamp` is
 * within `toleranceSeconds` of now (both ways), then that one of the space-separated entries of
 * `webhook-signature` verifies: `v1,<base64>`, the HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`,
 * or `v1a,<base64>`, its Ed25519 signature. Signatures are compared in constant time.
 *
 * @throws WebhookVerificationError (the promise rejects) when a header is missing, the timestamp is
 *   out of tolerance, no signature matches, a secret is malformed or the verified body is not JSON.
 */
export function verifyWebhook<TData = unknown>(
  rawBody: WebhookBody,
  headers: WebhookHeaders,
  secret: string | readonly string[],
  options?: VerifyOptions,
): Promise<WebhookPayload<TData>> {
  return verifyWebhookWith<TData>(webCrypto, rawBody, headers, secret, options);
}
