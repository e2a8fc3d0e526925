import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { ensureBuilt, ServerProcess } from '../helpers/server-process.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

/**
 * The real services the scale-out suites run against: the machine's PostgreSQL and Redis (see
 * docs/development.md). Each suite gets a database of its own and a Redis database number of its
 * own, emptied first, so suites and earlier runs cannot see each other's data.
 */
const POSTGRES_ADMIN_URL =
  process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_BASE_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestDatabase {
  url: string;
  query<T extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

async function asAdmin(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/** A new, empty PostgreSQL database (stephook migrates it on start). */
export async function freshPostgres(): Promise<TestDatabase> {
  const name = `stephook_test_${randomBytes(6).toString('hex')}`;
  await asAdmin(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.href, max: 2 });
  // pool.end() resolves while its last sockets are still closing; the forced DROP below then ends
  // them from the server side, which an idle client reports as an error. Expected at teardown.
  pool.on('error', () => undefined);
  return {
    url: url.href,
    async query<T extends pg.QueryResultRow>(sql: string, values: unknown[] = []) {
      return (await pool.query<T>(sql, values)).rows;
    },
    async drop() {
      await pool.end();
      await asAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** `REDIS_URL` for database number `db`, emptied. */
export async function freshRedis(db: number): Promise<string> {
  const url = `${REDIS_BASE_URL}/${db}`;
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  await redis.flushdb();
  await redis.quit();
  return url;
}

/** Runs `work` over `items`, at most `limit` at a time. */
export async function inParallel<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await work(items[index], index);
      }
    }),
  );
}

export { eventually } from '../helpers/deadline.js';

export type Api = ServerProcess & { baseUrl: string };

/** One request to a server started by the bed; a JSON body when given. */
export async function call(
  api: Api,
  method: string,
  path: string,
  body?: object,
): Promise<Response> {
  return fetch(`${api.baseUrl}${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
}

/** The JSON body of an answer that must have `status` (else an error naming what came back). */
export async function json<T>(response: Response, status: number): Promise<T> {
  if (response.status !== status) {
    throw new Error(`expected HTTP ${status}, got ${response.status}: ${await response.text()}`);
  }
  return (await response.json()) as T;
}

/** What a suite of several built processes shares: fresh services, a receiver, its processes. */
export interface ProcessBed {
  db: TestDatabase;
  redisUrl: string;
  receiver: WebhookReceiver;
  /** An API process that leaves delivery to workers (DELIVERY_WORKER=off). */
  startApi(extra?: Record<string, string>): Promise<Api>;
  startWorker(extra?: Record<string, string>): Promise<ServerProcess>;
}

/**
 * For each test: a new PostgreSQL database, Redis database `redisDb` emptied, a receiver answering
 * 204; processes started with `env(bed)` (plus what the test adds) on them, SIGKILLed after the
 * test if still running.
 */
export function useProcessBed(
  redisDb: number,
  env: (bed: ProcessBed) => Record<string, string>,
): ProcessBed {
  const processes: ServerProcess[] = [];
  const bed = {
    async startApi(extra: Record<string, string> = {}) {
      const api = await ServerProcess.start({ ...env(bed), DELIVERY_WORKER: 'off', ...extra });
      processes.push(api);
      return api;
    },
    async startWorker(extra: Record<string, string> = {}) {
      const worker = await ServerProcess.startWorker({ ...env(bed), ...extra });
      processes.push(worker);
      return worker;
    },
  } as ProcessBed;

  beforeAll(() => ensureBuilt());

  beforeEach(async () => {
    bed.db = await freshPostgres();
    bed.redisUrl = await freshRedis(redisDb);
    bed.receiver = await WebhookReceiver.start();
    bed.receiver.replyWith({ status: 204 });
  });

  afterEach(async () => {
    for (const process of processes.splice(0)) {
      if (process.child.exitCode === null && process.signal === null) process.kill('SIGKILL');
      await process.exited;
    }
    await bed.receiver.close();
    await bed.db.drop();
  });

  return bed;
}
