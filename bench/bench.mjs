// npm run bench [-- --quick]
// Starts the built server and a separate receiver process on loopback and measures, in one run:
// ceilings, terminal-call throughput with webhooks off and on, commit-to-receiver latency, whether
// receiver health leaks into the agent (against the original inline design), and backlog drain.
// Prints a table and writes bench/results/latest.json. Each figure is the median of 3 runs (1 with
// --quick). Not a test: it asserts nothing, it reports against the targets.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { Agent } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import axios from 'axios';
import Database from 'better-sqlite3';
import {
  cannon,
  deliveryStates,
  median,
  migrate,
  percentile,
  root,
  sampleRss,
  seedBacklog,
  seedEndpoints,
  seedExpiredDeliveries,
  seedPendingSteps,
  shippedNodeFlags,
  startReceiver,
  startServer,
  steadyLoad,
  terminalCalls,
} from './lib.mjs';

const quick = process.argv.includes('--quick');
// --only=2,3 runs just those sections (1 ceilings, 2 throughput, 3 latency, 4 receiver health,
// 5 drain, 6 endpoints, 7 retention).
const only = process.argv
  .find((arg) => arg.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',')
  .map(Number);
const want = (section) => !only || only.includes(section);
// --runs=N overrides the number of runs per figure (full-size work, fewer repeats).
const RUNS =
  Number(process.argv.find((arg) => arg.startsWith('--runs='))?.slice('--runs='.length)) ||
  (quick ? 1 : 3);
const DURATION_S = quick ? 1 : 5;
const WARMUP_S = quick ? 0.5 : 2;
const MODERATE_RATE = 200; // terminal calls per second for the latency figures
const BACKLOG = quick ? 2_000 : 50_000;
const say = (text) => process.stdout.write(`${text}\n`);

const work = mkdtempSync(join(tmpdir(), 'stephook-bench-'));
const template = join(work, 'template.sqlite');
let databaseCounter = 0;
/** A fresh copy of a migrated database for each server. */
function freshDatabase() {
  const path = join(work, `db-${++databaseCounter}.sqlite`);
  copyFileSync(template, path);
  return path;
}

// ---------------------------------------------------------------- the receiver process
const receiver = await startReceiver();

await migrate(template);

// ---------------------------------------------------------------- load helpers
/** Terminal calls at a steady MODERATE_RATE (open loop); resolves to their latencies in ms. */
function steadyTerminalCalls(baseUrl, ids, options = {}) {
  return steadyLoad({
    baseUrl,
    rate: MODERATE_RATE,
    paths: ids.map((id) => `/v1/steps/${id}/success`),
    body: '{"stop_reason":"end_turn"}',
    ...options,
  });
}

async function withServer(env, body, script, prepare) {
  const databasePath = freshDatabase();
  prepare?.(databasePath);
  const server = await startServer({ databasePath, env, script });
  try {
    return await body(server, databasePath);
  } finally {
    await server.stop();
  }
}

/** Terminal calls/s, closed loop, one fresh server per run (`prepare` fills its database first). */
async function terminalThroughput(env, prepare) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    await withServer(
      env,
      async (server, databasePath) => {
        const ids = seedPendingSteps(databasePath, quick ? 8_000 : 40_000);
        const warmup = quick ? 500 : 2_000;
        await terminalCalls(server.baseUrl, ids.slice(0, warmup), { amount: warmup });
        const result = await terminalCalls(server.baseUrl, ids.slice(2_000), {
          duration: DURATION_S,
        });
        runs.push(result.requests.average);
        await receiver.reset();
      },
      undefined,
      prepare,
    );
  }
  return runs;
}

const figures = {};
function record(name, unit, runs, target) {
  figures[name] = { unit, median: median(runs), runs, ...(target ? { target } : {}) };
  say(`  ${name}: ${format(median(runs))} ${unit}   (runs: ${runs.map(format).join(', ')})`);
}
const format = (value) =>
  Number.isFinite(value)
    ? value >= 100
      ? Math.round(value).toLocaleString('en')
      : value.toFixed(2)
    : String(value);

let bare = NaN;
// ---------------------------------------------------------------- 1. ceilings
if (want(1)) {
  say('1. ceilings');
  await withServer({}, async (server) => {
    await cannon({ url: `${server.baseUrl}/health`, duration: WARMUP_S });
    const runs = [];
    for (let i = 0; i < RUNS; i++)
      runs.push(
        (await cannon({ url: `${server.baseUrl}/health`, duration: DURATION_S })).requests.average,
      );
    record('bare endpoint (GET /health, same app, no database)', 'req/s', runs);
  });

  {
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      const databasePath = freshDatabase();
      const count = quick ? 2_000 : 20_000;
      const ids = seedPendingSteps(databasePath, count);
      const db = new Database(databasePath);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      const complete = db.prepare(
        "UPDATE steps SET status = 'success', completed_at = ?, updated_at = ? WHERE id = ? AND status = 'pending'",
      );
      const insert = db.prepare(
        `INSERT INTO webhook_deliveries (id, step_id, status, payload, attempt_count, schedule_position, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, 'pending', ?, 0, 0, ?, ?, ?)`,
      );
      const transition = db.transaction((id, n) => {
        const now = new Date().toISOString();
        complete.run(now, now, id);
        insert.run(
          `msg_${n.toString(16).padStart(32, '0')}`,
          id,
          `{"step_id":"${id}"}`,
          now,
          now,
          now,
        );
      });
      const started = performance.now();
      ids.forEach((id, n) => transition(id, n));
      runs.push(count / ((performance.now() - started) / 1000));
      db.close();
    }
    record(
      'raw better-sqlite3 terminal commits (update + delivery insert, one transaction each)',
      'commits/s',
      runs,
    );
  }

  {
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    const client = axios.create({ httpAgent: agent, maxRedirects: 0 });
    const post = () =>
      client.post(receiver.hook, '{"step_id":"ceiling"}', {
        headers: { 'content-type': 'application/json' },
      });
    const runs = [];
    const total = quick ? 2_000 : 10_000;
    for (let i = 0; i < RUNS + 1; i++) {
      let sent = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (sent < total) {
            sent += 1;
            await post();
          }
        }),
      );
      if (i > 0) runs.push(total / ((performance.now() - started) / 1000)); // the first run warms up
    }
    agent.destroy();
    record('raw axios POSTs to the receiver (keep-alive, 64 in flight)', 'posts/s', runs);
  }
  bare = figures['bare endpoint (GET /health, same app, no database)'].median;
}

// ---------------------------------------------------------------- 2. terminal-call throughput
if (want(2)) {
  say('2. terminal-call throughput');
  const off = await terminalThroughput({});
  record('terminal calls/s, webhooks off', 'req/s', off);
  const on = await terminalThroughput({ STEP_COMPLETE_WEBHOOK: receiver.hook });
  record('terminal calls/s, webhooks on (fast receiver)', 'req/s', on);
  figures['on/off ratio'] = { unit: 'ratio', median: median(on) / median(off), target: '>= 0.8' };
  figures['full path / bare endpoint'] = {
    unit: 'ratio',
    median: median(on) / bare,
    target: '>= 0.5',
  };
  say(
    `  on/off: ${format(median(on) / median(off))} (target ≥ 0.8); full path / bare endpoint: ${format(median(on) / bare)} (target ≥ 0.5)`,
  );
}

// ---------------------------------------------------------------- 3. commit-to-receiver latency
if (want(3)) {
  say(`3. commit-to-receiver latency at ${MODERATE_RATE} terminal calls/s`);
  {
    const p50s = [];
    const p99s = [];
    await withServer({ STEP_COMPLETE_WEBHOOK: receiver.hook }, async (server, databasePath) => {
      const ids = seedPendingSteps(
        databasePath,
        MODERATE_RATE * (WARMUP_S + RUNS * DURATION_S) + 1_000,
      );
      let offset = 0;
      const slice = (n) => ids.slice(offset, (offset += n));
      await steadyTerminalCalls(server.baseUrl, slice(MODERATE_RATE * WARMUP_S));
      for (let i = 0; i < RUNS; i++) {
        await receiver.reset();
        const batch = slice(MODERATE_RATE * DURATION_S);
        await steadyTerminalCalls(server.baseUrl, batch);
        await receiver.waitForCount(batch.length);
        const arrivals = await receiver.arrivals();
        const db = new Database(databasePath, { readonly: true });
        const completed = db.prepare('SELECT completed_at FROM steps WHERE id = ?');
        const latencies = batch.map(
          (id) => arrivals[id] - Date.parse(completed.get(id).completed_at),
        );
        db.close();
        p50s.push(percentile(latencies, 50));
        p99s.push(percentile(latencies, 99));
      }
    });
    record('commit-to-receiver p50', 'ms', p50s, '<= 5');
    record('commit-to-receiver p99', 'ms', p99s, '<= 50');
  }
}

// ---------------------------------------------------------------- 4. receiver health vs the agent
if (want(4)) {
  say(`4. terminal-call p99 at ${MODERATE_RATE} calls/s: healthy vs hanging receiver`);
  /** p99 of terminal calls at the moderate rate, on one server, with the receiver healthy then hanging. */
  async function terminalP99s(env, script) {
    const p99s = { fast: [], hang: [] };
    const originalDesign = script !== undefined;
    await withServer(
      env,
      async (server, databasePath) => {
        const perMode = MODERATE_RATE * (WARMUP_S + RUNS * DURATION_S) + 1_000;
        const ids = seedPendingSteps(databasePath, 2 * perMode + RUNS * 64);
        let offset = 0;
        const slice = (n) => ids.slice(offset, (offset += n));
        for (const mode of ['fast', 'hang']) {
          await receiver.mode(mode);
          // Every original-design call with a hanging receiver waits out its 10 s client timeout, so
          // it gets only 64 calls per run (at the same rate) rather than thousands piling up.
          const hangingOriginal = mode === 'hang' && originalDesign;
          if (!hangingOriginal)
            await steadyTerminalCalls(server.baseUrl, slice(MODERATE_RATE * WARMUP_S));
          for (let i = 0; i < RUNS; i++) {
            const latencies = await steadyTerminalCalls(
              server.baseUrl,
              slice(hangingOriginal ? 64 : MODERATE_RATE * DURATION_S),
            );
            p99s[mode].push(percentile(latencies, 99));
          }
        }
        await receiver.mode('fast');
      },
      script,
    );
    return p99s;
  }
  const stephook = await terminalP99s({ STEP_COMPLETE_WEBHOOK: receiver.hook });
  record('stephook terminal-call p99, healthy receiver', 'ms', stephook.fast);
  record('stephook terminal-call p99, hanging receiver', 'ms', stephook.hang);
  figures['hanging/healthy p99 ratio'] = {
    unit: 'ratio',
    median: median(stephook.hang) / median(stephook.fast),
    target: '<= 1.5',
  };
  say(`  hanging/healthy: ${format(median(stephook.hang) / median(stephook.fast))} (target ≤ 1.5)`);
  const original = await terminalP99s(
    { ORIGINAL_WEBHOOK_URL: receiver.hook },
    'bench/original-design-server.mjs',
  );
  record('original design (POST awaited inline) p99, healthy receiver', 'ms', original.fast);
  record('original design (POST awaited inline) p99, hanging receiver', 'ms', original.hang);
}

// ---------------------------------------------------------------- 5. backlog drain
if (want(5)) {
  say(`5. backlog drain: ${BACKLOG.toLocaleString('en')} pending deliveries released at once`);
  {
    const rates = [];
    const peaks = [];
    for (let i = 0; i < RUNS; i++) {
      const databasePath = freshDatabase();
      seedBacklog(databasePath, BACKLOG);
      await receiver.reset();
      const server = await startServer({
        databasePath,
        env: { STEP_COMPLETE_WEBHOOK: receiver.hook },
      });
      // Timed from when the API answers: boot is not drain time (what arrived during boot still
      // counts within the clock, so the rate is if anything flattered by a few hundred ms).
      const started = performance.now();
      const rss = sampleRss(server.child.pid);
      await receiver.waitForCount(BACKLOG);
      rates.push(BACKLOG / ((performance.now() - started) / 1000));
      peaks.push(rss.stop());
      await server.stop();
      const states = deliveryStates(databasePath);
      if (states.delivered !== BACKLOG) say(`  warning: final states ${JSON.stringify(states)}`);
    }
    record('backlog drain', 'deliveries/s', rates, '>= 2000');
    record('backlog drain peak RSS', 'MB', peaks, '<= 300');
  }
}

// ---------------------------------------------------------------- 6. endpoints (fan-out)
if (want(6)) {
  say('6. endpoints: terminal calls/s as endpoints are added');
  const endpointThroughput = (env, prepare) =>
    terminalThroughput({ STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8', ...env }, prepare);
  const one = await endpointThroughput({ STEP_COMPLETE_WEBHOOK: receiver.hook });
  record('terminal calls/s, 1 endpoint (env)', 'req/s', one);
  const ten = await endpointThroughput({}, (databasePath) =>
    seedEndpoints(
      databasePath,
      receiver.hook,
      Array.from({ length: 10 }, () => null),
    ),
  );
  record('terminal calls/s, 10 matching endpoints', 'req/s', ten);
  // The environment endpoint matches every step; 999 API endpoints listen for agents that never come.
  const thousand = await endpointThroughput(
    { STEP_COMPLETE_WEBHOOK: receiver.hook },
    (databasePath) =>
      seedEndpoints(
        databasePath,
        receiver.hook,
        Array.from({ length: 999 }, (_, n) => ({ agent_ids: [`nobody-${n}`] })),
      ),
  );
  record('terminal calls/s, 1,000 endpoints of which 1 matches', 'req/s', thousand);
  figures['10 matching endpoints / 1'] = {
    unit: 'ratio',
    median: median(ten) / median(one),
    target: '>= 0.5',
  };
  figures['1,000 endpoints (1 matching) / 1'] = {
    unit: 'ratio',
    median: median(thousand) / median(one),
    target: '>= 0.8',
  };
  say(
    `  10 matching / 1: ${format(median(ten) / median(one))} (target ≥ 0.5); 1,000 (1 matching) / 1: ${format(median(thousand) / median(one))} (target ≥ 0.8)`,
  );
}

// ---------------------------------------------------------------- 7. retention
if (want(7)) {
  const EXPIRED = quick ? 100_000 : 1_000_000;
  say(
    `7. retention: ${EXPIRED.toLocaleString('en')} expired deliveries (with attempts) purged while terminal calls run at ${MODERATE_RATE}/s`,
  );
  const seeded = join(work, 'expired.sqlite');
  copyFileSync(template, seeded);
  seedExpiredDeliveries(seeded, EXPIRED, 40);
  // The steps the load completes are in the file from the start, so the sizes compare like with like.
  const loadSteps = seedPendingSteps(seeded, MODERATE_RATE * (quick ? 120 : 600));
  const fileBytes = (path) =>
    [path, `${path}-wal`].reduce(
      (sum, file) => sum + (existsSync(file) ? statSync(file).size : 0),
      0,
    );
  {
    const db = new Database(seeded);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
  }
  const webhook = { STEP_COMPLETE_WEBHOOK: receiver.hook };
  const withSeeded = (env, body) =>
    withServer(env, body, undefined, (databasePath) => {
      copyFileSync(seeded, databasePath);
    });
  const baseP99s = [];
  const purgeP99s = [];
  const deleteP99s = [];
  const vacuumP99s = [];
  const rates = [];
  const sizes = [];
  /**
   * One continuous open-loop load (its latencies, with each call's due time) while `watch` polls the
   * server once a second, until `watch` returns true. Both runs are measured the same way, watcher
   * included, so they differ only in the purge.
   */
  async function loadWhile(server, ids, watch) {
    const stop = new AbortController();
    const dueTimes = [];
    const load = steadyTerminalCalls(server.baseUrl, ids, { signal: stop.signal, dueTimes });
    const watching = (async () => {
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        if (await watch()) return stop.abort();
      }
    })();
    const latencies = await load;
    if (!stop.signal.aborted) throw new Error('the load ran out of steps before the watch ended');
    await watching;
    return latencies.map((ms, i) => ({ ms, dueAt: dueTimes[i] }));
  }
  const deletedSoFar = async (server) => {
    const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
    return Number(
      /^stephook_retention_deleted_total\{rule="deliveries_delivered"\} (\d+)/m.exec(text)?.[1],
    );
  };
  for (let i = 0; i < RUNS; i++) {
    // Without: the same table, retention off, the same rate and the same watcher, for 60 s after a
    // 2 s warm-up.
    await withSeeded({ ...webhook, STEP_COMPLETE_RETENTION: 'never' }, async (server) => {
      await steadyTerminalCalls(server.baseUrl, loadSteps.slice(0, MODERATE_RATE * 2));
      const until = Date.now() + (quick ? 5_000 : 60_000);
      const calls = await loadWhile(server, loadSteps.slice(MODERATE_RATE * 2), async () => {
        await deletedSoFar(server);
        return Date.now() >= until;
      });
      baseP99s.push(
        percentile(
          calls.map((call) => call.ms),
          99,
        ),
      );
    });
    // With: STEP_COMPLETE_RETENTION=30d, so the start's pass finds all of them expired. The same
    // warm-up, then the load runs until every row is deleted and the file's free pages are given back.
    const sizeBefore = fileBytes(seeded);
    await withSeeded({ ...webhook, STEP_COMPLETE_RETENTION: '30d' }, async (server, path) => {
      const started = Date.now();
      await steadyTerminalCalls(server.baseUrl, loadSteps.slice(0, MODERATE_RATE * 2));
      const reader = new Database(path, { readonly: true });
      let deletedAt = NaN;
      const calls = await loadWhile(server, loadSteps.slice(MODERATE_RATE * 2), async () => {
        const deleted = await deletedSoFar(server);
        if (deleted < EXPIRED) return false;
        if (Number.isNaN(deletedAt)) deletedAt = Date.now();
        return reader.pragma('freelist_count', { simple: true }) === 0;
      });
      reader.close();
      purgeP99s.push(
        percentile(
          calls.map((call) => call.ms),
          99,
        ),
      );
      // Which part of the purge each call was due in: deleting rows, or handing pages back.
      deleteP99s.push(
        percentile(
          calls.filter((c) => c.dueAt < deletedAt).map((c) => c.ms),
          99,
        ),
      );
      const vacuuming = calls.filter((c) => c.dueAt >= deletedAt).map((c) => c.ms);
      if (vacuuming.length > 0) vacuumP99s.push(percentile(vacuuming, 99));
      rates.push(EXPIRED / ((deletedAt - started) / 1000));
    });
    // The server is stopped: its last connection checkpointed the WAL into the file.
    sizes.push({
      before: sizeBefore,
      after: fileBytes(join(work, `db-${databaseCounter}.sqlite`)),
    });
  }
  record(
    'retention: expired deliveries purged per second (each with its attempt)',
    'rows/s',
    rates,
  );
  record(`terminal-call p99 at ${MODERATE_RATE}/s, no purge`, 'ms', baseP99s);
  record(`terminal-call p99 at ${MODERATE_RATE}/s, during the purge`, 'ms', purgeP99s);
  record(`terminal-call p99 at ${MODERATE_RATE}/s, while rows were deleted`, 'ms', deleteP99s);
  if (vacuumP99s.length > 0)
    record(
      `terminal-call p99 at ${MODERATE_RATE}/s, while SQLite gave pages back`,
      'ms',
      vacuumP99s,
    );
  figures['p99 during purge / without'] = {
    unit: 'ratio',
    median: median(purgeP99s) / median(baseP99s),
    target: '<= 1.5',
  };
  const mb = (bytes) => Math.round(bytes / 1e5) / 10;
  figures['SQLite file before / after the purge'] = {
    unit: 'MB',
    median: `${mb(sizes[0].before)} / ${mb(median(sizes.map((size) => size.after)))}`,
  };
  say(
    `  p99 during / without: ${format(median(purgeP99s) / median(baseP99s))} (target ≤ 1.5); file ${figures['SQLite file before / after the purge'].median} MB`,
  );
}

// ---------------------------------------------------------------- report
await receiver.stop();
rmSync(work, { recursive: true, force: true });
const report = {
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
  runs: RUNS,
  machine: {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    node: process.version,
    serverNodeFlags: shippedNodeFlags,
  },
  figures,
};
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/latest.json'), `${JSON.stringify(report, null, 2)}\n`);
say('\n| figure | median | unit | target |\n|---|---|---|---|');
for (const [name, figure] of Object.entries(figures)) {
  say(`| ${name} | ${format(figure.median)} | ${figure.unit} | ${figure.target ?? ''} |`);
}
say(
  `\nwritten to bench/results/latest.json (${report.mode}, ${RUNS} run(s) per figure, ${report.machine.cpus} cores)`,
);
