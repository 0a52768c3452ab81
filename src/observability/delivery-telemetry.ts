import type { Logger } from 'pino';
import type { DispatchDependencies, DispatchOutcome } from '../delivery/dispatch.js';
import type { HttpSender, SendRequest, SendResult } from '../delivery/http-sender.js';
import { outcomeLabel } from '../delivery/retry-policy.js';
import type { HooklaneMetrics } from './metrics.js';

/** What a job tells about the deliveries it works on: always the tenant, the delivery when it is one. */
export interface JobSubject {
  tenantId: string;
  deliveryId?: string;
  subscriptionId?: string;
}

/**
 * Records delivery metrics and debug logs from outside the delivery engine (dispatch.ts is not
 * instrumented itself): every attempt is seen through a wrapper around the HTTP sender, which the
 * task handlers hand to the engine for one delivery; a `deliver` or `deliver_batch` job's deferral or
 * hold is seen in the DispatchOutcome of each delivery. Deferrals and holds inside ordered streams and drains (`deliver_stream`
 * jobs) return no outcome and are not counted.
 */
export class DeliveryTelemetry {
  constructor(
    private readonly metrics: HooklaneMetrics | undefined,
    private readonly logger: Logger,
  ) {}

  /** The engine's dependencies for one job, with a sender that reports each attempt. */
  forJob(deps: DispatchDependencies, job: JobSubject): DispatchDependencies {
    const inner = deps.sender;
    const observed = Object.create(inner) as HttpSender;
    observed.send = async (request: SendRequest): Promise<SendResult> => {
      const result = await inner.send(request);
      this.attempted(job, request, result);
      return result;
    };
    return { ...deps, sender: observed };
  }

  /** A delivery's result: attempts are already counted by the sender; deferrals and holds here. */
  dispatched(job: JobSubject, outcome: DispatchOutcome): void {
    if (outcome.kind === 'deferred') {
      this.metrics?.recordDispatch(job.tenantId, 'deferred');
      this.logger.debug(
        { tenantId: job.tenantId, deliveryId: job.deliveryId, outcome: 'deferred', reason: outcome.reason, until: outcome.until },
        'delivery deferred',
      );
    } else if (outcome.kind === 'skipped' && outcome.reason === 'held') {
      this.metrics?.recordDispatch(job.tenantId, 'held');
      this.logger.debug({ tenantId: job.tenantId, deliveryId: job.deliveryId, outcome: 'held' }, 'delivery held');
    } else if (outcome.kind === 'attempted') {
      this.logger.debug(
        { tenantId: job.tenantId, deliveryId: job.deliveryId, outcome: outcomeLabel(outcome.result.outcome), next: outcome.decision.action },
        'delivery attempt settled',
      );
    }
  }

  private attempted(job: JobSubject, request: SendRequest, result: SendResult): void {
    const outcome = outcomeLabel(result.outcome);
    this.metrics?.recordAttempt(job.tenantId, outcome, result.durationMs);
    // Never the URL (it may carry credentials), the headers (signatures) or the body.
    this.logger.debug(
      {
        tenantId: job.tenantId,
        deliveryId: job.deliveryId,
        subscriptionId: job.subscriptionId,
        eventId: request.headers['webhook-id'],
        outcome,
        statusCode: result.statusCode,
        durationMs: result.durationMs,
      },
      'delivery attempt',
    );
  }
}
