import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './helpers/deadline.js';
import { ensureBuilt, ServerProcess } from './helpers/server-process.js';

/**
 * SQLite's checkpoints run on a thread of their own (SqliteCheckpointer): the server's connection
 * never checkpoints, so if that thread did not work the write-ahead log would only grow and the
 * database file would never change while the server runs. Checked on the built server, as shipped.
 */
describe('SQLite checkpoints off the event loop (e2e, built server)', () => {
  let dir: string;
  let server: (ServerProcess & { baseUrl: string }) | undefined;

  beforeAll(() => ensureBuilt(), 120_000);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stephook-checkpoint-'));
  });
  afterEach(async () => {
    server?.kill('SIGTERM');
    await server?.exited;
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies committed pages into the database file while the server runs', async () => {
    const path = join(dir, 'stephook.sqlite');
    server = await ServerProcess.start({ DATABASE_URL: `sqlite:${path}` });
    const before = statSync(path).size;
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          const response = await fetch(`${server!.baseUrl}/v1/steps`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ agent_id: 'agent-1', model: 'x'.repeat(400) }),
          });
          expect(response.status).toBe(201);
        }),
      );
    }
    await eventually(
      () => Promise.resolve(statSync(path).size > before),
      'the database file to grow by a checkpoint while the server still runs',
      5_000,
    );
    expect(server.child.exitCode).toBeNull();
  });
});
