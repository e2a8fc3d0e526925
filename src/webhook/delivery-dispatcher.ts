import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { webhookConfig } from '../config/webhook.config.js';
import type { WebhookConfig } from '../config/webhook.config.js';
import { StephookMetrics } from '../metrics/stephook-metrics.js';
import type { StepCompletedEvent } from '../steps/events/step-completed.event.js';
import type { WebhookDelivery } from './entities/webhook-delivery.entity.js';
import { DeliveryStore, DeliveryVerdict } from './delivery-store.js';
import { RetryPolicy } from './retry-policy.js';
import { buildWebhookHeaders } from './webhook-request.js';
import { AttemptResult, WebhookSender } from './webhook-sender.js';

/** How long shutdown waits for attempts already on the wire. */
export const SHUTDOWN_DRAIN_MS = 10_000;
/** A claim outlives its attempt by this much, so only a dead process's claim ever runs out. */
const LEASE_MARGIN_MS = 30_000;

/**
 * Runs delivery attempts: at most STEP_COMPLETE_CONCURRENCY at once, each claimed in the database
 * first, then sent, then recorded with the delivery's next state. Owns every error: nothing here
 * reaches the step path.
 */
@Injectable()
export class DeliveryDispatcher implements BeforeApplicationShutdown {
  private readonly logger = new Logger(DeliveryDispatcher.name);
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly policy: RetryPolicy;
  private accepting = true;
  private slotFreed: () => void = () => undefined;

  constructor(
    @Inject(webhookConfig.KEY) private readonly config: WebhookConfig,
    private readonly store: DeliveryStore,
    private readonly sender: WebhookSender,
    private readonly metrics: StephookMetrics,
  ) {
    this.policy = new RetryPolicy(config.retryScheduleMs);
  }

  get freeSlots(): number {
    return this.accepting ? Math.max(0, this.config.concurrency - this.inFlight.size) : 0;
  }

  /** Called whenever an attempt ends and its slot is free again. */
  onSlotFreed(listener: () => void): void {
    this.slotFreed = listener;
  }

  /** The fast path: the first attempt right after the commit, no polling delay. */
  async dispatchStep(event: StepCompletedEvent): Promise<void> {
    if (!this.config.url) {
      this.logger.debug(
        `Step ${event.stepId} is ${event.status}; STEP_COMPLETE_WEBHOOK is empty, so no webhook is sent`,
        { step_id: event.stepId },
      );
      return;
    }
    const ids = await this.store.findPendingIdsForStep(event.stepId);
    await Promise.all(ids.map((id) => this.start(id) ?? Promise.resolve()));
  }

  /**
   * Starts an attempt on a due delivery, or returns the one already in flight for it. Returns null
   * when every slot is busy (the scheduler picks it up when one frees) or shutdown has begun. A
   * manual attempt takes the delivery in any state and does not wait for a slot.
   */
  start(deliveryId: string, { manual = false } = {}): Promise<void> | null {
    const running = this.inFlight.get(deliveryId);
    if (running) return running;
    if (!this.accepting) return null;
    if (!manual && this.inFlight.size >= this.config.concurrency) return null;
    const attempt = this.attempt(deliveryId, manual).finally(() => {
      this.inFlight.delete(deliveryId);
      this.slotFreed();
    });
    this.inFlight.set(deliveryId, attempt);
    return attempt;
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.accepting = false;
    if (this.inFlight.size === 0) return;
    this.logger.log(
      `Waiting up to ${SHUTDOWN_DRAIN_MS} ms for ${this.inFlight.size} webhook attempt(s) in flight`,
    );
    let timer: NodeJS.Timeout | undefined;
    const drainDeadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, SHUTDOWN_DRAIN_MS);
    });
    await Promise.race([Promise.allSettled([...this.inFlight.values()]), drainDeadline]);
    clearTimeout(timer);
  }

  private async attempt(deliveryId: string, manual: boolean): Promise<void> {
    const url = this.config.url;
    if (!url) return;
    try {
      const startedAt = new Date();
      const leaseUntil = new Date(startedAt.getTime() + this.config.timeoutMs + LEASE_MARGIN_MS);
      const delivery = await this.store.claim(deliveryId, startedAt, leaseUntil, manual);
      if (!delivery) return;
      const result = await this.sender.send({
        url,
        body: delivery.payload,
        headers: buildWebhookHeaders({
          deliveryId,
          attemptAt: startedAt,
          body: delivery.payload,
          key: this.config.key,
          signingSecrets: this.config.signingSecrets,
        }),
      });
      this.metrics.recordAttempt(result.outcome, result.durationMs);
      const verdict = this.judge(delivery, result, manual);
      await this.store.recordAttempt(delivery, startedAt, result, verdict);
      this.report(delivery, result, verdict);
    } catch (error) {
      this.logger.error(`Webhook delivery ${deliveryId} could not be attempted`, error, {
        delivery_id: deliveryId,
      });
    }
  }

  /** A manual attempt never makes a finished delivery worse: it only turns it into `delivered`. */
  private judge(
    delivery: WebhookDelivery,
    result: AttemptResult,
    manual: boolean,
  ): DeliveryVerdict {
    if (result.outcome === 'success') return { status: 'delivered' };
    if (manual && delivery.status !== 'pending') {
      return delivery.status === 'delivered'
        ? { status: 'delivered' }
        : { status: 'failed', schedulePosition: delivery.schedulePosition };
    }
    const position = delivery.schedulePosition + 1;
    const delayMs = this.policy.delayAfter(position, result);
    return delayMs === null
      ? { status: 'failed', schedulePosition: position }
      : {
          status: 'pending',
          schedulePosition: position,
          nextAttemptAt: new Date(Date.now() + delayMs),
        };
  }

  private report(delivery: WebhookDelivery, result: AttemptResult, verdict: DeliveryVerdict): void {
    const number = delivery.attemptCount + 1;
    const fields = {
      step_id: delivery.stepId,
      delivery_id: delivery.id,
      attempt: number,
      outcome: result.outcome,
      status_code: result.statusCode,
      duration_ms: result.durationMs,
    };
    const subject = `Webhook for step ${delivery.stepId} (${delivery.id}, attempt ${number})`;
    const next =
      verdict.status === 'pending'
        ? `; next attempt at ${verdict.nextAttemptAt.toISOString()}`
        : verdict.status === 'failed'
          ? '; giving up, the delivery is failed'
          : '';
    switch (result.outcome) {
      case 'success':
        this.logger.log(
          `${subject} delivered: HTTP ${result.statusCode} in ${result.durationMs} ms`,
          fields,
        );
        return;
      case 'timeout':
        this.logger.warn(`${subject} timed out: ${result.error}${next}`, fields);
        return;
      case 'http_error':
        this.logger.warn(
          `${subject} failed: HTTP ${result.statusCode} in ${result.durationMs} ms${next}`,
          fields,
        );
        return;
      case 'network_error':
        this.logger.error(`${subject} failed: ${result.error}${next}`, fields);
        return;
    }
  }
}
