// The smallest webhook receiver: prints every POST it gets and answers 204.
// Run: node examples/print-receiver.mjs   (listens on 127.0.0.1:4000, or PORT)
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 4000);
createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => (body += chunk));
  request.on('end', () => {
    process.stdout.write(
      `${request.method} ${request.url} authorization=${request.headers.authorization ?? '-'} ` +
        `user-agent=${request.headers['user-agent']} body=${body}\n`,
    );
    response.writeHead(204).end();
  });
}).listen(port, '127.0.0.1', () =>
  process.stdout.write(`receiver on http://127.0.0.1:${port}/hook\n`),
);
