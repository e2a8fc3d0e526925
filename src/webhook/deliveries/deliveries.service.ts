import { Inject, Injectable } from '@nestjs/common';
import type { WebhookConfig } from '../../config/webhook.config.js';
import { DeliveryStore } from '../delivery-store.js';
import { DeliveryTrigger } from '../dispatch/delivery-trigger.js';
import { displayUrl } from '../endpoints/endpoint.js';
import { EndpointRegistry } from '../endpoints/endpoint-registry.js';
import {
  DeliveryNotFoundError,
  EndpointDisabledError,
  NotificationsOffError,
} from '../webhook.errors.js';
import { DeliveryReads, DeliveryWithAttempts } from './delivery-reads.js';
import type { DeliveryStatus } from '../entities/webhook-delivery.entity.js';
import { WEBHOOK_CONFIG } from '../../config/stephook-config.module.js';
import type { ProjectScope } from '../../common/project-scope.js';

const MINUTE_MS = 60_000;

export interface DeliverySummary {
  receiver_url: string | null;
  counts: Record<DeliveryStatus, number>;
  oldest_pending_created_at: string | null;
  oldest_pending_age_s: number | null;
  last_hour: { attempts: number; succeeded: number; success_rate: number | null };
  attempts_per_minute: { minute: string; attempts: number; succeeded: number; failed: number }[];
}

/**
 * What operators do with deliveries: look, retry one now, recover failures after an outage. A key
 * bound to projects (its ProjectScope) sees, retries and recovers only its projects' deliveries.
 */
@Injectable()
export class DeliveriesService {
  constructor(
    @Inject(WEBHOOK_CONFIG) private readonly config: WebhookConfig,
    private readonly reads: DeliveryReads,
    private readonly store: DeliveryStore,
    private readonly trigger: DeliveryTrigger,
    private readonly endpoints: EndpointRegistry,
  ) {}

  async findOne(id: string, scope: ProjectScope): Promise<DeliveryWithAttempts> {
    const delivery = await this.reads.findOne(id, scope);
    if (!delivery) throw new DeliveryNotFoundError(id);
    return delivery;
  }

  /**
   * One more attempt now, whatever the delivery's state; the attempt runs after the answer. 409
   * when there is nothing to send to (endpoint deleted, or the environment endpoint unset) or its
   * endpoint is disabled (nothing of it is attempted until it is enabled).
   */
  async retryNow(id: string, scope: ProjectScope): Promise<DeliveryWithAttempts> {
    const delivery = await this.findOne(id, scope);
    const endpoint = await this.endpoints.find(delivery.endpointId);
    if (!endpoint) throw new NotificationsOffError(delivery.endpointId);
    if (endpoint.disabled) throw new EndpointDisabledError(endpoint.id);
    await this.trigger.retryNow(id);
    return delivery;
  }

  /**
   * What the dashboard shows at a glance; counts over the hour that ends with the current minute.
   * Within `scope` only; the environment's receiver URL is not shown to a key bound to projects
   * (the environment endpoint is never theirs).
   */
  async summary(scope: ProjectScope, now = new Date()): Promise<DeliverySummary> {
    const firstMinute = new Date(
      Math.floor(now.getTime() / MINUTE_MS) * MINUTE_MS - 59 * MINUTE_MS,
    );
    const totals = await this.reads.summary(firstMinute, scope);
    const lastHour = Array.from({ length: 60 }, (_, index) => {
      const minute = new Date(firstMinute.getTime() + index * MINUTE_MS).toISOString();
      const counted = totals.attemptsByMinute.get(minute.slice(0, 16));
      const attempts = counted?.attempts ?? 0;
      const succeeded = counted?.succeeded ?? 0;
      return { minute, attempts, succeeded, failed: attempts - succeeded };
    });
    const attempts = lastHour.reduce((sum, bucket) => sum + bucket.attempts, 0);
    const succeeded = lastHour.reduce((sum, bucket) => sum + bucket.succeeded, 0);
    const oldest = totals.oldestPendingCreatedAt;
    return {
      receiver_url: this.config.url && scope === null ? displayUrl(this.config.url) : null,
      counts: totals.counts,
      oldest_pending_created_at: oldest,
      oldest_pending_age_s: oldest
        ? Math.max(0, Math.round((now.getTime() - Date.parse(oldest)) / 1000))
        : null,
      last_hour: { attempts, succeeded, success_rate: attempts ? succeeded / attempts : null },
      attempts_per_minute: lastHour,
    };
  }

  async recoverFailedSince(
    since: string,
    endpointId: string | undefined,
    scope: ProjectScope,
  ): Promise<number> {
    const requeued = await this.store.requeueFailedSince(since, endpointId, scope);
    if (requeued.length > 0) await this.trigger.requeued(requeued);
    return requeued.length;
  }
}
