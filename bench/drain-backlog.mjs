// Backlog drain: N pending deliveries (default 100,000) left in the database, then stephook started
// against a fast receiver. Prints deliveries/s and the server's peak RSS. Not a test: a measurement.
//   npm run bench:drain            (100,000)
//   npm run bench:drain -- 20000
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const count = Number(process.argv[2] ?? 100_000);
const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'stephook-drain-'));
const databasePath = join(dir, 'stephook.sqlite');
const say = (text) => process.stdout.write(`${text}\n`);
const startProd = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts[
  'start:prod'
];
const shippedNodeFlags = startProd.split(' ').filter((word) => word.startsWith('--'));

async function freePort() {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  probe.close();
  return port;
}

/** Starts dist/main.js at the default LOG_LEVEL (info); ready once the API answers. */
async function startServer(env) {
  const port = await freePort();
  // The server runs with the Node flags of `npm run start:prod`, plus any in SERVER_NODE_FLAGS
  // (e.g. --cpu-prof to profile it under load).
  const flags = [
    ...shippedNodeFlags,
    ...(process.env.SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean),
  ];
  const child = spawn(process.execPath, [...flags, join(root, 'dist/main.js')], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      DATABASE_URL: `sqlite:${databasePath}`,
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`server exited with ${code}`);
  });
  for (;;) {
    const answered = await Promise.race([
      fetch(`http://127.0.0.1:${port}/v1/steps?limit=1`).then(
        (r) => r.ok,
        () => false,
      ),
      exited,
    ]);
    if (answered) return child;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function rssOf(pid, field) {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(
    readFileSync(`/proc/${pid}/status`, 'utf8'),
  );
  return match ? Number(match[1]) / 1024 : 0;
}

// 1. Let the server create and migrate the database, then stop it.
{
  const child = await startServer({});
  child.kill('SIGTERM');
  await once(child, 'exit');
}

// 2. Fill it with completed steps and their pending deliveries, as a long receiver outage would leave them.
{
  const db = new Database(databasePath);
  const now = new Date().toISOString();
  const insertStep = db.prepare(
    `INSERT INTO steps (id, status, tags, prompt_tokens, completion_tokens, total_tokens, created_at, updated_at, completed_at)
     VALUES (?, 'success', '[]', 0, 0, 0, ?, ?, ?)`,
  );
  const insertDelivery = db.prepare(
    `INSERT INTO webhook_deliveries (id, step_id, status, payload, attempt_count, schedule_position, next_attempt_at, created_at, updated_at)
     VALUES (?, ?, 'pending', ?, 0, 0, ?, ?, ?)`,
  );
  db.transaction(() => {
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
  })();
  db.close();
  say(`backlog: ${count} pending deliveries`);
}

// 3. A fast receiver, and the server draining into it.
let received = 0;
let resolveDone;
const done = new Promise((resolve) => (resolveDone = resolve));
const receiver = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(204).end();
    if (++received === count) resolveDone();
  });
});
receiver.listen(0, '127.0.0.1');
await once(receiver, 'listening');

const child = await startServer({
  STEP_COMPLETE_WEBHOOK: `http://127.0.0.1:${receiver.address().port}/hook`,
});
const started = performance.now();
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssOf(child.pid, 'VmRSS'))), 100);
await done;
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
peakRss = Math.max(peakRss, rssOf(child.pid, 'VmHWM'));
child.kill('SIGTERM');
await once(child, 'exit');
receiver.close();

const db = new Database(databasePath, { readonly: true });
const states = db
  .prepare('SELECT status, COUNT(*) AS n FROM webhook_deliveries GROUP BY status')
  .all();
db.close();
rmSync(dir, { recursive: true, force: true });

say(
  `drained ${count} deliveries in ${seconds.toFixed(1)} s: ${Math.round(count / seconds)} deliveries/s`,
);
say(`server peak RSS: ${peakRss.toFixed(0)} MB`);
say(`final states: ${states.map((row) => `${row.status}=${row.n}`).join(', ')}`);
