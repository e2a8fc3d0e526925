import type { LoggerService } from '@nestjs/common';
import { DEFAULT_WAIT_MS, Waiters } from './deadline.js';

export type RecordedLevel = 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal';

export interface LogEntry {
  level: RecordedLevel;
  message: string;
  context: string | undefined;
  /** Every argument after the message, as passed (structured fields, error stacks, context). */
  extra: unknown[];
}

/**
 * A real LoggerService that keeps what it is told, so tests can assert levels and search all
 * output (for example for secrets that must never appear).
 */
export class RecordingLogger implements LoggerService {
  readonly entries: LogEntry[] = [];
  private readonly waiters = new Waiters<LogEntry>();

  log(message: unknown, ...rest: unknown[]): void {
    this.record('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.record('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.record('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.record('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.record('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.record('fatal', message, rest);
  }

  /** Resolves with the first entry (already logged or still to come) that matches, within `ms`. */
  waitFor(
    matches: (entry: LogEntry) => boolean,
    what = 'a matching log entry',
    ms = DEFAULT_WAIT_MS,
  ): Promise<LogEntry> {
    const seen = this.entries.find(matches);
    return seen ? Promise.resolve(seen) : this.waiters.wait(matches, what, ms);
  }

  /** Everything recorded, as one searchable text. */
  text(): string {
    return this.entries
      .map(
        (entry) =>
          `${entry.level} ${entry.context ?? ''} ${entry.message} ${JSON.stringify(entry.extra)}`,
      )
      .join('\n');
  }

  private record(level: RecordedLevel, message: unknown, rest: unknown[]): void {
    const context = typeof rest.at(-1) === 'string' ? (rest.at(-1) as string) : undefined;
    const entry: LogEntry = {
      level,
      message: typeof message === 'string' ? message : JSON.stringify(message),
      context,
      extra: rest,
    };
    this.entries.push(entry);
    this.waiters.observe(entry);
  }
}
