// The smallest webhook receiver: prints every POST it gets and answers 204.
// Run: node examples/print-receiver.mjs   (127.0.0.1, port RECEIVER_PORT: default 4000, 0 picks a
// free one; not PORT, which is stephook's own)
import { createServer } from 'node:http';

const stop = (line) => {
  process.stderr.write(`print-receiver: ${line}\n`);
  process.exit(1);
};

const requested = process.env.RECEIVER_PORT?.trim() || '4000';
if (!/^\d+$/.test(requested) || Number(requested) > 65_535) {
  stop(`RECEIVER_PORT must be a port number from 0 to 65535, got "${requested}"`);
}

const server = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => (body += chunk));
  request.on('end', () => {
    process.stdout.write(
      `${request.method} ${request.url} authorization=${request.headers.authorization ?? '-'} ` +
        `user-agent=${request.headers['user-agent']} body=${body}\n`,
    );
    response.writeHead(204).end();
  });
});
server.once('error', (error) =>
  stop(
    error.code === 'EADDRINUSE'
      ? `port ${requested} is in use; set RECEIVER_PORT to a free one`
      : `cannot listen on port ${requested}: ${error.message}`,
  ),
);
server.listen(Number(requested), '127.0.0.1', () =>
  process.stdout.write(
    `point stephook here: STEP_COMPLETE_WEBHOOK=http://127.0.0.1:${server.address().port}/hook\n`,
  ),
);
