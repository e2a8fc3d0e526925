import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { DependencyUnavailableError } from '../../common/domain-error.js';
import type { DeliveryJob, DeliveryRef } from '../entities/webhook-delivery.entity.js';
import { errorMessage } from '../../common/error-message.js';

export const DELIVERY_QUEUE = 'stephook-deliveries';

/**
 * Puts delivery work on BullMQ. A job's id names the step (first attempts) or the delivery and the
 * attempt it is for, so the same attempt enqueued twice (by two sweeps, or a sweep and a retry) is
 * one job while it waits; a job that runs late finds its delivery claimed or done and sends nothing.
 * Jobs are removed when they end: the database, not Redis, keeps the history.
 */
@Injectable()
export class DeliveryQueue {
  constructor(@InjectQueue(DELIVERY_QUEUE) private readonly queue: Queue<DeliveryJob>) {}

  /** The first attempts of a step's deliveries, as soon as a worker is free. */
  async enqueueStep(stepId: string): Promise<void> {
    await answered(
      this.queue.add('step', { stepId }, { jobId: `${stepId}.first`, ...ENDS_REMOVED }),
    );
  }

  /**
   * Attempt number `attemptCount + 1` of each, as soon as a worker is free, or not before `at` (a
   * retry the schedule set, or deliveries that waited for their endpoint's room).
   */
  async enqueue(deliveries: DeliveryRef[], at?: Date): Promise<void> {
    if (deliveries.length === 0) return;
    const delay = at ? Math.max(0, at.getTime() - Date.now()) : 0;
    await answered(
      this.queue.addBulk(
        deliveries.map((delivery) => ({
          name: 'attempt',
          data: { deliveryId: delivery.id, manual: false },
          opts: { jobId: attemptJobId(delivery), delay, ...ENDS_REMOVED },
        })),
      ),
    );
  }

  /** An operator's retry; a second click while the first still waits is the same job. */
  async enqueueManual(deliveryId: string): Promise<void> {
    await answered(
      this.queue.add(
        'manual-attempt',
        { deliveryId, manual: true },
        { jobId: `${deliveryId}.manual`, ...ENDS_REMOVED },
      ),
    );
  }

  /** Null when Redis answers, else why not. */
  async problem(): Promise<string | null> {
    try {
      await withTimeout(this.queue.getJobCounts('waiting'), 1_000);
      return null;
    } catch (error) {
      return `Redis does not answer: ${errorMessage(error)}`;
    }
  }
}

/** How long an API call waits on Redis before answering 503. */
const REDIS_ANSWER_MS = 2_000;

/** Redis's answer, or DependencyUnavailableError (503 with Retry-After) when it does not come in time. */
function answered<T>(command: Promise<T>): Promise<T> {
  return withTimeout(command, REDIS_ANSWER_MS).catch((error: unknown) => {
    throw Object.assign(new DependencyUnavailableError('Redis'), { cause: error });
  });
}

const ENDS_REMOVED = { removeOnComplete: true, removeOnFail: true, attempts: 1 } as const;

function attemptJobId(delivery: DeliveryRef): string {
  return `${delivery.id}.${delivery.attemptCount + 1}`;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
