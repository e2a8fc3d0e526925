// Run: npm run example:receiver
// STEP_COMPLETE_KEY and STEP_COMPLETE_SECRET as for stephook (read by stephook's own rules), and
// RECEIVER_PORT (default 4000; 0 picks a free port): not PORT, which is stephook's.
import type { AddressInfo } from 'node:net';
import {
  ConfigValidationError,
  Env,
  readHeaderKey,
  readInteger,
  readVar,
} from '../../src/config/env.js';
import { parseSigningSecrets } from '../../src/config/signing-secrets.js';
import { StepReceiver } from './step-receiver.js';

function readReceiverConfig(env: Env) {
  return {
    port: readInteger(env, 'RECEIVER_PORT', 4000, { min: 0, max: 65_535 }),
    key: readHeaderKey(env, 'STEP_COMPLETE_KEY'),
    signingKeys: parseSigningSecrets(readVar(env, 'STEP_COMPLETE_SECRET')),
  };
}

function stop(line: string): never {
  process.stderr.write(`receiver: ${line}\n`);
  process.exit(1);
}

const print = (line: string): void => {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
};

let config: ReturnType<typeof readReceiverConfig>;
try {
  config = readReceiverConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigValidationError)) throw error;
  stop(`invalid configuration: ${error.message}`);
}

const receiver = new StepReceiver({
  key: config.key,
  signingKeys: config.signingKeys,
  // The real work goes here: bill usage, update a dashboard, alert on failures...
  handle: (event) =>
    print(
      `step ${event.stepId} completed (webhook-id ${event.webhookId}) ${JSON.stringify(event.payload)}`,
    ),
  onError: (error, event) => print(`handling ${event.webhookId} failed: ${String(error)}`),
});
receiver.server.once('error', (error: NodeJS.ErrnoException) =>
  stop(
    error.code === 'EADDRINUSE'
      ? `port ${config.port} is in use; set RECEIVER_PORT to a free one`
      : `cannot listen on port ${config.port}: ${error.message}`,
  ),
);
receiver.server.listen(config.port, '127.0.0.1', () => {
  const { port } = receiver.server.address() as AddressInfo;
  print(`point stephook here: STEP_COMPLETE_WEBHOOK=http://127.0.0.1:${port}/hook`);
  if (config.signingKeys.length === 0)
    print('warning: STEP_COMPLETE_SECRET is empty, so signatures are not checked');
});
