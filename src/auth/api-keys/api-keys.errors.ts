import { DomainError } from '../../common/domain-error.js';

export class ApiKeyNotFoundError extends DomainError {
  constructor(id: string) {
    super('not_found', `API key ${id} not found`);
  }
}
