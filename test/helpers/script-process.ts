import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { DEFAULT_WAIT_MS, Waiters } from './deadline.js';

export const ROOT = new URL('../..', import.meta.url).pathname;

/**
 * A command the user runs from the repository (`node examples/print-receiver.mjs`, `npm run -s
 * secret`), as a child process with only the variables the test gives (and PATH and HOME, which
 * node and npm need): the user's own STEP_COMPLETE_* or PORT never leak in.
 */
export class ScriptProcess {
  readonly stdoutLines: string[] = [];
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly waiters = new Waiters<string>();

  private constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.read(chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = once(child, 'exit').then(([code]) => code as number | null);
  }

  static spawn(command: string, args: string[], env: Record<string, string> = {}): ScriptProcess {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ScriptProcess(child);
  }

  /** The first stdout line that matches, or a rejection naming `what` (or the early exit). */
  waitForLine(matches: (line: string) => boolean, what: string, ms = DEFAULT_WAIT_MS) {
    const seen = this.stdoutLines.find(matches);
    if (seen !== undefined) return Promise.resolve(seen);
    return Promise.race([
      this.waiters.wait(matches, what, ms),
      this.exited.then((code) => {
        throw new Error(`exited (code ${code}) before ${what}; stderr: ${this.stderr}`);
      }),
    ]);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }

  private read(chunk: string): void {
    this.stdout += chunk;
    const lines = this.stdout.split('\n');
    for (const line of lines.slice(this.stdoutLines.length, -1)) {
      this.stdoutLines.push(line);
      this.waiters.observe(line);
    }
  }
}
