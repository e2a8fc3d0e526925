// The benchmark's webhook receiver, in its own process so it does not share a CPU queue with the
// harness. POST /hook answers 204 (mode fast) or holds the request until the client gives up (mode
// hang). GET /count → {count}; GET /stats → {count, arrivals: {step_id: epoch ms}};
// POST /mode/<fast|hang>; POST /reset.
import { createServer } from 'node:http';

let mode = 'fast';
let arrivals = new Map();
const now = () => performance.timeOrigin + performance.now();

const server = createServer((request, response) => {
  if (request.method === 'POST' && request.url === '/hook') {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const at = now();
      try {
        arrivals.set(JSON.parse(Buffer.concat(chunks).toString()).step_id, at);
      } catch {
        // not a stephook body: counted nowhere
      }
      if (mode === 'fast') response.writeHead(204).end();
    });
    return;
  }
  if (request.method === 'GET' && request.url === '/count') {
    response.writeHead(200, { 'content-type': 'application/json' });
    return response.end(JSON.stringify({ count: arrivals.size }));
  }
  if (request.method === 'GET' && request.url === '/stats') {
    response.writeHead(200, { 'content-type': 'application/json' });
    return response.end(
      JSON.stringify({ count: arrivals.size, arrivals: Object.fromEntries(arrivals) }),
    );
  }
  if (request.method === 'POST' && request.url.startsWith('/mode/')) {
    mode = request.url.slice('/mode/'.length);
    return response.writeHead(204).end();
  }
  if (request.method === 'POST' && request.url === '/reset') {
    arrivals = new Map();
    return response.writeHead(204).end();
  }
  response.writeHead(404).end();
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
