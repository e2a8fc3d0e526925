import type { Socket } from 'node:net';
import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type pg from 'pg';
import type { DatabaseConfig } from '../../config/database.config.js';
import { AnsweringPgClient } from '../../database/answering-pg-client.js';
import { Backoff, Coalesced } from './coalesced.js';
import { THIS_PROCESS_DELIVERS } from './delivery-trigger.js';
import { DATABASE_CONFIG } from '../../config/stephook-config.module.js';
import { errorMessage } from '../../common/error-message.js';

/** The channel every delivering process LISTENs on. */
export const DELIVERY_CHANNEL = 'stephook_deliveries';

/** How long the notify connection may take to open, and one statement on it to answer. */
const CONNECT_TIMEOUT_MS = 2_000;
const STATEMENT_TIMEOUT_MS = 2_500;
/** The first and the longest wait before opening a lost connection again. */
const RECONNECT_FIRST_MS = 100;
const RECONNECT_MAX_MS = 5_000;
/**
 * How often a listening connection is checked: one that died silently (a partition, a NAT that
 * forgot it) hears nothing and says nothing, so it is asked, and dropped when it does not answer.
 */
const CHECK_EVERY_MS = 15_000;
/** How long a close waits for PostgreSQL to acknowledge it before the socket is simply destroyed. */
const CLOSE_WAIT_MS = 500;

/**
 * PostgreSQL without a queue (no REDIS_URL): tells every delivering process at once that
 * deliveries were committed for it — a `NOTIFY stephook_deliveries` after the commit, one for all
 * the commits of a turn of the event loop and at most one in flight per process — so a worker
 * process starts a first attempt that an API process (DELIVERY_WORKER=off) committed without
 * waiting for its next poll. Every delivering process LISTENs and wakes its scheduler (once per
 * turn, however many notifications arrived).
 *
 * One connection of its own, outside TypeORM's pool, so it never takes a connection a request
 * needs. It is best effort by design: the scheduler's poll (MAX_POLL_INTERVAL_MS) stays the safety
 * net, so a NOTIFY that is lost (the process died after its commit, the connection was down) costs
 * at most a second, never a delivery. Nothing here waits on the connection: `announce()` returns at
 * once, a lost connection is opened again after a backoff (and the scheduler woken, for what was
 * announced meanwhile), and the close destroys the socket when PostgreSQL does not answer.
 * Inert on SQLite.
 */
@Injectable()
export class PgDeliveryNotifier implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(PgDeliveryNotifier.name);
  /** The connection being opened or open; `ready` once it can send (and listens, if it should). */
  private client: pg.Client | null = null;
  private ready = false;
  private active = false;
  private closed = false;
  /** The connection was lost and is not back yet (logged once per outage). */
  private outage = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  private readonly backoff = new Backoff(RECONNECT_FIRST_MS, RECONNECT_MAX_MS);
  private readonly notify = new Coalesced(() => this.sendNotify());
  private readonly wake = new Coalesced(() => this.onWake());
  private onWake: () => void = () => undefined;

  constructor(
    @Inject(DATABASE_CONFIG) private readonly database: DatabaseConfig,
    @Inject(THIS_PROCESS_DELIVERS) private readonly delivers: boolean,
  ) {}

  /** On PostgreSQL: NOTIFY is sent and, in a delivering process, heard. */
  get enabled(): boolean {
    return this.database.dialect === 'postgres';
  }

  /** Whether the connection is open now (for the tests and the log). */
  get connected(): boolean {
    return this.ready;
  }

  /** NOTIFYs sent so far (each for every commit announced before it). */
  get sent(): number {
    return this.notify.runs;
  }

  /** Notifications heard from other processes so far (its own are not counted, nor acted on). */
  heard = 0;

  /** What to call when another process announced deliveries (the scheduler's wake). */
  onAnnounced(listener: () => void): void {
    this.onWake = listener;
  }

  /**
   * Deliveries were committed (or made due again) that another process may have to attempt: tell
   * the delivering processes, soon after and without waiting. Never throws.
   */
  announce(): void {
    if (this.active && this.ready) this.notify.request();
  }

  /** Opens the connection; one that cannot be opened now is retried in the background. */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.enabled) return;
    this.active = true;
    await this.open();
    if (this.delivers) {
      this.checkTimer = setInterval(() => void this.check(), CHECK_EVERY_MS);
      this.checkTimer.unref();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    this.notify.close();
    this.wake.close();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.checkTimer) clearInterval(this.checkTimer);
    const client = this.client;
    this.client = null;
    this.ready = false;
    if (client) await closeWithin(client, CLOSE_WAIT_MS);
  }

  private async open(): Promise<void> {
    if (this.closed) return;
    const url = this.database.dialect === 'postgres' ? this.database.url : '';
    const client = new AnsweringPgClient({
      connectionString: url,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: STATEMENT_TIMEOUT_MS,
      keepAlive: true,
      application_name: 'stephook notify',
    });
    this.client = client;
    client.on('error', (error: Error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('the connection ended')));
    client.on('notification', (message: pg.Notification) => this.hear(client, message));
    try {
      await client.connect();
      if (this.delivers) await client.query(`LISTEN ${DELIVERY_CHANNEL}`);
    } catch (error) {
      this.lost(client, error);
      return;
    }
    if (this.client !== client) return; // lost (or closed) while it was being opened
    this.ready = true;
    this.backoff.reset();
    if (this.outage) {
      this.outage = false;
      this.logger.log('The PostgreSQL LISTEN/NOTIFY connection is back');
    }
    // What was announced while this process did not listen: a look now rather than at the poll.
    if (this.delivers) this.wake.request();
  }

  private lost(client: pg.Client, error: unknown): void {
    if (this.client !== client) return;
    this.client = null;
    this.ready = false;
    void closeWithin(client, 0);
    if (this.closed) return;
    if (!this.outage) {
      this.outage = true;
      const reason = errorMessage(error);
      // A delivering process stops hearing the others' commits; one that only commits (an API with
      // DELIVERY_WORKER=off) stops announcing its own to the workers.
      const meanwhile = this.delivers
        ? "other processes' deliveries are found by polling (within a second)"
        : "this process's deliveries are found by the workers' polling (within a second)";
      this.logger.warn(
        `The PostgreSQL LISTEN/NOTIFY connection is lost (${reason}): ${meanwhile} until it is ` +
          'back; reconnecting',
      );
    }
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.open();
    }, this.backoff.next());
  }

  private hear(client: pg.Client, message: pg.Notification): void {
    // Its own NOTIFY (sent on this connection) announces what this process could not take itself.
    if (message.channel !== DELIVERY_CHANNEL || message.processId === processIdOf(client)) return;
    this.heard++;
    this.wake.request();
  }

  private async sendNotify(): Promise<void> {
    const client = this.client;
    if (!client || !this.ready) return; // the poll finds it
    // A failure here also ends the connection (a timeout drops it), which `lost` handles.
    await client.query(`NOTIFY ${DELIVERY_CHANNEL}`).catch(() => undefined);
  }

  private async check(): Promise<void> {
    const client = this.client;
    if (!client || !this.ready) return;
    await client.query('SELECT 1').catch(() => undefined);
  }
}

function processIdOf(client: pg.Client): number | undefined {
  return (client as unknown as { processID?: number }).processID;
}

/** Ends `client` politely, or destroys its socket once `ms` pass: a close never hangs. */
async function closeWithin(client: pg.Client, ms: number): Promise<void> {
  const ended = client.end().catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([ended, late]);
  clearTimeout(timer);
  const stream = (client as unknown as { connection?: { stream?: Socket } }).connection?.stream;
  stream?.destroy();
}
