// npm run bench:peer [-- --quick]
// stephook side by side with a peer, quirrel 1.14.1 (a Fastify server that keeps jobs in Redis and
// POSTs them with retries), installed into bench/peer/ with its own package.json (not a dependency
// of stephook). One system at a time on this machine, the same receiver process, the same load, a
// fresh database and Redis db per run (see ../../shared/PEER.md for the peer's facts):
//   A. EVENTS events, closed loop, 32 clients: events/s accepted AND delivered (clock stops when the
//      receiver has them all), and the server process's CPU ms per event over that time;
//   B. a steady RATE events/s (open loop) for STEADY_S s: event-to-receiver latency, from when
//      each event was due to be sent to when the receiver had it.
// An "event" is a terminal call on a pending step for stephook, an enqueue for the peer.
// Prints a table and writes bench/results/peer.json. Median and range of RUNS runs. Not a test.
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import {
  cannon,
  cpuTimeMs,
  freePort,
  freshPostgres,
  median,
  migrate,
  percentile,
  root,
  seedPendingSteps,
  seedPostgresSteps,
  startReceiver,
  startServer,
  startWorker,
  steadyLoad,
  waitUntilAnswering,
} from './lib.mjs';

const quick = process.argv.includes('--quick');
const RUNS = quick ? 1 : 3;
const EVENTS = quick ? 4_000 : 20_000;
const CLIENTS = 32;
const RATE = Number(process.env.BENCH_RATE ?? 200);
const STEADY_S = Number(process.env.BENCH_STEADY_S ?? (quick ? 5 : 15));
const REDIS = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
// BENCH_REDIS_DB: the Redis db both systems are given (emptied each run); another bench may use 13.
const REDIS_DB = Number(process.env.BENCH_REDIS_DB ?? 13);
const say = (text) => process.stdout.write(`${text}\n`);
// --only=<text>: just the systems whose name contains it (e.g. --only=PostgreSQL).
const onlySystem = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);

// ---------------------------------------------------------------- the peer, installed on demand
const peerDir = join(root, 'bench/peer');
const peerMain = join(peerDir, 'node_modules/quirrel/dist/cjs/src/api/main.js');
const peerSelected = !onlySystem || 'quirrel 1.14.1, Redis'.includes(onlySystem);
if (peerSelected && !existsSync(peerMain)) {
  say('installing quirrel 1.14.1 into bench/peer/ …');
  const install = existsSync(join(peerDir, 'package-lock.json')) ? 'ci' : 'install';
  execFileSync('npm', [install, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: peerDir,
    stdio: 'inherit',
  });
}

async function freshRedisDb() {
  // BullMQ's own client (a project dependency) empties the db both systems are given.
  const url = new URL(REDIS);
  const queue = new Queue('bench-peer-flush', {
    connection: { host: url.hostname, port: Number(url.port || 6379), db: REDIS_DB },
  });
  await (await queue.client).flushdb();
  await queue.close();
  return `${REDIS}/${REDIS_DB}`;
}

const work = mkdtempSync(join(tmpdir(), 'stephook-peer-'));
const template = join(work, 'template.sqlite');
await migrate(template);
let copies = 0;

const receiver = await startReceiver();
const stepEvent = (id) => ({
  key: id,
  path: `/v1/steps/${id}/success`,
  body: '{"stop_reason":"end_turn"}',
});

/**
 * stephook on a fresh PostgreSQL database, with BullMQ (`redis`) or without, as one process or as
 * an API process that delivers nothing (DELIVERY_WORKER=off) beside one worker process
 * (`dist/worker.js`). The server's CPU is both processes'.
 */
async function stephookOnPostgres({ redis, apiAndWorker }) {
  const db = await freshPostgres();
  const ids = await seedPostgresSteps(db.url, EVENTS + RATE * STEADY_S, 'pending');
  const env = {
    STEP_COMPLETE_WEBHOOK: receiver.hook,
    ...(redis ? { REDIS_URL: await freshRedisDb() } : {}),
  };
  const worker = apiAndWorker ? startWorker({ env: { ...env, DATABASE_URL: db.url } }) : null;
  if (worker && redis) {
    const queue = new Queue('stephook-deliveries', redisQueueOptions());
    while ((await queue.getWorkersCount()) < 1) await new Promise((r) => setTimeout(r, 50));
    await queue.close();
  }
  const server = await startServer({
    databaseUrl: db.url,
    env: { ...env, ...(apiAndWorker ? { DELIVERY_WORKER: 'off' } : {}) },
  });
  return {
    ...server,
    pids: [server.child.pid, ...(worker ? [worker.child.pid] : [])],
    events: ids.map(stepEvent),
    stop: async () => {
      await server.stop();
      await worker?.stop();
      await db.drop();
    },
  };
}

function redisQueueOptions() {
  const url = new URL(REDIS);
  return {
    connection: { host: url.hostname, port: Number(url.port || 6379), db: REDIS_DB },
    prefix: 'stephook',
  };
}

/** Each system: start() → { pid or pids, baseUrl, events: key → request, stop() }. */
const systems = {
  'stephook, SQLite (embedded)': async () => {
    const databasePath = join(work, `db-${++copies}.sqlite`);
    copyFileSync(template, databasePath);
    const ids = seedPendingSteps(databasePath, EVENTS + RATE * STEADY_S);
    const server = await startServer({
      databasePath,
      env: { STEP_COMPLETE_WEBHOOK: receiver.hook },
    });
    return { ...server, pid: server.child.pid, events: ids.map(stepEvent) };
  },
  'stephook, PostgreSQL (no Redis)': () =>
    stephookOnPostgres({ redis: false, apiAndWorker: false }),
  'stephook, PostgreSQL + Redis (BullMQ)': () =>
    stephookOnPostgres({ redis: true, apiAndWorker: false }),
  'stephook, PostgreSQL, API + worker (no Redis)': () =>
    stephookOnPostgres({ redis: false, apiAndWorker: true }),
  'stephook, PostgreSQL + Redis (BullMQ), API + worker': () =>
    stephookOnPostgres({ redis: true, apiAndWorker: true }),
  'quirrel 1.14.1, Redis': async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [peerMain], {
      cwd: peerDir,
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        HOST: '127.0.0.1',
        REDIS_URL: await freshRedisDb(),
        DISABLE_TELEMETRY: '1',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitUntilAnswering(`${baseUrl}/`, child);
    const path = `/queues/${encodeURIComponent(receiver.hook)}`;
    const events = Array.from({ length: EVENTS + RATE * STEADY_S }, (_, n) => {
      const key = `event-${n}`;
      return {
        key,
        path,
        // Its rate limit is per Authorization value (authentication is off, so the value is not
        // checked): one value per event measures the engine, not the limiter.
        headers: { authorization: `Bearer ${key}` },
        // Offsets from the first attempt equal to stephook's default-like 1s,2s,5s,10s gaps.
        body: JSON.stringify({
          id: key,
          body: JSON.stringify({ step_id: key }),
          retry: [1000, 3000, 8000, 18000],
        }),
      };
    });
    return {
      pid: child.pid,
      baseUrl,
      events,
      async stop() {
        child.kill('SIGTERM');
        await once(child, 'exit');
      },
    };
  },
};

/** A: closed loop; events/s accepted and delivered, and the server's CPU ms per event. */
async function closedLoop(system, events) {
  let next = 0;
  await receiver.reset();
  const pids = system.pids ?? [system.pid];
  const cpuOf = () => pids.reduce((sum, pid) => sum + cpuTimeMs(pid), 0);
  const cpuBefore = cpuOf();
  const started = performance.now();
  const result = await cannon({
    url: system.baseUrl,
    connections: CLIENTS,
    amount: events.length,
    requests: [
      {
        method: 'POST',
        setupRequest: (request) => {
          const event = events[next++];
          return {
            ...request,
            path: event.path,
            body: event.body,
            headers: { 'content-type': 'application/json', ...event.headers },
          };
        },
      },
    ],
  });
  const rejected = result.non2xx + result.errors;
  if (rejected > 0) say(`  warning: ${rejected} of ${events.length} events were not accepted`);
  await receiver.waitForCount(events.length - rejected);
  const seconds = (performance.now() - started) / 1000;
  return {
    eventsPerSecond: events.length / seconds,
    cpuMsPerEvent: (cpuOf() - cpuBefore) / events.length,
  };
}

/** B: a steady RATE; event-to-receiver p50 and p99 in ms. */
async function steady(system, events) {
  await receiver.reset();
  const dueTimes = [];
  try {
    await steadyLoad({ baseUrl: system.baseUrl, rate: RATE, requests: events, dueTimes });
  } catch (error) {
    // Calls refused (a 503 when a dependency does not answer in time): no latency for this run.
    say(`  warning: ${error.message}; no latency figure for this run`);
    return { p50: NaN, p99: NaN };
  }
  await receiver.waitForCount(events.length);
  const arrivals = await receiver.arrivals();
  const latencies = events.map((event, n) => arrivals[event.key] - dueTimes[n]);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

const results = {};
for (const [name, start] of Object.entries(systems)) {
  if (onlySystem && !name.includes(onlySystem)) continue;
  say(name);
  const runs = [];
  for (let run = 0; run < RUNS; run++) {
    const system = await start();
    try {
      // A short warm-up at the same rate, so both JITs and pools are hot before the clock starts.
      await steady(system, system.events.slice(0, RATE));
      const a = await closedLoop(system, system.events.slice(RATE, RATE + EVENTS));
      const b = await steady(system, system.events.slice(RATE + EVENTS));
      runs.push({ ...a, ...b });
      say(
        `  run ${run + 1}: ${Math.round(a.eventsPerSecond)} events/s, ${a.cpuMsPerEvent.toFixed(2)} ms CPU/event, ` +
          `p50 ${b.p50.toFixed(1)} ms, p99 ${b.p99.toFixed(1)} ms`,
      );
    } finally {
      await system.stop();
    }
  }
  results[name] = runs;
}
await receiver.stop();
rmSync(work, { recursive: true, force: true });

const summary = (runs, field) => {
  const values = runs.map((run) => run[field]);
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
};
const figures = Object.fromEntries(
  Object.entries(results).map(([name, runs]) => [
    name,
    Object.fromEntries(
      ['eventsPerSecond', 'cpuMsPerEvent', 'p50', 'p99'].map((field) => [
        field,
        summary(runs, field),
      ]),
    ),
  ]),
);
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(
  join(root, 'bench/results/peer.json'),
  `${JSON.stringify({ date: new Date().toISOString(), runs: RUNS, events: EVENTS, clients: CLIENTS, rate: RATE, cpus: cpus().length, node: process.version, figures, results }, null, 2)}\n`,
);

const show = ({ median: m, min, max }, digits) =>
  `${m.toFixed(digits)} (${min.toFixed(digits)}–${max.toFixed(digits)})`;
say(
  `\n| system | events/s accepted and delivered (${EVENTS.toLocaleString('en')}, ${CLIENTS} clients) | server CPU per event (ms) | event-to-receiver p50 at ${RATE}/s (ms) | p99 (ms) |`,
);
say('|---|---|---|---|---|');
for (const [name, figure] of Object.entries(figures)) {
  say(
    `| ${name} | ${show(figure.eventsPerSecond, 0)} | ${show(figure.cpuMsPerEvent, 2)} | ${show(figure.p50, 1)} | ${show(figure.p99, 1)} |`,
  );
}
say(`\nmedian (min–max) of ${RUNS} run(s); written to bench/results/peer.json`);
