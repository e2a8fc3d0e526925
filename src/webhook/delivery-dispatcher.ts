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
/** How much longer than one attempt's deadline a claim lasts. */
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
  /** Deliveries born leased to this process, by step id, until their step's commit (null: unwritten). */
  private readonly handoffs = new Map<string, WebhookDelivery | null>();
  private readonly policy: RetryPolicy;
  /** Slots promised to claims still on their way back from the database. */
  private reserved = 0;
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
    if (!this.accepting) return 0;
    return Math.max(0, this.config.concurrency - this.inFlight.size - this.reserved);
  }

  /** Called whenever an attempt ends and its slot is free again. */
  onSlotFreed(listener: () => void): void {
    this.slotFreed = listener;
  }

  /**
   * Inside a step's transaction, before its delivery is written: takes a slot for the first attempt
   * if one is free and answers until when the delivery may be written already leased to this
   * process. Null when every slot is busy: the delivery then waits for the scheduler like any other.
   */
  reserveHandoff(stepId: string): Date | null {
    if (!this.config.url || this.freeSlots <= 0 || this.handoffs.has(stepId)) return null;
    this.reserved += 1;
    this.handoffs.set(stepId, null);
    return this.leaseUntil();
  }

  /** The delivery written under a reservation: sent as soon as its step's commit is announced. */
  holdHandoff(delivery: WebhookDelivery): void {
    if (this.handoffs.has(delivery.stepId)) this.handoffs.set(delivery.stepId, delivery);
  }

  /** The step's transaction rolled back: there is nothing to send and the slot is free again. */
  cancelHandoff(stepId: string): void {
    if (!this.handoffs.delete(stepId)) return;
    this.reserved -= 1;
    this.slotFreed();
  }

  /**
   * The fast path: the first attempt right after the commit, no polling delay. A delivery leased in
   * the step's own transaction goes straight out; otherwise it is claimed first.
   */
  async dispatchStep(event: StepCompletedEvent): Promise<void> {
    if (!this.config.url) {
      this.logger.debug(
        `Step ${event.stepId} is ${event.status}; STEP_COMPLETE_WEBHOOK is empty, so no webhook is sent`,
        { step_id: event.stepId },
      );
      return;
    }
    const handoff = this.handoffs.get(event.stepId);
    if (handoff) {
      this.handoffs.delete(event.stepId);
      this.reserved -= 1;
      return this.launch(handoff, false);
    }
    // With every slot busy the delivery waits in the database; the scheduler takes it when one frees.
    const claimed = await this.claimWithin(1, (leaseUntil) =>
      this.store.claimDueForStep(event.stepId, new Date(), leaseUntil),
    );
    await Promise.all(claimed.map((delivery) => this.launch(delivery, false)));
  }

  /** Claims up to `limit` due deliveries (never more than free slots) and starts them; how many. */
  async launchDue(limit: number): Promise<number> {
    if (!this.config.url) return 0;
    const claimed = await this.claimWithin(limit, (leaseUntil, slots) =>
      this.store.claimDue(new Date(), leaseUntil, slots),
    );
    for (const delivery of claimed) void this.launch(delivery, false);
    return claimed.length;
  }

  /** Holds up to `limit` free slots while the claim is in the database, so the limit is never exceeded. */
  private async claimWithin(
    limit: number,
    claim: (leaseUntil: Date, slots: number) => Promise<WebhookDelivery[]>,
  ): Promise<WebhookDelivery[]> {
    const slots = Math.min(limit, this.freeSlots);
    if (slots <= 0) return [];
    this.reserved += slots;
    try {
      return await claim(this.leaseUntil(), slots);
    } finally {
      this.reserved -= slots;
    }
  }

  /**
   * One more attempt now, whatever the delivery's state and whether a slot is free. False when an
   * attempt on it is under way already (here or in another process).
   */
  async retryNow(deliveryId: string): Promise<boolean> {
    if (!this.accepting || this.inFlight.has(deliveryId)) return false;
    const delivery = await this.store.claimAny(deliveryId, new Date(), this.leaseUntil());
    if (!delivery) return false;
    void this.launch(delivery, true);
    return true;
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

  private launch(delivery: WebhookDelivery, manual: boolean): Promise<void> {
    const attempt = this.attempt(delivery, manual).finally(() => {
      this.inFlight.delete(delivery.id);
      this.slotFreed();
    });
    this.inFlight.set(delivery.id, attempt);
    return attempt;
  }

  /** A claim outlives its attempt, so only a dead process's claim ever runs out. */
  private leaseUntil(): Date {
    return new Date(Date.now() + this.config.timeoutMs + LEASE_MARGIN_MS);
  }

  private async attempt(delivery: WebhookDelivery, manual: boolean): Promise<void> {
    try {
      const startedAt = new Date();
      const result = await this.sender.send({
        url: this.config.url!,
        body: delivery.payload,
        headers: buildWebhookHeaders({
          deliveryId: delivery.id,
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
      this.logger.error(`Webhook delivery ${delivery.id} could not be attempted`, error, {
        step_id: delivery.stepId,
        delivery_id: delivery.id,
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
