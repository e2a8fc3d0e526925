// Backlog drain: N pending deliveries (default 100,000) left in the database, then stephook started
// (with `npm run start:prod`'s Node flags) against a fast receiver. Prints deliveries/s and the
// server's peak RSS. Not a test: a measurement.
//   npm run bench:drain            (100,000)
//   npm run bench:drain -- 20000
//   SERVER_NODE_FLAGS=--cpu-prof npm run bench:drain   (profile the server while it drains)
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deliveryStates, migrate, sampleRss, seedBacklog, startServer } from './lib.mjs';

const count = Number(process.argv[2] ?? 100_000);
const dir = mkdtempSync(join(tmpdir(), 'stephook-drain-'));
const databasePath = join(dir, 'stephook.sqlite');
const say = (text) => process.stdout.write(`${text}\n`);

await migrate(databasePath);
seedBacklog(databasePath, count);
say(`backlog: ${count} pending deliveries`);

let received = 0;
let allReceived;
const done = new Promise((resolve) => (allReceived = resolve));
const receiver = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(204).end();
    if (++received === count) allReceived();
  });
});
receiver.listen(0, '127.0.0.1');
await once(receiver, 'listening');

const server = await startServer({
  databasePath,
  env: { STEP_COMPLETE_WEBHOOK: `http://127.0.0.1:${receiver.address().port}/hook` },
});
const started = performance.now();
const rss = sampleRss(server.child.pid);
await done;
const seconds = (performance.now() - started) / 1000;
const peakRss = rss.stop();
await server.stop();
receiver.close();
const states = deliveryStates(databasePath);
rmSync(dir, { recursive: true, force: true });

say(
  `drained ${count} deliveries in ${seconds.toFixed(1)} s: ${Math.round(count / seconds)} deliveries/s`,
);
say(`server peak RSS: ${peakRss.toFixed(0)} MB`);
say(
  `final states: ${Object.entries(states)
    .map(([status, n]) => `${status}=${n}`)
    .join(', ')}`,
);
