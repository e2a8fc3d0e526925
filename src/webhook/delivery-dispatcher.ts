import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { webhookConfig } from '../config/webhook.config.js';
import type { WebhookConfig } from '../config/webhook.config.js';
import { STEPHOOK_VERSION } from '../common/version.js';
import type { StepCompletedEvent } from '../steps/events/step-completed.event.js';
import { buildWebhookBody } from './webhook-payload.js';
import { AttemptResult, WebhookSender } from './webhook-sender.js';

/** How long shutdown waits for attempts already on the wire. */
export const SHUTDOWN_DRAIN_MS = 10_000;

/**
 * Turns a completed step into its webhook attempt and reports the outcome at the level the
 * contract gives it. Owns every error: nothing here reaches the step path.
 */
@Injectable()
export class DeliveryDispatcher implements BeforeApplicationShutdown {
  private readonly logger = new Logger(DeliveryDispatcher.name);
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    @Inject(webhookConfig.KEY) private readonly config: WebhookConfig,
    private readonly sender: WebhookSender,
  ) {}

  async dispatch(event: StepCompletedEvent): Promise<void> {
    if (!this.config.url) {
      this.logger.debug(
        `Step ${event.stepId} is ${event.status}; STEP_COMPLETE_WEBHOOK is empty, so no webhook is sent`,
        { step_id: event.stepId },
      );
      return;
    }
    const attempt = this.attempt(event, this.config.url);
    this.inFlight.add(attempt);
    try {
      await attempt;
    } finally {
      this.inFlight.delete(attempt);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.inFlight.size === 0) return;
    this.logger.log(`Waiting for ${this.inFlight.size} webhook attempt(s) in flight`);
    let timer: NodeJS.Timeout | undefined;
    const drainDeadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, SHUTDOWN_DRAIN_MS);
    });
    await Promise.race([Promise.allSettled([...this.inFlight]), drainDeadline]);
    clearTimeout(timer);
  }

  private async attempt(event: StepCompletedEvent, url: URL): Promise<void> {
    try {
      const result = await this.sender.send({
        url,
        body: buildWebhookBody(event, this.config.payload),
        headers: this.headers(),
      });
      this.report(event, result);
    } catch (error) {
      this.logger.error(`Webhook for step ${event.stepId} could not be attempted`, error, {
        step_id: event.stepId,
      });
    }
  }

  private headers(): Record<string, string> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': `stephook/${STEPHOOK_VERSION}`,
    };
    if (this.config.key) headers.authorization = `Bearer ${this.config.key}`;
    return headers;
  }

  private report(event: StepCompletedEvent, result: AttemptResult): void {
    const fields = {
      step_id: event.stepId,
      outcome: result.outcome,
      duration_ms: result.durationMs,
    };
    const subject = `Webhook for step ${event.stepId}`;
    switch (result.outcome) {
      case 'success':
        this.logger.log(
          `${subject} delivered: HTTP ${result.statusCode} in ${result.durationMs} ms`,
          {
            ...fields,
            status_code: result.statusCode,
          },
        );
        return;
      case 'timeout':
        this.logger.warn(`${subject} timed out: ${result.error}`, fields);
        return;
      case 'http_error':
        this.logger.warn(
          `${subject} failed: HTTP ${result.statusCode} in ${result.durationMs} ms`,
          { ...fields, status_code: result.statusCode },
        );
        return;
      case 'network_error':
        this.logger.error(`${subject} failed: ${result.error}`, fields);
        return;
    }
  }
}
