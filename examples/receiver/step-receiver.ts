// A reference receiver for stephook's step-completion webhook: what a production endpoint should do.
// It checks the Bearer key in constant time, verifies the Standard Webhooks signature (which also
// rejects stale timestamps), drops duplicates by webhook-id, answers 204 at once and does the real
// work after answering, so stephook never waits on it.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';

export interface StepCompleted {
  webhookId: string;
  stepId: string;
  /** The whole body: `{"step_id"}`, or more with STEP_COMPLETE_PAYLOAD=full. */
  payload: Record<string, unknown>;
}

export interface StepReceiverOptions {
  /** STEP_COMPLETE_KEY: when set, requests must carry `Authorization: Bearer <key>`. */
  key?: string;
  /**
   * The raw keys of STEP_COMPLETE_SECRET as stephook decodes them (`parseSigningSecrets`); a
   * signature made with any of them is accepted. None: signatures are not checked.
   */
  signingKeys: Uint8Array[];
  /** The work to do for each new event; runs after the 204 has been sent. */
  handle: (event: StepCompleted) => Promise<void> | void;
  /** How many recent webhook-ids to remember for dedupe. */
  rememberIds?: number;
  /** Where errors of `handle` go. */
  onError?: (error: unknown, event: StepCompleted) => void;
}

export interface ReceiverStats {
  accepted: number;
  duplicates: number;
  rejected: number;
}

const MAX_BODY_BYTES = 64 * 1024;

export class StepReceiver {
  readonly server: Server;
  readonly stats: ReceiverStats = { accepted: 0, duplicates: 0, rejected: 0 };
  private readonly verifiers: Webhook[];
  private readonly keyDigest: Buffer | null;
  /** Insertion-ordered, so the oldest id is the first to forget. */
  private readonly seen = new Set<string>();

  constructor(private readonly options: StepReceiverOptions) {
    this.verifiers = options.signingKeys.map((key) => new Webhook(key, { format: 'raw' }));
    this.keyDigest = options.key ? sha256(options.key) : null;
    this.server = createServer((request, response) => void this.receive(request, response));
  }

  private async receive(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'POST') return this.reject(response, 405, 'POST only');
    if (this.keyDigest && !this.hasKey(request.headers.authorization)) {
      return this.reject(response, 401, 'missing or wrong Bearer key');
    }
    const body = await readBody(request);
    if (body === null) return this.reject(response, 413, 'body too large');

    const headers = {
      'webhook-id': String(request.headers['webhook-id'] ?? ''),
      'webhook-timestamp': String(request.headers['webhook-timestamp'] ?? ''),
      'webhook-signature': String(request.headers['webhook-signature'] ?? ''),
    };
    let payload: unknown;
    try {
      payload = this.verify(body, headers);
    } catch (error) {
      return this.reject(response, 400, `rejected: ${(error as Error).message}`);
    }
    const webhookId = headers['webhook-id'];
    if (!webhookId || !isStepPayload(payload))
      return this.reject(response, 400, 'not a stephook event');

    // Answer first: stephook counts a slow answer as a failure and retries.
    response.writeHead(204).end();
    if (this.remember(webhookId)) {
      this.stats.duplicates += 1;
      return;
    }
    this.stats.accepted += 1;
    const event = { webhookId, stepId: payload.step_id, payload };
    setImmediate(() => {
      Promise.resolve()
        .then(() => this.options.handle(event))
        .catch((error: unknown) => this.options.onError?.(error, event));
    });
  }

  /** Any configured secret may have signed it (rotation). Throws when none did, or when it is stale. */
  private verify(body: string, headers: Record<string, string>): unknown {
    if (this.verifiers.length === 0) return JSON.parse(body);
    let lastError: unknown;
    for (const verifier of this.verifiers) {
      try {
        return verifier.verify(body, headers);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  private hasKey(header: string | undefined): boolean {
    const match = /^Bearer (.+)$/.exec(header ?? '');
    return match !== null && timingSafeEqual(sha256(match[1]), this.keyDigest!);
  }

  /** True when the id was seen before; remembers it otherwise. */
  private remember(webhookId: string): boolean {
    if (this.seen.has(webhookId)) return true;
    this.seen.add(webhookId);
    if (this.seen.size > (this.options.rememberIds ?? 100_000)) {
      this.seen.delete(this.seen.values().next().value as string);
    }
    return false;
  }

  private reject(response: ServerResponse, status: number, reason: string): void {
    this.stats.rejected += 1;
    response.writeHead(status, { 'content-type': 'text/plain' }).end(reason);
  }
}

/** A JSON object with a string `step_id` (`null`, a number or a list are not events). */
function isStepPayload(payload: unknown): payload is { step_id: string } & Record<string, unknown> {
  return (
    typeof payload === 'object' &&
    payload !== null &&
    typeof (payload as Record<string, unknown>).step_id === 'string'
  );
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

async function readBody(request: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
