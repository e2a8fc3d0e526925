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
  readFileSync,
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
  cpuTimeMs,
  deliveryStates,
  median,
  migrate,
  percentile,
  root,
  sampleRss,
  seedBacklog,
  seedEndpointBacklog,
  seedEndpointRows,
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
// 5 drain, 6 endpoints, 7 retention, 8 isolation).
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
}

// ---------------------------------------------------------------- 2. terminal-call throughput
if (want(2)) {
  say('2. terminal-call throughput');
  const off = await terminalThroughput({});
  record('terminal calls/s, webhooks off', 'req/s', off);
  const on = await terminalThroughput({ STEP_COMPLETE_WEBHOOK: receiver.hook });
  record('terminal calls/s, webhooks on (fast receiver)', 'req/s', on);
  // Issue 24 retired the "full path / bare endpoint" ratio (it measured the old adapter) and set
  // webhooks on against off at >= 0.7.
  figures['on/off ratio'] = { unit: 'ratio', median: median(on) / median(off), target: '>= 0.7' };
  say(`  on/off: ${format(median(on) / median(off))} (target ≥ 0.7)`);
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

// ---------------------------------------------------------------- 8. isolation between endpoints
if (want(8)) {
  const RATE = MODERATE_RATE;
  const LOAD_S = quick ? 5 : 30;
  const BACKLOG_D = 10_000;
  const RATE_LIMIT = 50;
  const RATE_WINDOW_S = quick ? 5 : 20;
  const RECOVERY_DEADLINE_MS = 120_000;
  // Retries: the first after 5 s as by default, then every 20 s (±20 % jitter) instead of the
  // default's 5 m, 30 m, 2 h …. Why: the check "nothing lost once the bad receiver recovers" must
  // see every delivery of the 503 and hanging endpoints answered, and with the default schedule
  // those that failed twice wait 4–6 minutes for their third attempt, ×3 runs × 2 cases: far over
  // this section's time. Within the 32 s of load it only adds attempts to the bad endpoint (a third
  // one for the deliveries of the first seconds), which is harder on the fast endpoint, not easier.
  // Ten entries, so none runs out (fails) while the recovery is awaited. Timeout: the default 15 s.
  const RETRY_SCHEDULE = `5s${',20s'.repeat(9)}`;
  const env = {
    STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8',
    STEP_COMPLETE_RETRY_SCHEDULE: RETRY_SCHEDULE,
  };
  say(
    `8. isolation: a fast endpoint's commit (the terminal call's 200 back) → receipt at ${RATE} terminal calls/s for ${LOAD_S} s (after ${WARMUP_S} s of warm-up), SQLite, one process, beside a bad endpoint hearing the same steps`,
  );
  say(
    `  env: STEP_COMPLETE_ALLOWED_NETWORKS=127.0.0.0/8, STEP_COMPLETE_RETRY_SCHEDULE=${RETRY_SCHEDULE} (default 5s,5m,30m,…: its 5 min second retry would make the recovery check wait ~6 min a run; first retry as default, later ones sooner = more attempts at the bad endpoint during the load, not fewer); timeout, max_in_flight (16), concurrency (64) and breaker at their defaults`,
  );
  // Two more receiver processes: one for the fast endpoint, one for the other endpoint, so neither
  // receiver's own queue holds the other's requests.
  const fastReceiver = await startReceiver();
  const badReceiver = await startReceiver();
  const FAST = `ep_${'f'.repeat(32)}`;
  const BAD = `ep_${'b'.repeat(32)}`;
  const now = () => performance.timeOrigin + performance.now();
  /** Busy and total CPU time of the whole machine so far (all cores, /proc/stat ticks). */
  const machineTicks = () => {
    const [user, nice, system, idle, iowait, ...rest] = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const total = [user, nice, system, idle, iowait, ...rest].reduce((a, b) => a + b, 0);
    return { busy: total - idle - iowait, total };
  };
  /**
   * The fast endpoint's first attempts, from the database: commit (delivery written) → attempt
   * started (waiting in the engine), and the attempt's duration, p50/p99 over `stepIds`.
   */
  function engineBreakdown(databasePath, stepIds) {
    const wanted = new Set(stepIds);
    const db = new Database(databasePath, { readonly: true });
    const rows = db
      .prepare(
        `SELECT d.step_id, d.created_at, a.started_at, a.duration_ms
           FROM webhook_deliveries d JOIN webhook_delivery_attempts a ON a.delivery_id = d.id AND a.number = 1
          WHERE d.endpoint_id = ?`,
      )
      .all(FAST)
      .filter((row) => wanted.has(row.step_id));
    db.close();
    const waits = rows.map((row) => Date.parse(row.started_at) - Date.parse(row.created_at));
    const durations = rows.map((row) => row.duration_ms);
    return {
      waitP50: percentile(waits, 50),
      waitP99: percentile(waits, 99),
      attemptP50: percentile(durations, 50),
      attemptP99: percentile(durations, 99),
    };
  }
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /**
   * Of the `expected` step ids, how many no webhook-id was answered 2xx for (lost); how many
   * webhook-ids were answered 2xx more than once (duplicated); how many steps had 2xx answers under
   * more than one webhook-id of the endpoint (also sent twice, under two ids: none expected).
   */
  function lostAndDuplicated(deliveries, expected) {
    const answered = new Map(); // step id → webhook-ids answered 2xx
    let duplicated = 0;
    for (const [step, ok] of Object.values(deliveries)) {
      if (ok > 1) duplicated += 1;
      if (ok > 0) answered.set(step, (answered.get(step) ?? 0) + 1);
    }
    let lost = 0;
    for (const step of expected) if (!answered.get(step)) lost += 1;
    let stepsUnderTwoIds = 0;
    for (const ids of answered.values()) if (ids > 1) stepsUnderTwoIds += 1;
    return { lost, duplicated: duplicated + stepsUnderTwoIds };
  }

  /**
   * One run of case `kind` ('alone', 'hang', '503', 'backlog') on a fresh server and database.
   * Returns the fast endpoint's latencies and what each receiver answered.
   */
  async function isolationRun(kind) {
    const databasePath = freshDatabase();
    const endpoints = [{ id: FAST, url: fastReceiver.hook }];
    if (kind !== 'alone')
      endpoints.push({ id: BAD, url: badReceiver.hook, disabled: kind === 'backlog' });
    seedEndpointRows(databasePath, endpoints);
    // The backlog: held deliveries of the disabled endpoint, released (PATCH {disabled: false})
    // as the measured load starts, so it drains to its (fast) receiver during the run.
    const backlogSteps =
      kind === 'backlog' ? seedEndpointBacklog(databasePath, BAD, BACKLOG_D, 'held') : [];
    const warm = RATE * WARMUP_S;
    const ids = seedPendingSteps(databasePath, warm + RATE * LOAD_S);
    await fastReceiver.reset();
    await badReceiver.reset();
    await fastReceiver.mode('fast');
    await badReceiver.mode(kind === 'hang' ? 'hang' : kind === '503' ? '503' : 'fast');
    const server = await startServer({ databasePath, env });
    try {
      await steadyTerminalCalls(server.baseUrl, ids.slice(0, warm));
      const pids = { server: server.child.pid, fast: fastReceiver.pid, bad: badReceiver.pid };
      const cpuBefore = Object.fromEntries(
        Object.entries(pids).map(([name, pid]) => [name, cpuTimeMs(pid)]),
      );
      const harnessBefore = process.cpuUsage();
      const machineBefore = machineTicks();
      const started = now();
      let released = NaN;
      if (kind === 'backlog') {
        const answer = await fetch(`${server.baseUrl}/v1/webhook-endpoints/${BAD}`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: '{"disabled":false}',
        });
        if (!answer.ok) throw new Error(`enabling the backlog endpoint: ${answer.status}`);
        released = now();
      }
      const measured = ids.slice(warm);
      const doneTimes = [];
      const dueTimes = [];
      await steadyTerminalCalls(server.baseUrl, measured, { doneTimes, dueTimes });
      const loadMs = now() - started;
      const cpu = Object.fromEntries(
        Object.entries(pids).map(([name, pid]) => [
          name,
          (cpuTimeMs(pid) - cpuBefore[name]) / loadMs,
        ]),
      );
      const harness = process.cpuUsage(harnessBefore);
      cpu.harness = (harness.user + harness.system) / 1000 / loadMs;
      const machineAfter = machineTicks();
      const machineBusy =
        (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total);
      const callLatencies = measured.map((_, i) => doneTimes[i] - dueTimes[i]);
      // The bad receiver recovers: answers 204 from now on (requests it is holding stay held).
      const recovered = now();
      if (kind === 'hang' || kind === '503') await badReceiver.mode('fast');
      const expectedBad = kind === 'alone' ? [] : [...backlogSteps, ...ids];
      const deadline = Date.now() + RECOVERY_DEADLINE_MS;
      while (
        ((await fastReceiver.okCount()) < ids.length ||
          (await badReceiver.okCount()) < expectedBad.length) &&
        Date.now() < deadline
      )
        await sleep(250);
      const recoveryMs = now() - recovered;
      const arrivals = await fastReceiver.arrivals();
      const latencies = measured.map((id, i) => (arrivals[id] ?? Infinity) - doneTimes[i]);
      const fastCount = lostAndDuplicated(await fastReceiver.deliveries(), ids);
      const badDeliveries = kind === 'alone' ? {} : await badReceiver.deliveries();
      const badCount = lostAndDuplicated(badDeliveries, expectedBad);
      let drainMs = NaN;
      if (kind === 'backlog') {
        // When the backlog's last webhook reached its receiver, from the release.
        const badArrivals = await badReceiver.arrivals();
        drainMs = Math.max(...backlogSteps.map((step) => badArrivals[step] ?? Infinity)) - released;
      }
      // Where the tail is: the fast endpoint's p99 in each 5 s of the load, by when calls were due.
      const buckets = [];
      for (let i = 0; i < measured.length; i++) {
        const bucket = Math.floor((dueTimes[i] - dueTimes[0]) / 5_000);
        (buckets[bucket] ??= []).push(latencies[i]);
      }
      const states = deliveryStates(databasePath);
      const engine = engineBreakdown(databasePath, measured);
      return {
        engine,
        machineBusy,
        callP99: percentile(callLatencies, 99),
        latencies,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        bucketP99s: buckets.map((values) => percentile(values, 99)),
        fast: fastCount,
        bad: badCount,
        badOther: Object.values(badDeliveries).reduce((sum, entry) => sum + entry[2], 0),
        recoveryMs,
        drainMs,
        cpu,
        states,
      };
    } finally {
      await fastReceiver.reset(); // drops held requests, so the server's stop need not wait on them
      await badReceiver.reset();
      await server.stop();
    }
  }

  const cases = [
    ['a', 'alone', 'alone'],
    ['b', 'hang', 'beside an endpoint that hangs (accepts, never answers; 15 s timeout)'],
    ['c', '503', 'beside an endpoint that answers 503 at once'],
    [
      'd',
      'backlog',
      `beside an endpoint with a ${BACKLOG_D.toLocaleString('en')}-delivery backlog draining to a fast receiver`,
    ],
    // (d)'s backlog endpoint also hears every new step: twice the live work of (a) whatever its
    // backlog. This shows what a second, healthy endpoint costs, so (d) can be read against it.
    ['e', 'healthy', 'beside a second healthy endpoint hearing the same steps (no backlog)'],
  ];
  const results = {};
  const ms = (value) => (Number.isFinite(value) ? `${value.toFixed(1)}` : String(value));
  // --cases=alone,backlog runs just those (while working on one); the ratios need `alone`.
  const onlyCases = process.argv
    .find((arg) => arg.startsWith('--cases='))
    ?.slice('--cases='.length)
    .split(',');
  for (const [letter, kind, label] of cases) {
    if (onlyCases && !onlyCases.includes(kind)) continue;
    results[kind] = [];
    for (let i = 0; i < RUNS; i++) {
      const runStarted = Date.now();
      const run = await isolationRun(kind);
      run.wallS = (Date.now() - runStarted) / 1000;
      results[kind].push(run);
      const cpu = Object.entries(run.cpu)
        .map(([name, share]) => `${name} ${Math.round(share * 100)}%`)
        .join(', ');
      say(
        `  (${letter}) run ${i + 1}: p50 ${ms(run.p50)} ms, p99 ${ms(run.p99)} ms; p99 per 5 s: ${run.bucketP99s.map(ms).join(' ')}; in the engine (delivery written → 1st attempt starts) p50 ${ms(run.engine.waitP50)} / p99 ${ms(run.engine.waitP99)} ms, attempt duration p50 ${ms(run.engine.attemptP50)} / p99 ${ms(run.engine.attemptP99)} ms; terminal call (due → 200) p99 ${ms(run.callP99)} ms; CPU during load (of one core): ${cpu}, whole machine ${Math.round(run.machineBusy * 100)}% of ${cpus().length} cores (other processes ≈ ${Math.round((run.machineBusy * cpus().length - Object.values(run.cpu).reduce((a, b) => a + b, 0)) * 100)}% of one)` +
          (kind === 'alone'
            ? ''
            : `; bad endpoint: ${run.badOther} non-2xx/held arrivals, everything answered ${(run.recoveryMs / 1000).toFixed(1)} s after it recovered`) +
          (kind === 'backlog'
            ? `; backlog drained ${(run.drainMs / 1000).toFixed(1)} s after release`
            : '') +
          `; lost/duplicated fast ${run.fast.lost}/${run.fast.duplicated}` +
          (kind === 'alone' ? '' : `, bad ${run.bad.lost}/${run.bad.duplicated}`) +
          `; final states ${JSON.stringify(run.states)}; run took ${Math.round(run.wallS)} s`,
      );
    }
    const runs = results[kind];
    const p99Target =
      kind === 'alone'
        ? undefined
        : `<= 1.5 × (a) = ${ms(1.5 * median(results.alone.map((r) => r.p99)))}`;
    record(
      `isolation (${letter}) fast endpoint ${label}: commit→receipt p50`,
      'ms',
      runs.map((r) => r.p50),
    );
    record(
      `isolation (${letter}) fast endpoint ${label}: commit→receipt p99`,
      'ms',
      runs.map((r) => r.p99),
      p99Target,
    );
    // What each run saw, beside its p99 in the results file: where the tail was and how busy the
    // machine was (other work on these 2 cores moves these figures more than anything measured).
    figures[`isolation (${letter}) fast endpoint ${label}: commit→receipt p99`].details = runs.map(
      (r) => ({
        p99PerFiveSeconds: r.bucketP99s.map((v) => Math.round(v)),
        engineWaitP99: r.engine.waitP99,
        attemptDurationP99: r.engine.attemptP99,
        terminalCallP99: Math.round(r.callP99),
        cpuOfOneCore: Object.fromEntries(
          Object.entries(r.cpu).map(([name, share]) => [name, Math.round(share * 100) / 100]),
        ),
        machineBusy: Math.round(r.machineBusy * 100) / 100,
        ...(kind === 'backlog' ? { backlogDrainedS: Math.round(r.drainMs / 100) / 10 } : {}),
        ...(kind === 'alone' ? {} : { recoveredAfterS: Math.round(r.recoveryMs / 100) / 10 }),
      }),
    );
    const lost = runs.map((r) => r.fast.lost + r.bad.lost);
    const duplicated = runs.map((r) => r.fast.duplicated + r.bad.duplicated);
    const endpointsCounted = kind === 'alone' ? 'fast endpoint' : 'fast + bad endpoint';
    figures[
      `isolation (${letter}) webhooks lost after recovery, ${endpointsCounted}, all ${RUNS} runs`
    ] = {
      unit: 'webhooks',
      median: lost.reduce((a, b) => a + b, 0),
      runs: lost,
      target: '0',
    };
    figures[
      `isolation (${letter}) webhooks answered 2xx more than once, ${endpointsCounted}, all ${RUNS} runs`
    ] = {
      unit: 'webhooks',
      median: duplicated.reduce((a, b) => a + b, 0),
      runs: duplicated,
      target: '0',
    };
    say(
      `  (${letter}) lost ${lost.reduce((a, b) => a + b, 0)} (target 0), duplicated ${duplicated.reduce((a, b) => a + b, 0)} (target 0), counted per webhook-id at the receivers`,
    );
    if (kind !== 'alone') {
      const ratio = median(runs.map((r) => r.p99)) / median(results.alone.map((r) => r.p99));
      const target = kind === 'healthy' ? '(reference)' : '<= 1.5';
      figures[`isolation (${letter}) p99 / (a) p99`] = { unit: 'ratio', median: ratio, target };
      say(`  (${letter}) p99 / (a) p99: ${format(ratio)} (target ${target})`);
    }
  }
  if (results.backlog && results.healthy) {
    // The backlog's own cost: (d) against a second endpoint with the same live traffic and none.
    const ratio =
      median(results.backlog.map((r) => r.p99)) / median(results.healthy.map((r) => r.p99));
    figures['isolation (d) p99 / (e) p99'] = { unit: 'ratio', median: ratio, target: '<= 1.5' };
    say(`  (d) p99 / (e) p99: ${format(ratio)} (target ≤ 1.5: what the backlog itself adds)`);
  }

  // rate_limit: an endpoint with a backlog (pending when the server starts), alone.
  {
    const backlog = RATE_LIMIT * (RATE_WINDOW_S + 10);
    const rates = [];
    for (let i = 0; i < RUNS; i++) {
      const databasePath = freshDatabase();
      seedEndpointRows(databasePath, [{ id: BAD, url: badReceiver.hook, rateLimit: RATE_LIMIT }]);
      seedEndpointBacklog(databasePath, BAD, backlog, 'pending');
      await badReceiver.reset();
      await badReceiver.mode('fast');
      const server = await startServer({ databasePath, env });
      try {
        while ((await badReceiver.count()) === 0) await sleep(100);
        const [first] = await badReceiver.times();
        await sleep(first + (RATE_WINDOW_S + 1) * 1000 + 500 - now());
        const times = await badReceiver.times();
        const inWindow = times.filter((t) => t < first + RATE_WINDOW_S * 1000).length;
        const afterFirstSecond = times.filter(
          (t) => t >= first + 1000 && t < first + (RATE_WINDOW_S + 1) * 1000,
        ).length;
        rates.push(inWindow / RATE_WINDOW_S);
        say(
          `  rate_limit ${RATE_LIMIT} run ${i + 1}: ${inWindow} attempts in the ${RATE_WINDOW_S} s from the first (${format(inWindow / RATE_WINDOW_S)}/s); from its 2nd second on: ${format(afterFirstSecond / RATE_WINDOW_S)}/s`,
        );
      } finally {
        await server.stop();
      }
    }
    record(
      `isolation: rate_limit ${RATE_LIMIT} on an endpoint with a backlog, attempts/s at the receiver over ${RATE_WINDOW_S} s`,
      'attempts/s',
      rates,
      `${Math.round(RATE_LIMIT * 0.9)}–${Math.round(RATE_LIMIT * 1.1)} (±10 %)`,
    );
  }
  await fastReceiver.stop();
  await badReceiver.stop();
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
