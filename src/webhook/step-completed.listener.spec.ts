import { HttpModule } from '@nestjs/axios';
import { INestApplicationContext } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { parseWebhookConfig, webhookConfig } from '../config/webhook.config.js';
import { STEP_COMPLETED, StepCompletedEvent } from '../steps/events/step-completed.event.js';
import { WebhookReceiver } from '../../test/helpers/webhook-receiver.js';
import { DeliveryDispatcher } from './delivery-dispatcher.js';
import { StepCompletedListener } from './step-completed.listener.js';
import { WebhookSender } from './webhook-sender.js';

describe(StepCompletedListener.name, () => {
  let receiver: WebhookReceiver;
  let app: INestApplicationContext;

  beforeEach(async () => {
    receiver = await WebhookReceiver.start();
    const moduleRef = await Test.createTestingModule({
      imports: [EventEmitterModule.forRoot(), HttpModule],
      providers: [
        StepCompletedListener,
        DeliveryDispatcher,
        WebhookSender,
        {
          provide: webhookConfig.KEY,
          useValue: parseWebhookConfig({ STEP_COMPLETE_WEBHOOK: receiver.url() }),
        },
      ],
    }).compile();
    app = await moduleRef.init();
  });

  afterEach(async () => {
    await app.close();
    await receiver.close();
  });

  it('turns a step.completed event into one webhook POST', async () => {
    const event = new StepCompletedEvent(
      'step-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
      'failed',
      null,
      null,
      'error',
      new Date().toISOString(),
    );

    await app.get(EventEmitter2).emitAsync(STEP_COMPLETED, event);

    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0].rawBody.toString()).toBe(`{"step_id":"${event.stepId}"}`);
  });
});
