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

/** A paging cursor (`after` / `before`) that names no step. */
export class UnknownCursorError extends DomainError {
  constructor(field: 'after' | 'before', stepId: string) {
    super('invalid', `${field} must be the id of an existing step; ${stepId} is not`);
  }
}
