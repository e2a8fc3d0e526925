// Run: npm run example:receiver   (RECEIVER_PORT, STEP_COMPLETE_KEY and STEP_COMPLETE_SECRET as for stephook)
import { StepReceiver } from './step-receiver.js';

const port = Number(process.env.RECEIVER_PORT ?? 4000);
const secrets = (process.env.STEP_COMPLETE_SECRET ?? '').split(/\s+/).filter(Boolean);
const print = (line: string): void => {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
};

const receiver = new StepReceiver({
  key: process.env.STEP_COMPLETE_KEY || undefined,
  secrets,
  // The real work goes here: bill usage, update a dashboard, alert on failures...
  handle: (event) =>
    print(
      `step ${event.stepId} completed (webhook-id ${event.webhookId}) ${JSON.stringify(event.payload)}`,
    ),
  onError: (error, event) => print(`handling ${event.webhookId} failed: ${String(error)}`),
});
if (secrets.length === 0)
  print('warning: STEP_COMPLETE_SECRET is empty, so signatures are not checked');
receiver.server.listen(port, '127.0.0.1', () =>
  print(`receiving on http://127.0.0.1:${port}/hook`),
);
