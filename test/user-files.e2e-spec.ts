import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, ServerProcess } from './helpers/server-process.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';
import guardUserFiles, { fingerprintUserFiles } from './user-files-guard.js';

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

async function completeOneStep(baseUrl: string): Promise<string> {
  const created = await fetch(`${baseUrl}/v1/steps`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ agent_id: 'user-files' }),
  });
  const { id } = (await created.json()) as { id: string };
  const done = await fetch(`${baseUrl}/v1/steps/${id}/success`, { method: 'POST' });
  expect(done.status).toBe(200);
  return id;
}

/**
 * `npm test` never touches the user's files: no server starts without a database of its own, and
 * the whole run is checked by test/user-files-guard.ts (Jest's global setup and teardown).
 */
describe('Tests and the user’s own database (e2e, built server)', () => {
  let checkout: string;
  const receivers: WebhookReceiver[] = [];

  beforeAll(() => ensureBuilt(), 120_000);
  beforeEach(() => {
    checkout = mkdtempSync(join(tmpdir(), 'stephook-checkout-'));
  });
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
    rmSync(checkout, { recursive: true, force: true });
  });

  it('the server helper refuses to start a server or a worker without DATABASE_URL', async () => {
    expect(() => ServerProcess.spawn({})).toThrow(/give DATABASE_URL/);
    expect(() => ServerProcess.spawn({ DATABASE_URL: undefined, PORT: '0' })).toThrow(
      /data\/stephook\.sqlite/,
    );
    await expect(ServerProcess.startWorker({})).rejects.toThrow(/give DATABASE_URL/);
  });

  it('a test server beside a user’s .env and data/stephook.sqlite leaves the file byte-identical and the user’s webhook unused', async () => {
    const userReceiver = await WebhookReceiver.start();
    const testReceiver = await WebhookReceiver.start();
    receivers.push(userReceiver, testReceiver);
    userReceiver.replyWith({ status: 204 });
    testReceiver.replyWith({ status: 204 });
    // The user's checkout: the committed .env pointing at data/stephook.sqlite, plus the user's
    // own webhook, and a database their `npm start` made and used.
    writeFileSync(
      join(checkout, '.env'),
      `DATABASE_URL=sqlite:data/stephook.sqlite\nSTEP_COMPLETE_WEBHOOK=${userReceiver.url()}\n`,
    );
    mkdirSync(join(checkout, 'data'));
    const users = await ServerProcess.start(
      { DATABASE_URL: 'sqlite:data/stephook.sqlite', LOG_FORMAT: 'json' },
      { cwd: checkout },
    );
    await completeOneStep(users.baseUrl);
    await userReceiver.waitForRequests(1);
    users.kill('SIGTERM');
    expect(await users.exited).toBe(0);
    const database = join(checkout, 'data', 'stephook.sqlite');
    const before = sha256(database);
    const fingerprint = fingerprintUserFiles(checkout);

    // A test's server, started the way every test starts one, in that very directory.
    const server = await ServerProcess.start(
      { DATABASE_URL: 'sqlite::memory:', STEP_COMPLETE_WEBHOOK: testReceiver.url() },
      { cwd: checkout },
    );
    const stepId = await completeOneStep(server.baseUrl);
    await testReceiver.waitForRequests(1);
    server.kill('SIGTERM');
    expect(await server.exited).toBe(0);

    expect(sha256(database)).toBe(before);
    expect(fingerprintUserFiles(checkout)).toEqual(fingerprint);
    expect(testReceiver.requests.map((r) => r.rawBody.toString())).toEqual([
      JSON.stringify({ step_id: stepId }),
    ]);
    expect(userReceiver.requests).toHaveLength(1); // only the user's own step, from their run
  });

  it('the run-wide guard fails when the user’s database was created, changed or deleted', () => {
    const state = globalThis as { stephookUserFiles?: unknown };
    const database = join(checkout, 'data', 'stephook.sqlite');
    const check = (change: () => void) => {
      delete state.stephookUserFiles;
      guardUserFiles({ rootDir: checkout }); // before the run
      change();
      return () => guardUserFiles({ rootDir: checkout }); // after it
    };
    try {
      expect(check(() => undefined)).not.toThrow();
      expect(
        check(() => {
          mkdirSync(join(checkout, 'data'));
          writeFileSync(database, 'steps');
        }),
      ).toThrow('data/stephook.sqlite was created');
      expect(check(() => writeFileSync(database, 'steps+1'))).toThrow(
        'data/stephook.sqlite was modified',
      );
      expect(check(() => writeFileSync(`${database}-wal`, ''))).toThrow(
        'data/stephook.sqlite-wal was created',
      );
      expect(check(() => rmSync(database))).toThrow('data/stephook.sqlite was deleted');
    } finally {
      delete state.stephookUserFiles;
    }
  });
});
