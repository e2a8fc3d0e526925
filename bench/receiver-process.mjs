// The benchmark's webhook receiver, in its own process so it does not share a CPU queue with the
// harness. POST /hook answers 204 (mode fast), 503 at once (mode 503), or holds the request until
// the client gives up (mode hang). GET /count → {count, ok}; GET /stats → {count, arrivals: {step_id:
// epoch ms}}; GET /deliveries → {webhook-id: [step_id, 2xx answers, other arrivals]}; GET /times →
// every request's arrival (epoch ms) in order; POST /mode/<fast|503|hang>; POST /reset (also drops
// the requests it is holding).
import { createServer } from 'node:http';

let mode = 'fast';
let arrivals = new Map();
// Per webhook-id, so a receiver's view of "lost" and "sent twice" can be counted: [step_id, 2xx, other].
let deliveries = new Map();
let okCount = 0; // webhook-ids answered 2xx at least once
let times = [];
const holding = new Set();
const now = () => performance.timeOrigin + performance.now();

const server = createServer((request, response) => {
  if (request.method === 'POST' && request.url === '/hook') {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const at = now();
      times.push(at);
      let stepId;
      try {
        stepId = JSON.parse(Buffer.concat(chunks).toString()).step_id;
        arrivals.set(stepId, at);
      } catch {
        // not a stephook body: counted nowhere
      }
      const webhookId = request.headers['webhook-id'];
      let seen;
      if (webhookId !== undefined) {
        seen = deliveries.get(webhookId);
        if (!seen) deliveries.set(webhookId, (seen = [stepId, 0, 0]));
      }
      if (mode === 'fast') {
        if (seen && seen[1]++ === 0) okCount += 1;
        response.writeHead(204).end();
      } else {
        if (seen) seen[2] += 1;
        if (mode === '503') response.writeHead(503).end();
        else {
          holding.add(response);
          response.on('close', () => holding.delete(response));
        }
      }
    });
    return;
  }
  if (request.method === 'GET' && request.url === '/count') {
    response.writeHead(200, { 'content-type': 'application/json' });
    return response.end(JSON.stringify({ count: arrivals.size, ok: okCount }));
  }
  if (request.method === 'GET' && request.url === '/stats') {
    response.writeHead(200, { 'content-type': 'application/json' });
    return response.end(
      JSON.stringify({ count: arrivals.size, arrivals: Object.fromEntries(arrivals) }),
    );
  }
  if (request.method === 'GET' && request.url === '/deliveries') {
    response.writeHead(200, { 'content-type': 'application/json' });
    return response.end(JSON.stringify(Object.fromEntries(deliveries)));
  }
  if (request.method === 'GET' && request.url === '/times') {
    response.writeHead(200, { 'content-type': 'application/json' });
    return response.end(JSON.stringify(times));
  }
  if (request.method === 'POST' && request.url.startsWith('/mode/')) {
    mode = request.url.slice('/mode/'.length);
    return response.writeHead(204).end();
  }
  if (request.method === 'POST' && request.url === '/reset') {
    arrivals = new Map();
    deliveries = new Map();
    okCount = 0;
    times = [];
    for (const held of holding) held.socket?.destroy();
    holding.clear();
    return response.writeHead(204).end();
  }
  response.writeHead(404).end();
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
