import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withDeadline } from './helpers/deadline.js';
import { ensureBuilt, LogLine, ServerProcess } from './helpers/server-process.js';
import type { ServerEnv } from './helpers/server-process.js';

/**
 * What an operator reads at start (issue 25): one info line that says what the process does — where
 * it listens, its database, the environment endpoint, the API endpoints, who delivers — and no
 * credential; Nest's module and route lines only at LOG_LEVEL=debug.
 */
describe('The start line (e2e, built server and worker)', () => {
  let dir: string;
  const processes: ServerProcess[] = [];

  beforeAll(() => ensureBuilt(), 120_000);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stephook-start-line-'));
  });
  afterEach(async () => {
    for (const process of processes.splice(0)) {
      if (process.child.exitCode === null && process.signal === null) process.kill('SIGKILL');
      await process.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const databasePath = () => join(dir, 'stephook.sqlite');
  const SECRETS = ['hook-user', 'hook-pa55', 'tok-3456', 'api-k3y-789', 'env-k3y-012'];
  const withSecrets: ServerEnv = {
    // 192.0.2.0/24 (documentation): nothing is sent to it in this test.
    STEP_COMPLETE_WEBHOOK: 'http://hook-user:hook-pa55@192.0.2.10:4000/hook?token=tok-3456#frag',
    STEP_COMPLETE_KEY: 'env-k3y-012',
    API_KEY: 'api-k3y-789',
  };

  async function start(env: ServerEnv) {
    const api = await ServerProcess.start({ DATABASE_URL: `sqlite:${databasePath()}`, ...env });
    processes.push(api);
    return api;
  }
  async function stop(process: ServerProcess) {
    process.kill('SIGTERM');
    await expect(withDeadline(process.exited, 'the process to stop', 15_000)).resolves.toBe(0);
  }
  /** Every line printed up to and including the start line. */
  const untilStartLine = (process: ServerProcess, startsWith: string): LogLine[] =>
    process.lines.slice(
      0,
      process.lines.findIndex((line) => line.message.startsWith(startsWith)) + 1,
    );
  const infoLines = (lines: LogLine[]) => lines.filter((line) => line.level === 'info');

  it('the API prints one info line with what it does, and no credential anywhere', async () => {
    const api = await start({ ...withSecrets, STEP_COMPLETE_ALLOWED_NETWORKS: '192.0.2.0/24' });

    const expected =
      `stephook listening on ${api.baseUrl} · database sqlite:${databasePath()} · ` +
      'environment endpoint http://192.0.2.10:4000/hook · 0 API endpoints · delivering here';
    expect(
      infoLines(untilStartLine(api, 'stephook listening on ')).map((line) => line.message),
    ).toEqual([expected]);
    expect(api.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(api.lines.some((line) => line.message.startsWith('Mapped {'))).toBe(false);

    // Two endpoints created through the API are counted at the next start.
    for (const name of ['a', 'b']) {
      const created = await fetch(`${api.baseUrl}/v1/webhook-endpoints`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer api-k3y-789' },
        body: JSON.stringify({ url: `http://192.0.2.11/${name}` }),
      });
      expect(created.status).toBe(201);
    }
    await stop(api);
    const again = await start({ ...withSecrets, STEP_COMPLETE_ALLOWED_NETWORKS: '192.0.2.0/24' });
    expect(
      again.lines.find((line) => line.message.startsWith('stephook listening on '))?.message,
    ).toBe(
      `stephook listening on ${again.baseUrl} · database sqlite:${databasePath()} · ` +
        'environment endpoint http://192.0.2.10:4000/hook · 2 API endpoints · delivering here',
    );

    const printed = [api, again].map((process) => JSON.stringify(process.lines) + process.stderr);
    for (const secret of SECRETS) expect(printed.join('')).not.toContain(secret);
    expect(api.unparsed).toEqual([]);
  });

  it('with nothing set, says the environment endpoint is off; API_KEY empty is its own warn line', async () => {
    const api = await start({});

    const lines = untilStartLine(api, 'stephook listening on ');
    expect(infoLines(lines).map((line) => line.message)).toEqual([
      `stephook listening on ${api.baseUrl} · database sqlite:${databasePath()} · ` +
        'environment endpoint off (STEP_COMPLETE_WEBHOOK empty) · 0 API endpoints · delivering here',
    ]);
    expect(lines.filter((line) => line.level === 'warn').map((line) => line.message)).toEqual([
      'API_KEY is empty: the API accepts requests without authentication',
    ]);
  });

  it('at LOG_LEVEL=debug, Nest’s route lines are still there, at debug', async () => {
    const api = await start({ LOG_LEVEL: 'debug' });

    const mapped = api.lines.filter((line) => line.message.startsWith('Mapped {'));
    expect(mapped.length).toBeGreaterThan(10);
    expect(new Set(mapped.map((line) => line.level))).toEqual(new Set(['debug']));
  });

  it('a worker prints one info line: where it finds work, its database, its metrics', async () => {
    const worker = await ServerProcess.startWorker({
      ...withSecrets,
      DATABASE_URL: `sqlite:${databasePath()}`,
    });
    processes.push(worker);

    expect(
      infoLines(untilStartLine(worker, 'stephook worker delivering')).map((line) => line.message),
    ).toEqual([
      `stephook worker delivering from the database (polling) · database sqlite:${databasePath()} · ` +
        'no metrics listener (METRICS_PORT=0)',
    ]);
    expect(worker.lines.some((line) => line.message.startsWith('Mapped {'))).toBe(false);
    const printed = JSON.stringify(worker.lines) + worker.stderr;
    for (const secret of SECRETS) expect(printed).not.toContain(secret);
  });
});
