import { DomainError } from '../common/domain-error.js';
import type { StepStatus } from './step-status.js';

export class StepNotFoundError extends DomainError {
  constructor(stepId: string) {
    super('not_found', `Step ${stepId} not found`);
  }
}

export class StepMetricsNotFoundError extends DomainError {
  constructor(stepId: string) {
    super('not_found', `Step ${stepId} has no metrics recorded`);
  }
}

export class StepAlreadyExistsError extends DomainError {
  constructor(stepId: string) {
    super('conflict', `Step ${stepId} already exists`);
  }
}

export class StepAlreadyCompletedError extends DomainError {
  constructor(stepId: string, current: StepStatus, requested: StepStatus) {
    super('conflict', `Step ${stepId} is already ${current}; it cannot become ${requested}`);
  }
}
