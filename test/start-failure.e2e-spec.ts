import { createServer, Server } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { withDeadline } from './helpers/deadline.js';
import { ROOT, ScriptProcess } from './helpers/script-process.js';
import { ensureBuilt } from './helpers/server-process.js';

/**
 * A start that cannot serve stops with one line saying why and what to change, as a bad variable
 * does (issue 25's attack: a port in use, a HOST not on this machine and a database that never
 * answers printed Node's stack traces). No stack trace, exit code 1.
 */
describe('A start that fails (e2e, built server)', () => {
  let holder: Server;
  let heldPort: number;

  beforeAll(async () => {
    ensureBuilt();
    holder = createServer().listen(0, '127.0.0.1');
    await once(holder, 'listening');
    heldPort = (holder.address() as AddressInfo).port;
  }, 120_000);
  afterAll(() => holder.close());

  const startApi = (env: Record<string, string>) =>
    ScriptProcess.spawn(process.execPath, [join(ROOT, 'dist', 'main.js')], {
      DATABASE_URL: 'sqlite::memory:',
      ...env,
    });

  it.each<[string, Record<string, string>, () => string]>([
    [
      'a port another process holds',
      { PORT: '<held>' },
      () =>
        `stephook: cannot listen on 127.0.0.1:${heldPort}: another process holds it; stop it or set PORT to a free port`,
    ],
    [
      'a HOST that is not an address of this machine',
      { HOST: '192.0.2.1', PORT: '0' },
      () => 'stephook: cannot listen on 192.0.2.1: HOST is not an address of this machine',
    ],
    [
      'a PostgreSQL that refuses every connection (after its ten tries, 30 s)',
      { DATABASE_URL: 'postgres://user:pa55word@127.0.0.1:1/stephook' },
      () => 'stephook: could not start: connect ECONNREFUSED 127.0.0.1:1',
    ],
  ])(
    '%s: one line naming the cause, exit code 1, no stack trace',
    async (_case, env, line) => {
      const api = startApi(env.PORT === '<held>' ? { ...env, PORT: String(heldPort) } : env);

      await expect(withDeadline(api.exited, 'the start to stop', 60_000)).resolves.toBe(1);
      expect(api.stderr.split('\n').filter(Boolean).at(-1)).toBe(line());
      expect(`${api.stdout}${api.stderr}`).not.toMatch(/^\s+at /m);
      expect(`${api.stdout}${api.stderr}`).not.toContain('pa55word');
    },
    70_000,
  );
});
