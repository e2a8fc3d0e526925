import { Webhook } from 'standardwebhooks';
import { parseSigningSecrets } from '../src/config/signing-secrets.js';
import { parseWebhookConfig } from '../src/config/webhook.config.js';
import { buildWebhookHeaders } from '../src/webhook/sender/webhook-request.js';
import { withDeadline } from './helpers/deadline.js';
import { ScriptProcess } from './helpers/script-process.js';

/** `npm run secret` as a user runs it on a fresh clone: no build, plain node. */
describe('npm run secret (e2e)', () => {
  async function run(args: string[]) {
    const child = ScriptProcess.spawn('npm', args);
    const code = await withDeadline(child.exited, `npm ${args.join(' ')} to exit`, 30_000);
    return { code, stdout: child.stdout, stderr: child.stderr };
  }

  it('with -s prints one whsec_ secret of 32 random bytes and nothing else, for $(…) to capture', async () => {
    const first = await run(['run', '-s', 'secret']);
    const second = await run(['run', '-s', 'secret']);

    expect(first).toEqual({
      code: 0,
      stdout: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=\n$/),
      stderr: '',
    });
    expect(second.stdout).not.toBe(first.stdout);
    const secret = first.stdout.trim();
    const [key] = parseSigningSecrets(secret);
    expect(key).toHaveLength(32);
    expect(parseWebhookConfig({ STEP_COMPLETE_SECRET: secret }).signingSecrets).toEqual([key]);
  });

  it('makes a secret the standardwebhooks library verifies what stephook signs with', async () => {
    const { stdout } = await run(['run', '-s', 'secret']);
    const secret = stdout.trim();
    const body = '{"step_id":"step-7b0c2a54-3f4e-4d6a-9c1b-2e8f5a6d7c90"}';
    const headers = buildWebhookHeaders({
      deliveryId: 'msg_0123456789abcdef0123456789abcdef',
      attemptAt: new Date(),
      body,
      key: undefined,
      signingSecrets: parseSigningSecrets(secret),
    });

    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('without -s, npm’s own lines come first on stdout, and the script says to use -s', async () => {
    const { code, stdout, stderr } = await run(['run', 'secret']);

    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('> stephook@0.1.0 secret');
    expect(lines.at(-1)).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(stderr).toBe(
      'secret: npm printed its own lines on stdout before the secret; to capture only the secret, use npm run -s secret\n',
    );
  });
});
