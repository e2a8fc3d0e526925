import { DomainError } from '../common/domain-error.js';

/** Every error the webhook module answers with; ErrorResponseFilter maps each code to a status. */

export class DeliveryNotFoundError extends DomainError {
  constructor(id: string) {
    super('not_found', `Webhook delivery ${id} not found`);
  }
}

export class NotificationsOffError extends DomainError {
  constructor() {
    super('conflict', 'STEP_COMPLETE_WEBHOOK is empty: there is no receiver to send to');
  }
}

export class NotDeliveringHereError extends DomainError {
  constructor() {
    super(
      'conflict',
      'This process does not deliver (DELIVERY_WORKER=off) and no queue (REDIS_URL) reaches one that does',
    );
  }
}
