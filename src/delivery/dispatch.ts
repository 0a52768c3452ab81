import type { Database } from '../db/client.js';
import { deliveryJobKey, enqueueJobs, type JobCatalogue } from '../db/jobs.js';
import type { DeliveryWork } from '../db/scoped/deliveries.js';
import { TenantScope } from '../db/tenant-scope.js';
import type { HttpSender, SendResult } from './http-sender.js';
import { decideNextStep, type RetryDecision } from './retry-policy.js';
import { webhookHeaders } from './signer.js';

export const USER_AGENT = 'Hooklane-Webhooks/0.1 (+https://github.com/hooklane)';

export interface DispatchDependencies {
  db: Database;
  sender: HttpSender;
  retryScheduleMs: readonly number[];
  now?: () => Date;
  random?: () => number;
}

export type DispatchOutcome =
  | { kind: 'skipped'; reason: 'not_found' | 'not_pending' | 'subscription_disabled' }
  | { kind: 'attempted'; result: SendResult; decision: RetryDecision };

/**
 * One attempt of one delivery as small stages: load → sign → send → decide → record.
 * An HTTP failure is a result that the retry policy turns into the next step, never an exception;
 * only infrastructure failures (the database) throw, and graphile-worker retries the job.
 */
export async function dispatchDelivery(
  deps: DispatchDependencies,
  job: JobCatalogue['deliver'],
): Promise<DispatchOutcome> {
  const scope = new TenantScope(deps.db, job.tenantId);
  const work = await scope.deliveries.loadWork(job.deliveryId);
  if (!work) return { kind: 'skipped', reason: 'not_found' };
  if (work.status !== 'PENDING') return { kind: 'skipped', reason: 'not_pending' };
  if (!work.subscriptionEnabled) {
    await scope.deliveries.recordAttempt(work.id, undefined, { status: 'FAILED', nextAttemptAt: null });
    return { kind: 'skipped', reason: 'subscription_disabled' };
  }

  const now = deps.now ?? (() => new Date());
  const result = await deps.sender.send(signedRequest(work, now()));
  const decision = decideNextStep({
    attemptNumber: work.attemptCount + 1,
    outcome: result.outcome,
    scheduleMs: deps.retryScheduleMs,
    random: deps.random,
  });
  await record(scope, work, result, decision, now());
  return { kind: 'attempted', result, decision };
}

function signedRequest(work: DeliveryWork, at: Date) {
  const message = { msgId: work.eventId, timestampSeconds: Math.floor(at.getTime() / 1000), body: work.body };
  return { url: work.url, body: work.body, headers: webhookHeaders(message, work.secrets, USER_AGENT) };
}

async function record(scope: TenantScope, work: DeliveryWork, result: SendResult, decision: RetryDecision, at: Date) {
  const attempt = {
    statusCode: result.statusCode,
    error: result.error,
    durationMs: result.durationMs,
    responseBody: result.responseBody,
  };
  const retryAt = decision.action === 'retry' ? new Date(at.getTime() + decision.delayMs) : null;
  const status = decision.action === 'succeed' ? 'SUCCEEDED' : decision.action === 'fail' ? 'FAILED' : 'PENDING';
  await scope.transaction(async (tx, executor) => {
    await tx.deliveries.recordAttempt(work.id, attempt, { status, nextAttemptAt: retryAt });
    if (retryAt) {
      await enqueueJobs(executor, [
        { task: 'deliver', payload: { tenantId: scope.tenantId, deliveryId: work.id }, runAt: retryAt, jobKey: deliveryJobKey(work.id) },
      ]);
    }
  });
}
