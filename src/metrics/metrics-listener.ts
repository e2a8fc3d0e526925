import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LoggerService } from '@nestjs/common';

/** How often a worker that found METRICS_PORT taken tries it again. */
export const METRICS_PORT_RETRY_MS = 30_000;

/** A listen error that retrying will not cure (EACCES, EADDRNOTAVAIL…): a setting to fix. */
export class MetricsListenError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'MetricsListenError';
  }
}

/**
 * A worker's operator listener (/metrics, /health, /ready) on METRICS_PORT. Any number of workers
 * may run on one host with the default port (SPEC §7): one that finds the port taken warns once,
 * keeps delivering, and tries the port again every `retryMs`, so when the worker holding it stops,
 * another takes over the same scrape target. Any other listen error is a setting that will not fix
 * itself and is thrown, naming the variable.
 */
export class MetricsListener {
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly server: Server,
    private readonly port: number,
    private readonly host: string,
    private readonly logger: Pick<LoggerService, 'log' | 'warn'>,
    readonly retryMs = METRICS_PORT_RETRY_MS,
  ) {}

  /**
   * Resolves `listening`, or `port-taken` (retried in the background); rejects with a
   * MetricsListenError for any other error.
   */
  async start(): Promise<'listening' | 'port-taken'> {
    // Where it listens is said in the worker's start line; a later takeover says it itself.
    const error = await this.tryListen(false);
    if (!error) return 'listening';
    if (error.code !== 'EADDRINUSE')
      throw new MetricsListenError(listenProblem(error, this.port, this.host), error.code);
    this.logger.warn(
      `METRICS_PORT ${this.port} is already in use on ${this.host} (another worker on this host?): ` +
        `this worker keeps delivering but serves no /metrics, /health or /ready until the port is ` +
        `free; it tries again every ${this.retryMs / 1000} s. Give each worker its own ` +
        `METRICS_PORT to scrape them all.`,
    );
    this.scheduleRetry();
    return 'port-taken';
  }

  /** No more retries; the caller closes the server itself. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
  }

  private scheduleRetry(): void {
    this.retryTimer = setTimeout(() => void this.retry(), this.retryMs);
    // The worker's queue connection keeps the process alive; a pending retry should not.
    this.retryTimer.unref();
  }

  private async retry(): Promise<void> {
    if (this.stopped) return;
    const error = await this.tryListen(true);
    if (this.stopped) {
      if (!error) this.server.close();
      return;
    }
    if (!error) return;
    if (error.code === 'EADDRINUSE') return this.scheduleRetry();
    // Already delivering: stopping now would help nobody, so say it once and stop trying.
    this.logger.warn(
      `${listenProblem(error, this.port, this.host)}; no more attempts to serve /metrics`,
    );
  }

  /** Listens once; resolves with the error instead of emitting it, and may log where it listens. */
  private tryListen(announce: boolean): Promise<NodeJS.ErrnoException | undefined> {
    return new Promise((resolve) => {
      const onError = (error: NodeJS.ErrnoException) => {
        this.server.off('listening', onListening);
        resolve(error);
      };
      const onListening = () => {
        this.server.off('error', onError);
        const { port } = this.server.address() as AddressInfo;
        if (announce)
          this.logger.log(`stephook worker metrics on http://${this.host}:${port}/metrics`);
        resolve(undefined);
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen(this.port, this.host);
    });
  }
}

function listenProblem(error: NodeJS.ErrnoException, port: number, host: string): string {
  switch (error.code) {
    case 'EACCES':
      return `METRICS_PORT ${port}: permission denied on ${host} (EACCES; ports below 1024 need privileges)`;
    case 'EADDRNOTAVAIL':
      return `HOST ${host} is not an address of this machine (EADDRNOTAVAIL): cannot serve METRICS_PORT ${port} there`;
    default:
      return `METRICS_PORT ${port} on HOST ${host}: cannot listen (${error.code ?? error.message})`;
  }
}
