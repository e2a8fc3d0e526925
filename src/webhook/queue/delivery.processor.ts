import { Processor, WorkerHost } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Inject, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DelayedError } from 'bullmq';
import type { Job } from 'bullmq';
import type { WebhookConfig } from '../../config/webhook.config.js';
import { DeliveryDispatcher } from '../dispatch/delivery-dispatcher.js';
import type { DeliveryJob } from '../entities/webhook-delivery.entity.js';
import { DELIVERY_QUEUE, DeliveryQueue } from './delivery-queue.js';
import { WEBHOOK_CONFIG } from '../../config/stephook-config.module.js';
import { errorMessage } from '../../common/error-message.js';

/**
 * Runs delivery jobs in a process that delivers: up to STEP_COMPLETE_CONCURRENCY at once. The
 * dispatcher claims and attempts the job's deliveries; each that stays pending gets its next attempt
 * on the queue, delayed until the retry policy's `nextAttemptAt`. What found no room for its
 * endpoint (its max_in_flight here, its rate limit, its breaker) is delayed, not attempted, so
 * it never holds one of the worker's places while it waits.
 */
@Processor(DELIVERY_QUEUE, {
  autorun: false,
  // A job's lock is renewed while it runs; a dead worker's jobs go back to the queue after about
  // this long (and their database lease, STEP_COMPLETE_TIMEOUT_MS + 10 s, decides when they run).
  lockDuration: 10_000,
  stalledInterval: 5_000,
})
export class DeliveryProcessor
  extends WorkerHost
  implements OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly logger = new Logger(DeliveryProcessor.name);
  private running = false;
  private queueTrouble = false;

  constructor(
    @Inject(WEBHOOK_CONFIG) private readonly config: WebhookConfig,
    private readonly dispatcher: DeliveryDispatcher,
    private readonly queue: DeliveryQueue,
  ) {
    super();
  }

  /** Taking jobs. */
  get isRunning(): boolean {
    return this.running;
  }

  async process(job: Job<DeliveryJob>, token?: string): Promise<void> {
    const { outcomes, later, waitUntil } = await this.dispatcher.attemptQueued(job.data);
    for (const { delivery, verdict } of outcomes) {
      if (verdict.status === 'pending') await this.queue.enqueue([delivery], verdict.nextAttemptAt);
    }
    if (later) await this.queue.enqueue(later.deliveries, new Date(later.at));
    if (waitUntil !== null && token) {
      // Its endpoint has no room now (SPEC §9 "Isolation"): the job itself waits, delayed.
      await job.moveToDelayed(waitUntil, token);
      throw new DelayedError();
    }
  }

  onApplicationBootstrap(): void {
    this.worker.concurrency = this.config.concurrency;
    // While Redis refuses or does not answer, BullMQ reports an error several times a second: one
    // warning when that starts, one line when a job runs again (as the database's outages log).
    this.worker.on('error', (error) => {
      if (this.queueTrouble) return;
      this.queueTrouble = true;
      this.logger.warn(
        `The delivery queue (Redis) fails: ${errorMessage(error)}; retrying until it answers`,
      );
    });
    const recovered = () => {
      if (!this.queueTrouble) return;
      this.queueTrouble = false;
      this.logger.log('The delivery queue (Redis) answers again');
    };
    this.worker.on('ready', recovered);
    this.worker.on('active', recovered);
    this.running = true;
    this.worker.run().catch((error: unknown) => {
      this.running = false;
      this.logger.error('Delivery queue worker stopped', error);
    });
  }

  /**
   * Fetches no new jobs, lets the attempts in flight finish until the stop's drain deadline (the
   * dispatcher's), then closes without waiting for the jobs still active. BullMQ's close(force)
   * cannot cut short an unforced close already under way, hence pause first. A job left active
   * keeps its delivery's lease; its BullMQ lock runs out and another worker takes it again (its
   * attempt runs once the lease has run out, or the sweep re-enqueues the delivery).
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.worker.pause(true);
    await this.dispatcher.drain();
    await this.worker.close(true);
  }
}
