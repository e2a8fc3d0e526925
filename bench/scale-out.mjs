// npm run bench:scale [-- --quick]
// Scale-out figures on the machine's PostgreSQL and Redis: webhook deliveries/s with 1, 2 and 4
// worker processes (BullMQ) against one fast receiver, and terminal-call throughput of one API
// process on PostgreSQL vs SQLite. Prints a table and writes bench/results/scale-out.json. Each
// figure is the median of 3 runs (1 with --quick). A measurement, not a test. BENCH_WORKERS=1,2
// picks the worker counts; BENCH_REDIS_DB the Redis db (default 12). Section 3 (alone with
// --sigkill): a steady load on PostgreSQL without and with BullMQ, one process or an API process +
// a worker process, the delivering process SIGKILLed mid-load and started again; every call answered
// 200 must reach the receiver (counted per webhook-id), and how long that took after the load.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import {
  freshPostgres,
  insertRows,
  median,
  migrate,
  root,
  seedPendingSteps,
  seedPostgresSteps,
  startReceiver,
  startServer,
  startWorker,
  terminalCalls,
} from './lib.mjs';

const quick = process.argv.includes('--quick');
const RUNS = quick ? 1 : 3;
const BACKLOG = quick ? 3_000 : 20_000;
const DURATION_S = quick ? 2 : 5;
const REDIS_URL = `${process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'}/${process.env.BENCH_REDIS_DB ?? 12}`;
const sigkillOnly = process.argv.includes('--sigkill');
const say = (text) => process.stdout.write(`${text}\n`);

/** `count` completed steps with pending deliveries; returns the delivery ids. */
async function seedPostgresBacklog(databaseUrl, count) {
  const now = new Date().toISOString();
  const steps = await seedPostgresSteps(databaseUrl, count, 'success');
  const deliveries = steps.map(() => `msg_${randomUUID().replaceAll('-', '')}`);
  await insertRows(
    databaseUrl,
    'webhook_deliveries',
    [
      'id',
      'step_id',
      'status',
      'payload',
      'attempt_count',
      'schedule_position',
      'next_attempt_at',
      'created_at',
      'updated_at',
    ],
    deliveries.map((id, index) => [
      id,
      steps[index],
      'pending',
      JSON.stringify({ step_id: steps[index] }),
      0,
      0,
      now,
      now,
      now,
    ]),
  );
  return deliveries;
}

const queueOptions = () => {
  const url = new URL(REDIS_URL);
  return {
    connection: { host: url.hostname, port: Number(url.port), db: Number(url.pathname.slice(1)) },
    prefix: 'stephook',
  };
};

/** Resolves once `count` worker processes are connected to the queue and waiting for jobs. */
async function workersTakingJobs(queue, count) {
  while ((await queue.getWorkersCount()) < count) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const receiver = await startReceiver();
const figures = {};
function record(name, unit, runs) {
  figures[name] = { unit, median: median(runs), runs };
  say(
    `  ${name}: ${Math.round(median(runs)).toLocaleString('en')} ${unit}   (runs: ${runs.map((r) => Math.round(r)).join(', ')})`,
  );
}

// ---------------------------------------------------------------- deliveries/s by worker count
if (!sigkillOnly) await scaleFigures();
await sigkillFigures();

async function scaleFigures() {
  say(`1. ${BACKLOG.toLocaleString('en')} queued deliveries drained by N worker processes`);
  for (const workers of (process.env.BENCH_WORKERS ?? '1,2,4').split(',').map(Number)) {
    const rates = [];
    for (let run = 0; run < RUNS; run++) {
      const db = await freshPostgres();
      const queue = new Queue('stephook-deliveries', queueOptions());
      await queue.obliterate({ force: true });
      const deliveryIds = await seedPostgresBacklog(db.url, BACKLOG);
      const env = { DATABASE_URL: db.url, REDIS_URL, STEP_COMPLETE_WEBHOOK: receiver.hook };
      const processes = Array.from({ length: workers }, () => startWorker({ env }));
      await workersTakingJobs(queue, workers);
      await receiver.reset();
      const started = performance.now();
      for (let start = 0; start < deliveryIds.length; start += 1_000) {
        await queue.addBulk(
          deliveryIds.slice(start, start + 1_000).map((deliveryId) => ({
            name: 'attempt',
            data: { deliveryId, manual: false },
            opts: { jobId: `${deliveryId}.1`, removeOnComplete: true, removeOnFail: true },
          })),
        );
      }
      await receiver.waitForCount(BACKLOG);
      rates.push(BACKLOG / ((performance.now() - started) / 1000));
      await Promise.all(processes.map((process) => process.stop()));
      await queue.close();
      await db.drop();
    }
    record(
      `deliveries/s, ${workers} worker process${workers > 1 ? 'es' : ''}`,
      'deliveries/s',
      rates,
    );
  }

  // ---------------------------------------------------------------- terminal calls, PG vs SQLite
  say('2. terminal calls/s through one API process (autocannon, 32 connections)');
  const work = mkdtempSync(join(tmpdir(), 'stephook-scale-'));
  const setups = {
    'SQLite, webhooks off': async () => {
      const databasePath = join(work, `${randomUUID()}.sqlite`);
      await migrate(databasePath);
      const ids = seedPendingSteps(databasePath, 30_000);
      return { server: await startServer({ databasePath }), ids, cleanup: async () => {} };
    },
    'PostgreSQL, webhooks off': async () => {
      const db = await freshPostgres();
      const ids = await seedPostgresSteps(db.url, 30_000, 'pending');
      return { server: await startServer({ databaseUrl: db.url }), ids, cleanup: db.drop };
    },
    'PostgreSQL + BullMQ, webhooks on (API delivers nothing, 1 worker)': async () => {
      const db = await freshPostgres();
      const queue = new Queue('stephook-deliveries', queueOptions());
      await queue.obliterate({ force: true });
      await queue.close();
      const ids = await seedPostgresSteps(db.url, 30_000, 'pending');
      const env = { REDIS_URL, STEP_COMPLETE_WEBHOOK: receiver.hook };
      const worker = startWorker({ env: { ...env, DATABASE_URL: db.url } });
      const queueForCount = new Queue('stephook-deliveries', queueOptions());
      await workersTakingJobs(queueForCount, 1);
      await queueForCount.close();
      const server = await startServer({
        databaseUrl: db.url,
        env: { ...env, DELIVERY_WORKER: 'off' },
      });
      return {
        server,
        ids,
        cleanup: async () => {
          await worker.stop();
          await db.drop();
        },
      };
    },
  };
  for (const [name, setUp] of Object.entries(setups)) {
    const rates = [];
    for (let run = 0; run < RUNS; run++) {
      const { server, ids, cleanup } = await setUp();
      await terminalCalls(server.baseUrl, ids.slice(0, 2_000), { amount: 2_000 }); // warm-up
      rates.push(
        (await terminalCalls(server.baseUrl, ids.slice(2_000), { duration: DURATION_S })).requests
          .average,
      );
      await server.stop();
      await cleanup();
    }
    record(`terminal calls/s, ${name}`, 'req/s', rates);
  }
  rmSync(work, { recursive: true, force: true });
}

// ---------------------------------------------------------------- SIGKILL of the delivering process
async function sigkillFigures() {
  const RATE = 200;
  const CALLS = quick ? 1_000 : 3_000;
  say(
    `3. ${CALLS.toLocaleString('en')} terminal calls at ${RATE}/s; the delivering process SIGKILLed at a third, started again 1 s later`,
  );
  const setups = [
    ['PostgreSQL, one process', { redis: false, apiAndWorker: false }],
    ['PostgreSQL + BullMQ, one process', { redis: true, apiAndWorker: false }],
    ['PostgreSQL, API + worker', { redis: false, apiAndWorker: true }],
    ['PostgreSQL + BullMQ, API + worker', { redis: true, apiAndWorker: true }],
  ];
  for (let run = 0; run < RUNS; run++) {
    for (const [name, setup] of setups) {
      const result = await sigkillRun(setup, RATE, CALLS);
      say(
        `  ${name}: ${result.accepted} accepted, ${result.lost} lost, ${result.twice} webhook-id(s) twice, ` +
          `all in ${(result.completeMs / 1000).toFixed(1)} s after the last call`,
      );
      const key = `SIGKILL, ${name}`;
      figures[key] ??= { unit: 'runs', runs: [] };
      figures[key].runs.push(result);
    }
  }
}

async function sigkillRun({ redis, apiAndWorker }, rate, calls) {
  const db = await freshPostgres();
  const ids = await seedPostgresSteps(db.url, calls, 'pending');
  if (redis) {
    const queue = new Queue('stephook-deliveries', queueOptions());
    await queue.obliterate({ force: true });
    await queue.close();
  }
  const env = { STEP_COMPLETE_WEBHOOK: receiver.hook, ...(redis ? { REDIS_URL } : {}) };
  await receiver.reset();
  const startDelivering = async () =>
    apiAndWorker
      ? startWorker({ env: { ...env, DATABASE_URL: db.url } })
      : startServer({ databaseUrl: db.url, env });
  let delivering = await startDelivering();
  let api = apiAndWorker
    ? await startServer({ databaseUrl: db.url, env: { ...env, DELIVERY_WORKER: 'off' } })
    : delivering;
  if (apiAndWorker && redis) {
    const queue = new Queue('stephook-deliveries', queueOptions());
    await workersTakingJobs(queue, 1);
    await queue.close();
  }
  const accepted = new Set();
  const started = performance.now();
  const pending = [];
  for (let i = 0; i < calls; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (i === Math.floor(calls / 3)) {
      delivering.child.kill('SIGKILL');
      await once(delivering.child, 'exit');
      setTimeout(async () => {
        delivering = await startDelivering();
        if (!apiAndWorker) api = delivering;
      }, 1_000);
    }
    const baseUrl = api.baseUrl;
    const id = ids[i];
    pending.push(
      fetch(`${baseUrl}/v1/steps/${id}/success`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"stop_reason":"end_turn"}',
      }).then(
        (response) => {
          if (response.status === 200) accepted.add(id);
          return response.arrayBuffer();
        },
        () => undefined, // refused while the one process is down: not accepted, not counted
      ),
    );
  }
  await Promise.all(pending);
  const loadEnded = performance.now();
  const deadline = loadEnded + 90_000;
  let received = new Map();
  for (;;) {
    const deliveries = await receiver.deliveries();
    received = new Map();
    for (const [, [stepId, ok]] of Object.entries(deliveries)) {
      if (ok > 0) received.set(stepId, (received.get(stepId) ?? 0) + 1);
    }
    if ([...accepted].every((id) => received.has(id)) || performance.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const completeMs = performance.now() - loadEnded;
  const deliveries = await receiver.deliveries();
  const twice = Object.values(deliveries).filter(([, ok, other]) => ok + other > 1).length;
  const lost = [...accepted].filter((id) => !received.has(id)).length;
  await delivering.stop();
  if (apiAndWorker) await api.stop();
  await db.drop();
  return { accepted: accepted.size, lost, twice, completeMs };
}

await receiver.stop();
const report = {
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  runs: RUNS,
  machine: { cpus: cpus().length, node: process.version },
  figures,
};
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/scale-out.json'), `${JSON.stringify(report, null, 2)}\n`);
say('\n| figure | median |\n|---|---|');
for (const [name, figure] of Object.entries(figures)) {
  if (figure.median === undefined) continue;
  say(`| ${name} | ${Math.round(figure.median).toLocaleString('en')} ${figure.unit} |`);
}
say(
  `\nwritten to bench/results/scale-out.json (${report.mode}, ${RUNS} run(s) per figure, ${report.machine.cpus} cores)`,
);
