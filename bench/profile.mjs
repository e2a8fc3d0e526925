// npm run bench:profile [-- off] [-- postgres] [-- --endpoints=10]
// Runs terminal calls (webhooks on, or off with `off`; on SQLite, or on PostgreSQL + Redis with
// `postgres`) against the built server under
// `node --cpu-prof` for 6 s and prints where the server's CPU went: self time by package and the top
// functions. The profile itself is left in bench/results/ for Chrome DevTools.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freshPostgres,
  migrate,
  root,
  seedEndpoints,
  seedPendingSteps,
  seedPostgresSteps,
  startReceiver,
  startServer,
  terminalCalls,
} from './lib.mjs';

const webhooks = !process.argv.includes('off');
// --endpoints=N: N API endpoints hearing every step instead of STEP_COMPLETE_WEBHOOK (SQLite only).
const endpoints = Number(
  process.argv.find((arg) => arg.startsWith('--endpoints='))?.slice('--endpoints='.length) ?? 0,
);
const say = (text) => process.stdout.write(`${text}\n`);
const work = mkdtempSync(join(tmpdir(), 'stephook-profile-'));
const postgres = process.argv.includes('postgres');
const databasePath = join(work, 'db.sqlite');
const db = postgres ? await freshPostgres() : null;
if (!postgres) await migrate(databasePath);
const ids = postgres
  ? await seedPostgresSteps(db.url, 30_000, 'pending')
  : seedPendingSteps(databasePath, 30_000);

const receiver = await startReceiver();
if (endpoints > 0)
  seedEndpoints(
    databasePath,
    receiver.hook,
    Array.from({ length: endpoints }, () => null),
  );

process.env.SERVER_NODE_FLAGS = `${process.env.SERVER_NODE_FLAGS ?? ''} --cpu-prof --cpu-prof-dir=${work}`;
const redisUrl = `${process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'}/13`;
const server = await startServer({
  ...(postgres ? { databaseUrl: db.url } : { databasePath }),
  env: {
    ...(webhooks && endpoints === 0 ? { STEP_COMPLETE_WEBHOOK: receiver.hook } : {}),
    ...(endpoints > 0 ? { STEP_COMPLETE_ALLOWED_NETWORKS: '127.0.0.0/8' } : {}),
    ...(postgres ? { REDIS_URL: redisUrl } : {}),
  },
});
await terminalCalls(server.baseUrl, ids.slice(0, 2_000), { amount: 2_000 });
/** CPU seconds (user + system) a process has used so far. */
const cpuSeconds = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const processes = {
  server: server.child.pid,
  receiver: receiver.pid,
  'load generator': process.pid,
};
const before = Object.fromEntries(
  Object.entries(processes).map(([name, pid]) => [name, cpuSeconds(pid)]),
);
const result = await terminalCalls(server.baseUrl, ids.slice(2_000), { duration: 6 });
const calls = result.requests.total;
say(
  `terminal calls/s (webhooks ${webhooks ? 'on' : 'off'}, under the profiler): ${Math.round(result.requests.average)}`,
);
say(
  `CPU per terminal call: ${Object.entries(processes)
    .map(
      ([name, pid]) =>
        `${name} ${((1000 * (cpuSeconds(pid) - before[name])) / calls).toFixed(2)} ms`,
    )
    .join(', ')}`,
);
await server.stop();
await receiver.stop();
await db?.drop();

const file = readdirSync(work).find((name) => name.endsWith('.cpuprofile'));
mkdirSync(join(root, 'bench/results'), { recursive: true });
const kept = join(root, 'bench/results', `terminal-${webhooks ? 'on' : 'off'}.cpuprofile`);
renameSync(join(work, file), kept);
const profile = JSON.parse(readFileSync(kept, 'utf8'));

const dt = new Map();
profile.samples.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
let total = 0;
const byPackage = new Map();
const byFunction = new Map();
for (const node of profile.nodes) {
  const us = dt.get(node.id) ?? 0;
  total += us;
  const { url, functionName, lineNumber } = node.callFrame;
  const pkg =
    /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ??
    (url.includes('/dist/')
      ? 'stephook'
      : url.startsWith('node:')
        ? 'node core'
        : url || `(${functionName || 'native'})`);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
  const key = `${functionName || '(anonymous)'} ${url.replace(/.*node_modules\//, '').replace(/.*\/dist\//, 'dist/')}:${lineNumber + 1}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
}
const top = (map, n) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => `  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${name}`)
    .join('\n');
say(`self time by package (of ${(total / 1e6).toFixed(1)} s profiled):\n${top(byPackage, 16)}`);
say(`top functions:\n${top(byFunction, 25)}`);
say(`profile: ${kept}`);

// Inclusive time of stephook's own functions (async work shows only up to its first await).
const children = new Map(profile.nodes.map((node) => [node.id, node.children ?? []]));
const nodeById = new Map(profile.nodes.map((node) => [node.id, node]));
const inclusive = new Map();
function walk(id, open) {
  const node = nodeById.get(id);
  const { url, functionName, lineNumber } = node.callFrame;
  const key = url.includes('/dist/')
    ? `${functionName || '(anonymous)'} ${url.replace(/.*\/dist\//, '')}:${lineNumber + 1}`
    : null;
  const entered = key && !open.has(key);
  let us = dt.get(id) ?? 0;
  const nextOpen = entered ? new Set(open).add(key) : open;
  for (const child of children.get(id)) us += walk(child, nextOpen);
  if (entered) inclusive.set(key, (inclusive.get(key) ?? 0) + us);
  return us;
}
walk(profile.nodes[0].id, new Set());
say(`stephook functions, inclusive:\n${top(inclusive, 20)}`);
