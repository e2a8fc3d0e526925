import { DomainError } from '../common/domain-error.js';
import { ENV_ENDPOINT_ID } from './endpoints/endpoint.js';

/** Every error the webhook module answers with; ErrorResponseFilter maps each code to a status. */

export class DeliveryNotFoundError extends DomainError {
  constructor(id: string) {
    super('not_found', `Webhook delivery ${id} not found`);
  }
}

/** A delivery whose endpoint is not there: STEP_COMPLETE_WEBHOOK unset (`env`), or deleted. */
export class NotificationsOffError extends DomainError {
  constructor(endpointId: string) {
    super(
      'conflict',
      endpointId === ENV_ENDPOINT_ID
        ? 'STEP_COMPLETE_WEBHOOK is empty: there is no receiver to send to'
        : `Webhook endpoint ${endpointId} was deleted: there is no receiver to send to`,
    );
  }
}

/** SPEC §9: nothing of a disabled endpoint is attempted, an operator's retry included. */
export class EndpointDisabledError extends DomainError {
  constructor(endpointId: string) {
    super(
      'conflict',
      `Webhook endpoint ${endpointId} is disabled: its deliveries are held, not attempted. Enable it ` +
        '(PATCH {"disabled": false}) to send them',
    );
  }
}

export class EndpointNotFoundError extends DomainError {
  constructor(id: string) {
    super('not_found', `Webhook endpoint ${id} not found`);
  }
}

/** The environment endpoint is changed by the environment only. */
export class EnvironmentEndpointError extends DomainError {
  constructor() {
    super(
      'conflict',
      'The environment endpoint (env) is set by STEP_COMPLETE_WEBHOOK and its companions; it cannot be changed through the API',
    );
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
