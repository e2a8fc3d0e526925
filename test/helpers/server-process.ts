import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_WAIT_MS, Waiters } from './deadline.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const MAIN = join(ROOT, 'dist', 'main.js');
export const WORKER = join(ROOT, 'dist', 'worker.js');

function newestSourceTime(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((newest, entry) => {
    const path = join(dir, entry.name);
    const time = entry.isDirectory() ? newestSourceTime(path) : statSync(path).mtimeMs;
    return Math.max(newest, time);
  }, 0);
}

/** Builds dist/ when it is missing or older than src/, so `npm test` works on a fresh clone. */
export function ensureBuilt(): void {
  if (existsSync(MAIN) && statSync(MAIN).mtimeMs >= newestSourceTime(join(ROOT, 'src'))) return;
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}

/** What a test gives a server: a variable set to `undefined` is left unset (its default applies). */
export type ServerEnv = Record<string, string | undefined>;

export interface LogLine {
  level: string;
  message: string;
  [field: string]: unknown;
}

/** The built server (`node dist/main.js`) as a child process with JSON logs, as an operator runs it. */
export class ServerProcess {
  readonly lines: LogLine[] = [];
  /** Lines of stdout that were not JSON (LOG_FORMAT=json promises there are none). */
  readonly unparsed: string[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  /** The signal that ended the process, if one did. */
  signal: NodeJS.Signals | null = null;
  private readonly waiters = new Waiters<LogLine>();
  private buffer = '';

  private constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.read(chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = once(child, 'exit').then(([code, signal]) => {
      this.signal = signal as NodeJS.Signals | null;
      return code as number | null;
    });
  }

  /** Starts the server and resolves once it listens; `baseUrl` is where. */
  static async start(
    env: ServerEnv,
    { cwd }: { cwd?: string } = {},
  ): Promise<ServerProcess & { baseUrl: string }> {
    const server = ServerProcess.spawn(env, MAIN, cwd);
    const listening = await Promise.race([
      server.waitFor(
        (line) => line.message.startsWith('stephook listening on '),
        'the server to listen',
        60_000,
      ),
      server.exited.then((code) => {
        throw new Error(
          `server exited (code ${code}, signal ${server.signal}) before listening: ${server.stderr}`,
        );
      }),
    ]);
    return Object.assign(server, {
      // `stephook listening on http://127.0.0.1:40123 · database … · …`
      baseUrl: listening.message.slice('stephook listening on '.length).split(' ')[0],
    });
  }

  /** A delivery worker (`dist/worker.js`); resolves once it has started. */
  static async startWorker(env: ServerEnv): Promise<ServerProcess> {
    const worker = ServerProcess.spawn(env, WORKER);
    await Promise.race([
      worker.waitFor(
        (line) => line.message.startsWith('stephook worker delivering'),
        'the worker to start',
        60_000,
      ),
      worker.exited.then((code) => {
        throw new Error(`worker exited (code ${code}) before starting: ${worker.stderr}`);
      }),
    ]);
    return worker;
  }

  /**
   * Never on the user's files: the test must name its database (without DATABASE_URL the server
   * would open data/stephook.sqlite, the user's own, and deliver to the endpoints stored there),
   * and the server runs in an empty directory of its own, so the repository's .env (which may hold
   * the user's webhook URL or keys) is never read: the server gets exactly what the test gives.
   * `cwd` is for the test that proves this with a .env and a database of its own making.
   */
  static spawn(env: ServerEnv, script = MAIN, cwd?: string): ServerProcess {
    if (!env.DATABASE_URL) {
      throw new Error(
        'ServerProcess: give DATABASE_URL (a sqlite: file in a temp folder, sqlite::memory: or a test PostgreSQL); without it the server would use the user’s data/stephook.sqlite',
      );
    }
    const ownCwd = cwd ? undefined : mkdtempSync(join(tmpdir(), 'stephook-cwd-'));
    const variables = Object.entries({
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: '0',
      // METRICS_PORT=0: a worker opens no operator listener unless the test asks for one.
      METRICS_PORT: '0',
      LOG_FORMAT: 'json',
      ...env,
    }).filter((entry): entry is [string, string] => entry[1] !== undefined);
    const child = spawn(process.execPath, [script], {
      cwd: cwd ?? ownCwd,
      env: Object.fromEntries(variables),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (ownCwd) child.once('exit', () => rmSync(ownCwd, { recursive: true, force: true }));
    return new ServerProcess(child);
  }

  waitFor(
    matches: (line: LogLine) => boolean,
    what = 'a matching log line',
    ms = DEFAULT_WAIT_MS,
  ): Promise<LogLine> {
    const seen = this.lines.find(matches);
    return seen ? Promise.resolve(seen) : this.waiters.wait(matches, what, ms);
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  private read(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const text = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      if (!text.trim()) continue;
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        this.unparsed.push(text);
        continue;
      }
      this.lines.push(line);
      this.waiters.observe(line);
    }
  }
}

/** A TCP port nothing listens on now (for a variable where 0 means "off", such as METRICS_PORT). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}
