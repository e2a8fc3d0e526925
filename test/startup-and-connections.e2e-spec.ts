import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withDeadline } from './helpers/deadline.js';
import { ensureBuilt, ServerProcess } from './helpers/server-process.js';

/**
 * What an operator meets before the first request: start-up refusals that say exactly what is
 * wrong in one line, and connection limits that stop idle or slow clients from holding the server.
 */
describe('Start-up checks and connection limits (e2e, built server)', () => {
  let dir: string;
  const servers: ServerProcess[] = [];

  beforeAll(() => ensureBuilt(), 120_000);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stephook-start-'));
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.kill('SIGKILL');
      await server.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts with `env`, expects exit 1 within 5 s, and answers what it printed to stderr. */
  async function refusal(env: Record<string, string>): Promise<string[]> {
    const server = ServerProcess.spawn(env);
    servers.push(server);
    await expect(withDeadline(server.exited, 'the refused start to exit', 5_000)).resolves.toBe(1);
    return server.stderr.trim().split('\n');
  }

  it('refuses an API_KEY no client could send in a header, naming the variable and not the key', async () => {
    const lines = await refusal({ DATABASE_URL: 'sqlite::memory:', API_KEY: 'ключ-123' });
    expect(lines).toEqual([
      'stephook: invalid configuration: API_KEY must be printable ASCII or Latin-1 characters only: no client could send it in a header',
    ]);
  });

  it.each([
    ['a folder', (path: string) => mkdirSync(path)],
    ['a file that is not a database', (path: string) => writeFileSync(path, 'x'.repeat(4096))],
    ['a path under a regular file', (path: string) => writeFileSync(path, '')],
  ])(
    'stops at once with one line naming DATABASE_URL and the path when it is %s',
    async (_kind, prepare) => {
      let path = join(dir, 'stephook.sqlite');
      prepare(path);
      if (_kind === 'a path under a regular file') path = join(path, 'inner.sqlite');
      const lines = await refusal({ DATABASE_URL: `sqlite:${path}` });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(
          `^stephook: DATABASE_URL: cannot use the SQLite file ${path.replaceAll('/', '\\/')}: \\S`,
        ),
      );
    },
  );

  describe('connection limits', () => {
    let baseUrl: URL;

    beforeEach(async () => {
      const server = await ServerProcess.start({
        DATABASE_URL: 'sqlite::memory:',
        HTTP_KEEP_ALIVE_TIMEOUT_MS: '500',
        HTTP_HEADERS_TIMEOUT_MS: '1000',
        HTTP_REQUEST_TIMEOUT_MS: '2000',
        HTTP_MAX_CONNECTIONS: '5',
      });
      servers.push(server);
      baseUrl = new URL(server.baseUrl);
    });

    async function open(): Promise<Socket> {
      const socket = connect(Number(baseUrl.port), baseUrl.hostname);
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      // Flowing, so the server's answer (a 408) is read and its close is seen.
      socket.resume();
      return socket;
    }
    const closed = (socket: Socket, what: string) =>
      withDeadline(once(socket, 'close'), what, 5_000);

    it('closes a connection that never finishes its headers, and one that sends nothing', async () => {
      const silent = await open();
      const slow = await open();
      slow.write('GET /health HTTP/1.1\r\nHost: x\r\n');
      await Promise.all([
        closed(silent, 'a silent connection to be closed'),
        closed(slow, 'a connection with unfinished headers to be closed'),
      ]);
    });

    it('closes an idle keep-alive connection after its timeout', async () => {
      const socket = await open();
      socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
      const [answer] = (await once(socket, 'data')) as [Buffer];
      expect(answer.toString()).toMatch(/^HTTP\/1\.1 200/);
      await closed(socket, 'the idle keep-alive connection to be closed');
    });

    /** Everything the server writes to a raw connection until it closes it. */
    async function answerTo(request: string): Promise<string> {
      const socket = await open();
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.write(request);
      await closed(socket, 'the server to answer and close the connection');
      return Buffer.concat(chunks).toString();
    }

    it('answers what is not HTTP, too-large headers and a late request in the error shape, with Connection: close', async () => {
      const cases = [
        {
          request: 'FOO /v1/steps HTTP/1.1\r\nHost: x\r\n\r\n',
          status: 'HTTP/1.1 400 Bad Request',
          body: {
            statusCode: 400,
            error: 'Bad Request',
            message: 'The request is not valid HTTP/1.1 (HPE_INVALID_METHOD)',
          },
        },
        {
          request:
            'POST /v1/steps HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
          status: 'HTTP/1.1 400 Bad Request',
          body: {
            statusCode: 400,
            error: 'Bad Request',
            message: expect.stringMatching(/^The request is not valid HTTP\/1\.1 \(HPE_/),
          },
        },
        {
          request: `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
          status: 'HTTP/1.1 431 Request Header Fields Too Large',
          body: {
            statusCode: 431,
            error: 'Request Header Fields Too Large',
            message: 'The request headers exceed 16 KiB',
          },
        },
        {
          request:
            'POST /v1/steps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{',
          status: 'HTTP/1.1 408 Request Timeout',
          body: {
            statusCode: 408,
            error: 'Request Timeout',
            message:
              'The request did not arrive in time (HTTP_HEADERS_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS)',
          },
        },
      ];
      for (const { request, status, body } of cases) {
        const answer = await answerTo(request);
        const [head, text] = answer.split('\r\n\r\n');
        expect(head.split('\r\n')[0]).toBe(status);
        expect(head.toLowerCase()).toContain('connection: close');
        expect(JSON.parse(text)).toEqual(body);
      }
    });

    it('refuses connections past HTTP_MAX_CONNECTIONS', async () => {
      const held = await Promise.all(Array.from({ length: 5 }, open));
      const extra = await open();
      await closed(extra, 'the connection past the cap to be closed');
      for (const socket of held) expect(socket.destroyed).toBe(false);
      for (const socket of held) socket.destroy();
    });
  });
});
