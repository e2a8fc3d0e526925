import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withDeadline } from './helpers/deadline.js';
import { ensureBuilt, ServerProcess, WORKER } from './helpers/server-process.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';

/**
 * Several workers on one host (SPEC §7): a worker whose METRICS_PORT is taken warns once, naming
 * METRICS_PORT, and keeps delivering; a listen error that no wait can cure stops the start with one
 * line. The PostgreSQL + Redis version, with a SIGKILL, is test/services/workers-host.
 */
describe('A worker whose METRICS_PORT is taken (e2e, built worker)', () => {
  let dir: string;
  let receiver: WebhookReceiver;
  let holder: Server;
  const processes: ServerProcess[] = [];

  beforeAll(() => ensureBuilt(), 120_000);
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stephook-worker-port-'));
    receiver = (await WebhookReceiver.start()).replyWith({ status: 204 });
    // The port another worker on this host already serves its metrics on.
    holder = createServer().listen(0, '127.0.0.1');
    await once(holder, 'listening');
  });
  afterEach(async () => {
    for (const process of processes.splice(0)) {
      process.kill('SIGKILL');
      await process.exited;
    }
    holder.close();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const takenPort = () => String((holder.address() as { port: number }).port);
  const shared = () => ({
    DATABASE_URL: `sqlite:${join(dir, 'stephook.sqlite')}`,
    STEP_COMPLETE_WEBHOOK: receiver.url(),
  });

  it('logs one warning naming METRICS_PORT, without a stack trace, and keeps delivering', async () => {
    const api = await ServerProcess.start({ ...shared(), DELIVERY_WORKER: 'off' });
    processes.push(api);
    const worker = await ServerProcess.startWorker({ ...shared(), METRICS_PORT: takenPort() });
    processes.push(worker);

    const steps = 5;
    for (let i = 0; i < steps; i++) {
      const created = await fetch(`${api.baseUrl}/v1/steps`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ agent_id: 'shared-host' }),
      });
      const { id } = (await created.json()) as { id: string };
      expect(
        (await fetch(`${api.baseUrl}/v1/steps/${id}/success`, { method: 'POST' })).status,
      ).toBe(200);
    }
    await receiver.waitForRequests(steps); // the API delivers nothing: the worker sent them

    const warnings = worker.lines.filter((line) => line.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toMatch(
      new RegExp(`^METRICS_PORT ${takenPort()} is already in use on 127\\.0\\.0\\.1 `),
    );
    expect(worker.lines.filter((line) => line.level === 'error')).toEqual([]);
    // No stack trace anywhere: every stdout line is one JSON log line, nothing on stderr.
    expect(JSON.stringify(worker.lines)).not.toMatch(/\\n\s+at |EADDRINUSE/);
    expect(worker.unparsed).toEqual([]);
    expect(worker.stderr).toBe('');
    expect(worker.child.exitCode).toBeNull();
    expect(new Set(receiver.requests.map((r) => r.headers['webhook-id'])).size).toBe(steps);
  });

  it('a listen error that waiting cannot cure (HOST not on this machine) stops the start with one line', async () => {
    // 192.0.2.0/24 is reserved for documentation: no machine has it.
    const worker = ServerProcess.spawn(
      { ...shared(), HOST: '192.0.2.1', METRICS_PORT: takenPort() },
      WORKER,
    );
    processes.push(worker);

    await expect(withDeadline(worker.exited, 'the refused worker to exit', 20_000)).resolves.toBe(
      1,
    );
    expect(worker.stderr.trim().split('\n')).toEqual([
      `stephook: HOST 192.0.2.1 is not an address of this machine (EADDRNOTAVAIL): cannot serve METRICS_PORT ${takenPort()} there`,
    ]);
  });
});
