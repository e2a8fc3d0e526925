import { errorMessage } from '../common/error-message.js';

/**
 * How long a caller is told to wait (Retry-After, seconds) when the database or Redis does not
 * answer: about the time the drivers take to notice that it is back.
 */
export const RETRY_AFTER_SECONDS = 2;

/** Node socket errors: the database cannot be reached, or the connection broke under the query. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLite: another process holds the lock past busy_timeout, or the file cannot be read right now.
 * PostgreSQL (SQLSTATE): class 08 (connection exception), 57P01–57P03 (the server is shutting down
 * or starting), 53300 (too many connections), 57014 (statement timeout).
 */
const DRIVER_CODES = new Set([
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_IOERR',
  'SQLITE_CANTOPEN',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '57014',
]);

/** Messages of pg and pg-pool that carry no code. */
const MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Query read timeout/,
  /^Client was closed and is not queryable/,
  /^Client has encountered a connection error and is not queryable/,
  /^Cannot use a pool after calling end/,
  /^Connection lost/,
];

/**
 * Whether `error` means "the database did not answer" (a lost or refused connection, a timeout, a
 * lock held elsewhere) rather than a fault of the request or of stephook. Such a failure is answered
 * 503 with Retry-After, and an attempt that was sent keeps its result until the write succeeds.
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  // Duck-typed rather than `instanceof Error`: driver errors can come from another realm (a native
  // addon, a test runner's VM context), where instanceof answers false.
  if (typeof error !== 'object' || error === null || depth > 3) return false;
  const { code, message, cause, driverError } = error as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    driverError?: unknown;
  };
  if (driverError !== undefined && driverError !== error) {
    return isDatabaseUnavailable(driverError, depth + 1);
  }
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || DRIVER_CODES.has(code) || code.startsWith('08')) return true;
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_IOERR')) return true;
  }
  if (typeof message === 'string' && MESSAGES.some((pattern) => pattern.test(message))) return true;
  // pg-pool wraps a failed connect; the cause holds the socket error.
  return cause !== undefined && cause !== error && isDatabaseUnavailable(cause, depth + 1);
}

interface WarnAndErrorLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string, error: unknown): void;
}

/**
 * The log of a background pass that repeats (a poll, a sweep): while the database does not answer,
 * one warning when the outage starts and one line when it ends, not an error with a stack trace per
 * pass; any other failure is an error each time.
 */
export class RepeatedPassLog {
  private inOutage = false;

  constructor(
    private readonly logger: WarnAndErrorLogger,
    private readonly pass: string,
  ) {}

  failed(error: unknown): void {
    if (!isDatabaseUnavailable(error)) {
      this.logger.error(`${this.pass} failed; trying again shortly`, error);
      return;
    }
    if (this.inOutage) return;
    this.inOutage = true;
    const reason = errorMessage(error);
    this.logger.warn(
      `${this.pass} failed: the database does not answer (${reason}); retrying until it does`,
    );
  }

  succeeded(): void {
    if (!this.inOutage) return;
    this.inOutage = false;
    this.logger.log(`${this.pass}: the database answers again`);
  }
}
