import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { webhookConfig } from '../config/webhook.config.js';
import type { WebhookConfig } from '../config/webhook.config.js';
import { StephookMetrics } from '../metrics/stephook-metrics.js';
import type { WebhookDelivery } from './entities/webhook-delivery.entity.js';
import { DeliveryStore, DeliveryVerdict } from './delivery-store.js';
import { RetryPolicy } from './retry-policy.js';
import { buildWebhookHeaders } from './webhook-request.js';
import { AttemptResult, WebhookSender } from './webhook-sender.js';

/** How long shutdown waits for attempts already on the wire. */
export const SHUTDOWN_DRAIN_MS = 10_000;
/** How much longer than one attempt's deadline a claim lasts (time to record the attempt). */
const LEASE_MARGIN_MS = 10_000;

/**
 * Runs delivery attempts: each holds a lease on its delivery in the database (taken by a claim, or
 * written with the delivery when it is born leased to this process), is sent, then recorded with
 * the delivery's next state. Without a queue at most STEP_COMPLETE_CONCURRENCY run at once (slots);
 * with one, the queue's worker bounds them. Owns every error: nothing here reaches the step path.
 */
@Injectable()
export class DeliveryDispatcher implements BeforeApplicationShutdown {
  private readonly logger = new Logger(DeliveryDispatcher.name);
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly policy: RetryPolicy;
  /** Slots promised to claims on their way back from the database, or to deliveries being written. */
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
   * Takes a free slot for a delivery about to be written (inside its step's transaction) and answers
   * until when it may be written already leased to this process; null when every slot is busy.
   */
  reserveSlot(): Date | null {
    if (!this.config.url || this.freeSlots <= 0) return null;
    this.reserved += 1;
    return this.leaseUntil();
  }

  /** The reserved slot is not needed after all (the step's transaction rolled back). */
  releaseSlot(): void {
    this.reserved -= 1;
    this.slotFreed();
  }

  /** Sends a delivery written under a reserved slot: no claim needed, it was born leased. */
  launchReserved(delivery: WebhookDelivery): Promise<DeliveryVerdict | null> {
    this.reserved -= 1;
    return this.launch(delivery, false);
  }

  /**
   * The first attempt of a delivery written without a lease: claimed now if due, free and a slot is
   * free; otherwise it waits in the database and the scheduler takes it when a slot frees.
   */
  async claimAndLaunch(deliveryId: string): Promise<void> {
    const claimed = await this.claimWithin(1, (leaseUntil) =>
      this.store.claimDueById(deliveryId, new Date(), leaseUntil),
    );
    await Promise.all(claimed.map((delivery) => this.launch(delivery, false)));
  }

  /**
   * One attempt for a queued job: claims the delivery (if due and free, or whatever its state when
   * `manual`) and attempts it. The verdict, or null when there was nothing to claim. The queue's
   * worker bounds how many run at once.
   */
  async attemptQueued(
    deliveryId: string,
    manual: boolean,
  ): Promise<{ attemptCount: number; verdict: DeliveryVerdict } | null> {
    if (!this.accepting) return null;
    const now = new Date();
    const delivery = manual
      ? await this.store.claimAny(deliveryId, now, this.leaseUntil())
      : (await this.store.claimDueById(deliveryId, now, this.leaseUntil()))[0];
    if (!delivery) return null;
    const verdict = await this.launch(delivery, manual);
    return verdict && { attemptCount: delivery.attemptCount + 1, verdict };
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
   * One more attempt now, whatever the delivery's state and whether a slot is free; nothing when an
   * attempt on it is under way already (here or in another process).
   */
  async retryNow(deliveryId: string): Promise<void> {
    if (!this.accepting || this.inFlight.has(deliveryId)) return;
    const delivery = await this.store.claimAny(deliveryId, new Date(), this.leaseUntil());
    if (delivery) void this.launch(delivery, true);
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
    const unrecorded = this.store.unrecordedCount;
    if (unrecorded > 0) {
      this.logger.error(
        `${unrecorded} webhook attempt(s) were sent but could not be recorded before the stop (the ` +
          'database does not answer): those deliveries will be sent again after their leases run out',
      );
    }
  }

  private launch(delivery: WebhookDelivery, manual: boolean): Promise<DeliveryVerdict | null> {
    // Claimed again while its sent attempt waits to be recorded (the lease ran out in an outage).
    if (this.inFlight.has(delivery.id)) return Promise.resolve(null);
    const attempt = this.attempt(delivery, manual).finally(() => {
      this.inFlight.delete(delivery.id);
      this.slotFreed();
    });
    this.inFlight.set(
      delivery.id,
      attempt.then(() => undefined),
    );
    return attempt;
  }

  /** A claim outlives its attempt, so only a dead process's claim ever runs out. */
  private leaseUntil(): Date {
    return new Date(Date.now() + this.config.timeoutMs + LEASE_MARGIN_MS);
  }

  /**
   * Sends, records and reports one attempt; its verdict, or null if it could not be made. Once sent,
   * the attempt stays in flight until its result is recorded (the store keeps it through a database
   * outage), so this process never sends the same delivery again meanwhile.
   */
  private async attempt(
    delivery: WebhookDelivery,
    manual: boolean,
  ): Promise<DeliveryVerdict | null> {
    const fields = { step_id: delivery.stepId, delivery_id: delivery.id };
    const startedAt = new Date();
    let result: AttemptResult;
    try {
      result = await this.sender.send({
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
    } catch (error) {
      this.logger.error(`Webhook delivery ${delivery.id} could not be attempted`, error, fields);
      return null;
    }
    this.metrics.recordAttempt(result.outcome, result.durationMs);
    const verdict = this.judge(delivery, result, manual);
    try {
      await this.store.recordAttempt(delivery, startedAt, result, verdict);
    } catch (error) {
      this.logger.error(
        `Webhook delivery ${delivery.id} was sent (${result.outcome}) but its attempt could not be ` +
          'recorded; its lease runs out and it will be attempted again',
        error,
        fields,
      );
      return null;
    }
    this.report(delivery, result, verdict);
    return verdict;
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
