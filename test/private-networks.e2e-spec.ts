import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { DeliveryWithAttemptsJson } from '../src/webhook/deliveries/delivery.presenter.js';
import { CountingProxy } from './helpers/counting-proxy.js';
import { eventually } from './helpers/deadline.js';
import { ensureBuilt, ServerProcess } from './helpers/server-process.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';

const ROOT = new URL('..', import.meta.url).pathname;

/** Why a network namespace with only loopback cannot be made here, or null when it can. */
function isolationUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  try {
    execFileSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up'], { stdio: 'ignore' });
    return null;
  } catch (error) {
    return `unshare -n failed: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** SPEC §9 "Private networks", through the built server and the whole app. */
describe('Private networks (e2e)', () => {
  beforeAll(() => ensureBuilt(), 120_000);

  /**
   * The tester's report: with HTTP_PROXY set, `http://localhost:…` went to the proxy. Every target
   * here is on loopback, so this runs in the machine's own network.
   */
  it('never lets an environment proxy carry an API endpoint; the environment endpoint still uses it', async () => {
    const receiver = await WebhookReceiver.start();
    const proxy = await CountingProxy.start();
    const variables = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'ALL_PROXY'];
    const envUrl = `http://localhost:${receiver.port}/env`;
    const server = await ServerProcess.start({
      DATABASE_URL: 'sqlite::memory:',
      STEP_COMPLETE_WEBHOOK: envUrl,
      STEP_COMPLETE_RETRY_SCHEDULE: 'none',
      ...Object.fromEntries(variables.map((name) => [name, proxy.url])),
    });
    const post = (path: string, body: object = {}) =>
      fetch(`${server.baseUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    try {
      const url = `http://localhost:${receiver.port}/api`;
      const endpoint = (await (await post('/v1/webhook-endpoints', { url })).json()) as {
        id: string;
      };
      const step = (await (await post('/v1/steps')).json()) as { id: string };
      expect((await post(`/v1/steps/${step.id}/success`)).status).toBe(200);

      let deliveries: DeliveryWithAttemptsJson[] = [];
      await eventually(
        async () => {
          const response = await fetch(`${server.baseUrl}/v1/steps/${step.id}/deliveries`);
          deliveries = (await response.json()) as DeliveryWithAttemptsJson[];
          return deliveries.length === 2 && deliveries.every((d) => d.status !== 'pending');
        },
        'both deliveries have settled',
        20_000,
      );

      const api = deliveries.find((delivery) => delivery.endpoint_id === endpoint.id);
      expect(api).toMatchObject({ status: 'failed', last_outcome: 'network_error' });
      expect(api?.last_error).toContain(': a loopback address');
      // The proxy was live in the process: it carried the operator's endpoint, as before.
      expect(deliveries.find((d) => d.endpoint_id === 'env')).toMatchObject({
        status: 'delivered',
      });
      expect(proxy.requests).toEqual([`POST ${envUrl}`]);
      expect(receiver.requests).toHaveLength(0);
    } finally {
      server.kill('SIGKILL');
      await server.exited;
      await Promise.all([proxy.close(), receiver.close()]);
    }
  });

  /**
   * The forms that would leave the machine were the guard to fail (NAT64, 6to4, Teredo, shared …)
   * run in a network namespace with only loopback: test/private-networks.netns-check.ts, through
   * Jest inside `unshare -n`.
   */
  const unavailable = isolationUnavailable();
  const isolated = unavailable ? it.skip : it;
  isolated(
    `refuses every non-global form inside an isolated network namespace${
      unavailable ? ` (skipped: ${unavailable})` : ''
    }`,
    async () => {
      const child = spawn(
        'unshare',
        [
          '-n',
          'sh',
          '-c',
          'ip link set lo up && exec "$0" --experimental-vm-modules node_modules/jest/bin/jest.js ' +
            '--ci --runInBand --testRegex "netns-check\\.ts$" test/private-networks.netns-check.ts',
          process.execPath,
        ],
        { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME } },
      );
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      const [code] = (await once(child, 'exit')) as [number | null];
      // On failure, the inner run's report is what the assertion shows.
      expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });
      // 1 app-level test over every form, 12 DNS answers, 1 proxy test: all of them ran.
      expect(output).toMatch(/Tests:\s+15 passed, 15 total/);
    },
    240_000,
  );
});
