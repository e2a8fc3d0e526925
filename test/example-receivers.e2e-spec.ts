import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, Server } from 'node:net';
import { createRequire } from 'node:module';
import { parseSigningSecrets } from '../src/config/signing-secrets.js';
import { parseWebhookConfig } from '../src/config/webhook.config.js';
import { buildWebhookHeaders } from '../src/webhook/sender/webhook-request.js';
import { withDeadline } from './helpers/deadline.js';
import { ROOT, ScriptProcess } from './helpers/script-process.js';
import { StepsApi } from './helpers/steps-api.js';
import { createTestApp, TestApp } from './helpers/test-app.js';

const REFERENCE_RECEIVER = 'examples/receiver/dist/examples/receiver/main.js';
const PRINT_RECEIVER = 'examples/print-receiver.mjs';
const FIRST_LINE =
  /^(?:\S+ )?point stephook here: STEP_COMPLETE_WEBHOOK=(http:\/\/127\.0\.0\.1:(\d+)\/hook)$/;
const whsec = (bytes: number) => `whsec_${randomBytes(bytes).toString('base64')}`;
// A secret as the user makes one (scripts/secret.mjs, behind npm run secret).
const GOOD = execFileSync(process.execPath, ['scripts/secret.mjs'], {
  cwd: ROOT,
  encoding: 'utf8',
}).trim();

/** The URL a receiver's first line tells the user to give stephook; never port 0. */
async function listeningUrl(receiver: ScriptProcess): Promise<string> {
  const line = await receiver.waitForLine((text) => FIRST_LINE.test(text), 'the first line');
  expect(receiver.stdoutLines[0]).toBe(line);
  const [, url, port] = FIRST_LINE.exec(line)!;
  expect(Number(port)).toBeGreaterThan(0);
  return url;
}

/** A port something else already holds. */
async function heldPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as { port: number }).port, server };
}

/** The examples run as the user runs them: child processes, real HTTP, real stephook. */
describe('Example receivers (e2e)', () => {
  const running: ScriptProcess[] = [];
  const start = (command: string, args: string[], env: Record<string, string>) => {
    const child = ScriptProcess.spawn(command, args, env);
    running.push(child);
    return child;
  };

  afterEach(async () => {
    await Promise.all(running.splice(0).map((child) => child.stop()));
  });

  describe('the reference receiver (npm run example:receiver)', () => {
    // What `npm run example:receiver` builds before it runs.
    beforeAll(() => {
      const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
      execFileSync(process.execPath, [tsc, '-p', 'examples/receiver/tsconfig.json'], { cwd: ROOT });
    }, 60_000);

    const receiver = (env: Record<string, string>) =>
      start(process.execPath, [REFERENCE_RECEIVER], { RECEIVER_PORT: '0', ...env });

    const tooShortOrLong = (index: number, bytes: number) =>
      `secret #${index} must be 24 to 64 bytes in base64, got ${bytes} (npm run -s secret makes one)`;
    const refused = (problem: string) =>
      `receiver: invalid configuration: STEP_COMPLETE_SECRET ${problem}`;

    // The receiver runs stephook's own rule (src/config/signing-secrets.ts), so every row is decided
    // alike by both: whsec_ and 24 to 64 bytes of base64, as Standard Webhooks asks; padding optional.
    it.each<[string, string, string | null]>([
      ['the README placeholder', 'whsec_…', 'secret #1 must look like whsec_<base64>'],
      ['no whsec_ prefix', 'mysecret', 'secret #1 must look like whsec_<base64>'],
      ['the prefix alone', 'whsec_', 'secret #1 must look like whsec_<base64>'],
      ['characters outside base64', 'whsec_!!!', 'secret #1 must look like whsec_<base64>'],
      ['URL-safe base64', 'whsec_ab-_cd', 'secret #1 must look like whsec_<base64>'],
      [
        'two secrets, the second bad',
        `${GOOD} mysecret`,
        'secret #2 must look like whsec_<base64>',
      ],
      ['base64 of zero bytes', 'whsec_A', tooShortOrLong(1, 0)],
      ['base64 without its padding', GOOD.replace(/=+$/, ''), null],
      ['3 bytes, below the 24 Standard Webhooks asks for', 'whsec_AAAA', tooShortOrLong(1, 3)],
      ['23 bytes', whsec(23), tooShortOrLong(1, 23)],
      ['24 bytes, the least', whsec(24), null],
      ['64 bytes, the most', whsec(64), null],
      ['65 bytes', whsec(65), tooShortOrLong(1, 65)],
      ['100 bytes, above the 64 Standard Webhooks asks for', whsec(100), tooShortOrLong(1, 100)],
      ['a secret from npm run secret', GOOD, null],
      ['one captured with $(…): spaces and a newline', `  ${GOOD}\n`, null],
      ['two good ones (rotation)', `${whsec(24)} ${GOOD}`, null],
    ])('STEP_COMPLETE_SECRET = %s', async (_case, secret, problem) => {
      const child = receiver({ STEP_COMPLETE_SECRET: secret });
      const stephookParse = () => parseWebhookConfig({ STEP_COMPLETE_SECRET: secret });

      if (problem !== null) {
        await expect(withDeadline(child.exited, 'the receiver to exit', 20_000)).resolves.toBe(1);
        expect(child.stderr).toBe(`${refused(problem)}\n`);
        expect(child.stdout).toBe('');
        expect(stephookParse).toThrow(`STEP_COMPLETE_SECRET ${problem}`);
        return;
      }
      expect(stephookParse).not.toThrow();
      // What stephook signs with these secrets, the receiver verifies.
      const url = await listeningUrl(child);
      const body = '{"step_id":"step-7b0c2a54-3f4e-4d6a-9c1b-2e8f5a6d7c90"}';
      const headers = buildWebhookHeaders({
        deliveryId: 'msg_0123456789abcdef0123456789abcdef',
        attemptAt: new Date(),
        body,
        key: undefined,
        signingSecrets: parseSigningSecrets(secret.trim()),
      });
      expect((await fetch(url, { method: 'POST', headers, body })).status).toBe(204);
      await child.waitForLine(
        (line) =>
          line.endsWith(`completed (webhook-id msg_0123456789abcdef0123456789abcdef) ${body}`),
        'the receiver to handle the event',
      );
      expect(child.stderr).toBe('');
    });

    it('runs from package.json on a fresh build, and refuses with one line and exit code 1', async () => {
      const child = start('npm', ['run', '-s', 'example:receiver'], {
        STEP_COMPLETE_SECRET: 'whsec_…',
      });

      await expect(withDeadline(child.exited, 'npm run to exit', 60_000)).resolves.toBe(1);
      expect(child.stderr).toBe(`${refused('secret #1 must look like whsec_<base64>')}\n`);
    }, 70_000);

    it('says when RECEIVER_PORT is not a port or is taken, in one line', async () => {
      const bad = receiver({ RECEIVER_PORT: 'http' });
      await expect(withDeadline(bad.exited, 'the receiver to exit', 20_000)).resolves.toBe(1);
      expect(bad.stderr).toBe(
        'receiver: invalid configuration: RECEIVER_PORT must be a whole number, got "http"\n',
      );

      const held = await heldPort();
      try {
        const taken = receiver({ RECEIVER_PORT: String(held.port) });
        await expect(withDeadline(taken.exited, 'the receiver to exit', 20_000)).resolves.toBe(1);
        expect(taken.stderr).toBe(
          `receiver: port ${held.port} is in use; set RECEIVER_PORT to a free one\n`,
        );
      } finally {
        held.server.close();
      }
    });

    it('without a secret, warns after the first line and still answers a bare JSON null with 400', async () => {
      const child = receiver({});
      const url = await listeningUrl(child);
      await child.waitForLine(
        (line) =>
          line.endsWith('warning: STEP_COMPLETE_SECRET is empty, so signatures are not checked'),
        'the warning',
      );

      const response = await withDeadline(
        fetch(url, { method: 'POST', headers: { 'webhook-id': 'msg_1' }, body: 'null' }),
        'an answer to a null body',
        10_000,
      );
      expect(response.status).toBe(400);
      expect(await response.text()).toBe('not a stephook event');
    });
  });

  describe('the print receiver (node examples/print-receiver.mjs)', () => {
    let t: TestApp | undefined;
    afterEach(async () => {
      await t?.close();
      t = undefined;
    });

    const receiver = (env: Record<string, string>) =>
      start(process.execPath, [PRINT_RECEIVER], env);

    it('listens on RECEIVER_PORT, not on stephook’s PORT, and prints what stephook sends', async () => {
      // PORT names a port that is taken: a receiver that read it could not start.
      const held = await heldPort();
      try {
        const child = receiver({ RECEIVER_PORT: '0', PORT: String(held.port) });
        const url = await listeningUrl(child);
        expect(url).not.toContain(`:${held.port}/`);

        t = await createTestApp({
          STEP_COMPLETE_WEBHOOK: url,
          STEP_COMPLETE_RETRY_SCHEDULE: 'none',
        });
        const step = await new StepsApi(t.server).create();
        await new StepsApi(t.server).complete(step.id, 'success').expect(200);

        const expected = `POST /hook authorization=- user-agent=stephook/0.1.0 body={"step_id":"${step.id}"}`;
        await child.waitForLine((line) => line === expected, 'the printed delivery');
        expect(child.stdoutLines.slice(1)).toEqual([expected]);
      } finally {
        held.server.close();
      }
    });

    it.each([
      ['not a number', 'http', 'RECEIVER_PORT must be a port number from 0 to 65535, got "http"'],
      ['above 65535', '70000', 'RECEIVER_PORT must be a port number from 0 to 65535, got "70000"'],
    ])(
      'refuses a RECEIVER_PORT that is %s, in one line with exit code 1',
      async (_case, port, line) => {
        const child = receiver({ RECEIVER_PORT: port });
        await expect(withDeadline(child.exited, 'the receiver to exit', 20_000)).resolves.toBe(1);
        expect(child.stderr).toBe(`print-receiver: ${line}\n`);
      },
    );

    it('says when RECEIVER_PORT is taken, in one line with exit code 1', async () => {
      const held = await heldPort();
      try {
        const child = receiver({ RECEIVER_PORT: String(held.port) });
        await expect(withDeadline(child.exited, 'the receiver to exit', 20_000)).resolves.toBe(1);
        expect(child.stderr).toBe(
          `print-receiver: port ${held.port} is in use; set RECEIVER_PORT to a free one\n`,
        );
      } finally {
        held.server.close();
      }
    });
  });
});
