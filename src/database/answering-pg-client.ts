import type { Socket } from 'node:net';
import pg from 'pg';

/**
 * pg's Client, made safe for a database that freezes or drops connections:
 * - a query that gets no answer within `query_timeout` also closes its connection, so the pool
 *   drops it instead of lending out a connection that is still stuck behind the unanswered query;
 * - a connection that breaks while lent out no longer throws from an 'error' event nobody listens
 *   to (pg-pool listens only while the client is idle): the query in flight gets the error, and the
 *   pool drops the client when it comes back.
 */
export class AnsweringPgClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.on('error', () => undefined);
    const query = this.query.bind(this) as (...args: unknown[]) => unknown;
    this.query = ((...args: unknown[]) => {
      const result = query(...args);
      if (result instanceof Promise) {
        result.catch((error: unknown) => {
          if (error instanceof Error && error.message === 'Query read timeout')
            this.dropConnection();
        });
      }
      return result;
    }) as typeof this.query;
  }

  private dropConnection(): void {
    (this as unknown as { connection: { stream: Socket } }).connection.stream.destroy();
  }
}
