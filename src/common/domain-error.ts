/** What kind of failure a domain error is; one exception filter maps each code to an HTTP status. */
export type DomainErrorCode = 'not_found' | 'conflict' | 'invalid' | 'unavailable';

/** An expected failure of a domain operation, raised by services that know nothing of HTTP. */
export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A service stephook depends on (the database, Redis) did not answer in time: try again later. */
export class DependencyUnavailableError extends DomainError {
  constructor(dependency: string) {
    super('unavailable', `${dependency} is unavailable right now; try again shortly`);
  }
}
