// Shared pieces of the benchmark scripts: the built server as a child process, a migrated SQLite
// file, seeded steps and backlogs, and RSS sampling. Measurements only: nothing here is a test.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent, createServer, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import pg from 'pg';

export const root = new URL('..', import.meta.url).pathname;
const startProd = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts[
  'start:prod'
];
/** The Node flags `npm run start:prod` runs the server with, so figures are the shipped setup's. */
export const shippedNodeFlags = startProd.split(' ').filter((word) => word.startsWith('--'));

export async function freePort() {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  probe.close();
  return port;
}

export async function waitUntilAnswering(url, child) {
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`${url}: process exited with ${code}`);
  });
  for (;;) {
    const answered = await Promise.race([
      fetch(url).then(
        (response) => response.status < 500,
        () => false,
      ),
      exited,
    ]);
    if (answered) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * `node dist/main.js` (or another script) on a free port, at LOG_LEVEL=info with its output
 * discarded; resolves once the API answers. SERVER_NODE_FLAGS adds Node flags (e.g. --cpu-prof).
 */
export async function startServer({
  databasePath,
  databaseUrl,
  env = {},
  script = 'dist/main.js',
}) {
  const port = await freePort();
  const flags = [
    ...shippedNodeFlags,
    ...(process.env.SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean),
  ];
  const child = spawn(process.execPath, [...flags, join(root, script)], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      DATABASE_URL: databaseUrl ?? `sqlite:${databasePath}`,
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitUntilAnswering(`${baseUrl}/health`, child);
  return {
    child,
    baseUrl,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/**
 * `node dist/worker.js` (delivery only), at LOG_LEVEL=info with its output discarded, like the
 * server. The caller waits for it to take work (e.g. BullMQ's `queue.getWorkersCount()`).
 */
export function startWorker({ env }) {
  const flags = [
    ...shippedNodeFlags,
    ...(process.env.SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean),
  ];
  const child = spawn(process.execPath, [...flags, join(root, 'dist/worker.js')], {
    cwd: root,
    env: { PATH: process.env.PATH, METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return {
    child,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/**
 * The benchmark receiver (bench/receiver-process.mjs) in its own process: `hook` is its URL;
 * `count()`, `arrivals()` (step_id → epoch ms), `waitForCount(n)`, `mode('fast'|'503'|'hang')`,
 * `reset()`; `okCount()` (webhook-ids answered 2xx), `deliveries()` (webhook-id → [step_id, 2xx
 * answers, other arrivals]) and `times()` (every request's arrival, epoch ms).
 */
export async function startReceiver() {
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'bench/receiver-process.mjs')], {
    env: { PATH: process.env.PATH, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntilAnswering(`${url}/count`, child);
  const receiver = {
    pid: child.pid,
    hook: `${url}/hook`,
    mode: (mode) => fetch(`${url}/mode/${mode}`, { method: 'POST' }),
    reset: () => fetch(`${url}/reset`, { method: 'POST' }),
    count: async () => (await (await fetch(`${url}/count`)).json()).count,
    arrivals: async () => (await (await fetch(`${url}/stats`)).json()).arrivals,
    okCount: async () => (await (await fetch(`${url}/count`)).json()).ok,
    deliveries: async () => (await fetch(`${url}/deliveries`)).json(),
    times: async () => (await fetch(`${url}/times`)).json(),
    async waitForCount(count) {
      while ((await receiver.count()) < count)
        await new Promise((resolve) => setTimeout(resolve, 50));
    },
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
  return receiver;
}

/** Starts the server once so it creates and migrates the database, then stops it. */
export async function migrate(databasePath) {
  const server = await startServer({ databasePath });
  await server.stop();
}

/** Runs `fill(db)` in one transaction on the database file (which a server may have open too). */
function writeInOneTransaction(databasePath, fill) {
  const db = new Database(databasePath);
  db.pragma('busy_timeout = 5000');
  try {
    db.transaction(() => fill(db, new Date().toISOString()))();
  } finally {
    db.close();
  }
}

/** `count` pending steps, written straight into the database; returns their ids. */
export function seedPendingSteps(databasePath, count) {
  const ids = Array.from({ length: count }, () => `step-${randomUUID()}`);
  writeInOneTransaction(databasePath, (db, now) => {
    const insert = db.prepare(
      `INSERT INTO steps (id, status, agent_id, tags, prompt_tokens, completion_tokens, total_tokens, created_at, updated_at)
       VALUES (?, 'pending', 'bench', '[]', 0, 0, 0, ?, ?)`,
    );
    for (const id of ids) insert.run(id, now, now);
  });
  return ids;
}

/**
 * `count` steps completed `ageDays` ago, each with a delivered delivery and its one attempt, as a
 * busy year leaves them; ids time-ordered like the server's. Written in transactions of 50,000.
 */
export function seedExpiredDeliveries(databasePath, count, ageDays) {
  const at = new Date(Date.now() - ageDays * 86_400_000);
  for (let done = 0; done < count; done += 50_000) {
    writeInOneTransaction(databasePath, (db) => {
      const insertStep = db.prepare(
        `INSERT INTO steps (id, status, agent_id, tags, prompt_tokens, completion_tokens, total_tokens, created_at, updated_at, completed_at)
         VALUES (?, 'success', 'bench', '[]', 0, 0, 0, ?, ?, ?)`,
      );
      const insertDelivery = db.prepare(
        `INSERT INTO webhook_deliveries (id, step_id, endpoint_id, status, payload, attempt_count, schedule_position, created_at, updated_at, delivered_at)
         VALUES (?, ?, 'env', 'delivered', ?, 1, 1, ?, ?, ?)`,
      );
      const insertAttempt = db.prepare(
        `INSERT INTO webhook_delivery_attempts (delivery_id, number, started_at, duration_ms, status_code, outcome, response_body)
         VALUES (?, 1, ?, 3, 204, 'success', '')`,
      );
      for (let i = done; i < Math.min(count, done + 50_000); i++) {
        const time = new Date(at.getTime() + i).toISOString();
        const stepId = `step-${randomUUID()}`;
        const id = `msg_${(at.getTime() + i).toString(16).padStart(12, '0')}${randomUUID().replaceAll('-', '').slice(0, 20)}`;
        insertStep.run(stepId, time, time, time);
        insertDelivery.run(id, stepId, JSON.stringify({ step_id: stepId }), time, time, time);
        insertAttempt.run(id, time);
      }
    });
  }
}

/** `count` completed steps with pending deliveries, as a long receiver outage leaves them. */
export function seedBacklog(databasePath, count) {
  writeInOneTransaction(databasePath, (db, now) => {
    const insertStep = db.prepare(
      `INSERT INTO steps (id, status, tags, prompt_tokens, completion_tokens, total_tokens, created_at, updated_at, completed_at)
       VALUES (?, 'success', '[]', 0, 0, 0, ?, ?, ?)`,
    );
    const insertDelivery = db.prepare(
      `INSERT INTO webhook_deliveries (id, step_id, status, payload, attempt_count, schedule_position, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, 'pending', ?, 0, 0, ?, ?, ?)`,
    );
    for (let i = 0; i < count; i++) {
      const stepId = `step-${randomUUID()}`;
      insertStep.run(stepId, now, now, now);
      insertDelivery.run(
        `msg_${randomUUID().replaceAll('-', '')}`,
        stepId,
        JSON.stringify({ step_id: stepId }),
        now,
        now,
        now,
      );
    }
  });
}

export function deliveryStates(databasePath) {
  const db = new Database(databasePath, { readonly: true });
  const rows = db
    .prepare('SELECT status, COUNT(*) AS n FROM webhook_deliveries GROUP BY status')
    .all();
  db.close();
  return Object.fromEntries(rows.map((row) => [row.status, row.n]));
}

/** Samples a process's RSS every 100 ms; `stop()` returns the peak in MB (VmHWM included). */
export function sampleRss(pid) {
  const read = (field) => {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return match ? Number(match[1]) / 1024 : 0;
  };
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, read('VmRSS'))), 100);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, read('VmHWM'));
    },
  };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * Open-loop load at a steady rate, the way wrk2 measures: call i is due at start + i/rate whatever
 * the earlier calls are doing, and its latency counts from when it was due, so a stall is not hidden
 * by the generator waiting for it (coordinated omission). autocannon's own rate limit sends each
 * connection's quota for the second back-to-back at the start of every second: that measures a
 * burst, not a steady rate, so the latency figures use this instead. Resolves to the latencies in ms.
 * `requests` ({path, body, headers}) replaces `paths` with one `body`; `dueTimes` receives each
 * call's due time (epoch ms), for latencies measured elsewhere (e.g. at the receiver), and
 * `doneTimes` when its answer came back (epoch ms, by the call's index). An aborted
 * `signal` ends the load early: no call is sent after it, the calls under way are awaited.
 */
export async function steadyLoad({
  baseUrl,
  rate,
  paths,
  body,
  requests = paths.map((path) => ({ path, body })),
  timeoutMs = 30_000,
  dueTimes = [],
  doneTimes = [],
  signal,
}) {
  // Idle sockets are closed here after 4 s, before the server's 5 s keep-alive timeout closes them:
  // otherwise a call may go out on a socket the server is closing at that moment (ECONNRESET), which
  // long runs after a stall (many sockets opened, then idle) meet.
  const agent = new Agent({ keepAlive: true, maxSockets: 512, timeout: 4_000 });
  const { hostname, port } = new URL(baseUrl);
  const call = ({ path, body: payload, headers = {} }) =>
    new Promise((resolve) => {
      const request = httpRequest(
        {
          agent,
          hostname,
          port,
          path,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
            ...headers,
          },
          timeout: timeoutMs,
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode));
        },
      );
      request.on('timeout', () => request.destroy(new Error('timeout')));
      request.on('error', (error) => resolve(error.code ?? error.message));
      request.end(payload);
    });
  const latencies = [];
  const failures = new Map(); // status code or error code → how many
  const started = performance.now();
  const calls = [];
  for (let i = 0; i < requests.length; i++) {
    if (signal?.aborted) break;
    const due = started + (i * 1000) / rate;
    dueTimes[i] = performance.timeOrigin + due;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    calls.push(
      call(requests[i]).then((status) => {
        doneTimes[i] = performance.timeOrigin + performance.now();
        if (!(status >= 200 && status < 300)) failures.set(status, (failures.get(status) ?? 0) + 1);
        latencies.push(performance.now() - due);
      }),
    );
  }
  await Promise.all(calls);
  agent.destroy();
  if (failures.size > 0) {
    const sent = calls.length;
    const why = [...failures].map(([status, count]) => `${count} × ${status}`).join(', ');
    throw new Error(`calls failed (${why}) of ${sent} sent`);
  }
  return latencies;
}

/** autocannon as a promise: 32 connections unless `options` says otherwise. */
export function cannon(options) {
  return new Promise((resolve, reject) => {
    autocannon({ connections: 32, timeout: 30, ...options }, (error, result) =>
      error ? reject(error) : resolve(result),
    );
  });
}

/**
 * Closed-loop terminal calls (`success`) on pre-seeded pending steps, one step per call, in order;
 * `options` gives autocannon its `amount` or `duration` (and anything else). Resolves to its result.
 */
export function terminalCalls(baseUrl, ids, options) {
  let next = 0;
  return cannon({
    url: baseUrl,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"stop_reason":"end_turn"}',
        setupRequest: (request) => ({
          ...request,
          path: `/v1/steps/${ids[next++ % ids.length]}/success`,
        }),
      },
    ],
    ...options,
  });
}

// ---------------------------------------------------------------- PostgreSQL
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function asAdmin(sql) {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A new PostgreSQL database, migrated by a stephook start; `drop()` removes it. */
export async function freshPostgres() {
  const name = `stephook_bench_${randomUUID().slice(0, 8)}`;
  await asAdmin(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const server = await startServer({ databaseUrl: url.href });
  await server.stop();
  return { url: url.href, drop: () => asAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** Writes rows in multi-row INSERTs of 1,000. */
export async function insertRows(databaseUrl, table, columns, rows) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (let start = 0; start < rows.length; start += 1_000) {
      const chunk = rows.slice(start, start + 1_000);
      const values = [];
      const tuples = chunk.map((row) => {
        const marks = row.map((value) => {
          values.push(value);
          return `$${values.length}`;
        });
        return `(${marks.join(', ')})`;
      });
      await client.query(
        `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`,
        values,
      );
    }
  } finally {
    await client.end();
  }
}

/** Steps straight into the database, `pending` or already completed; returns their ids. */
export async function seedPostgresSteps(databaseUrl, count, status) {
  const now = new Date().toISOString();
  const ids = Array.from({ length: count }, () => `step-${randomUUID()}`);
  const completedAt = status === 'pending' ? null : now;
  await insertRows(
    databaseUrl,
    'steps',
    [
      'id',
      'status',
      'agent_id',
      'tags',
      'prompt_tokens',
      'completion_tokens',
      'total_tokens',
      'created_at',
      'updated_at',
      'completed_at',
    ],
    ids.map((id) => [id, status, 'bench', '[]', 0, 0, 0, now, now, completedAt]),
  );
  return ids;
}

/** CPU time (user + system) a process has used so far, in ms (Linux: /proc/<pid>/stat). */
export function cpuTimeMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of the line: 12 and 13 after the command; 100 ticks/s.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * API endpoints written into a migrated SQLite database before its server starts, all posting to
 * `url`, one per filter (null: every step); the revision moves so the server reads them.
 */
export function seedEndpoints(databasePath, url, filters) {
  const db = new Database(databasePath);
  const now = new Date().toISOString();
  const insert = db.prepare(
    `INSERT INTO webhook_endpoints (id, url, description, filter, payload, headers, secrets,
       disabled, disabled_reason, failing_since, failed_attempts, created_at, updated_at)
     VALUES (?, ?, NULL, ?, 'minimal', '{}', ?, 0, NULL, NULL, 0, ?, ?)`,
  );
  const secrets = JSON.stringify([{ secret: `whsec_${btoa('x'.repeat(32))}`, expires_at: null }]);
  db.transaction(() => {
    filters.forEach((filter, n) => {
      const id = `ep_${n.toString(16).padStart(32, '0')}`;
      insert.run(id, url, filter ? JSON.stringify(filter) : null, secrets, now, now);
    });
    db.prepare('UPDATE webhook_endpoint_revision SET revision = revision + 1').run();
  })();
  db.close();
}

/**
 * API endpoints with their limits, written into a migrated SQLite database before its server
 * starts: `{id, url, disabled?, maxInFlight?, rateLimit?}` each, no filter (every step); the
 * revision moves so the server reads them.
 */
export function seedEndpointRows(databasePath, endpoints) {
  writeInOneTransaction(databasePath, (db, now) => {
    const insert = db.prepare(
      `INSERT INTO webhook_endpoints (id, url, description, filter, payload, headers, secrets,
         disabled, disabled_reason, failing_since, failed_attempts, created_at, updated_at,
         max_in_flight, rate_limit)
       VALUES (?, ?, NULL, NULL, 'minimal', '{}', ?, ?, NULL, NULL, 0, ?, ?, ?, ?)`,
    );
    const secrets = JSON.stringify([{ secret: `whsec_${btoa('x'.repeat(32))}`, expires_at: null }]);
    for (const endpoint of endpoints) {
      insert.run(
        endpoint.id,
        endpoint.url,
        secrets,
        endpoint.disabled ? 1 : 0,
        now,
        now,
        endpoint.maxInFlight ?? 64,
        endpoint.rateLimit ?? null,
      );
    }
    db.prepare('UPDATE webhook_endpoint_revision SET revision = revision + 1').run();
  });
}

/**
 * `count` completed steps, each with one delivery of `endpointId` in `status` (`pending`, or `held`
 * for a disabled endpoint), all due now: a backlog as an outage leaves it. Returns the step ids.
 */
export function seedEndpointBacklog(databasePath, endpointId, count, status) {
  const ids = [];
  writeInOneTransaction(databasePath, (db, now) => {
    const insertStep = db.prepare(
      `INSERT INTO steps (id, status, tags, prompt_tokens, completion_tokens, total_tokens, created_at, updated_at, completed_at)
       VALUES (?, 'success', '[]', 0, 0, 0, ?, ?, ?)`,
    );
    const insertDelivery = db.prepare(
      `INSERT INTO webhook_deliveries (id, step_id, endpoint_id, status, payload, attempt_count, schedule_position, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?, ?)`,
    );
    for (let i = 0; i < count; i++) {
      const stepId = `step-${randomUUID()}`;
      ids.push(stepId);
      insertStep.run(stepId, now, now, now);
      insertDelivery.run(
        `msg_${randomUUID().replaceAll('-', '')}`,
        stepId,
        endpointId,
        status,
        JSON.stringify({ step_id: stepId }),
        now,
        now,
        now,
      );
    }
  });
  return ids;
}
