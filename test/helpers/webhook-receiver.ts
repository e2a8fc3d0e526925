import { once } from 'node:events';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { DEFAULT_WAIT_MS, Waiters } from './deadline.js';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** The body exactly as it arrived on the wire. */
  rawBody: Buffer;
  /** When its body had arrived (Date.now()). */
  receivedAt: number;
  /** The status it was answered with, once answered; a request its sender gave up on has none. */
  answeredWith?: number;
  /** When it was over: answered, or given up on by its sender (Date.now()). */
  closedAt?: number;
}

/** How the receiver answers one request; `hang` never answers; `hold` answers on `release()`. */
export type Reply =
  | { status: number; body?: string; headers?: Record<string, string>; delayMs?: number }
  | { hang: true }
  | { hold: true };

/**
 * A real HTTP server on 127.0.0.1 with an ephemeral port that records every request and answers
 * as the test says. Tests wait on `waitForRequests`, never on a sleep.
 */
export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly waiters = new Waiters<ReceivedRequest[]>();
  private replies: Reply[] = [];
  private readonly held: { response: ServerResponse; received: ReceivedRequest }[] = [];
  /** The most requests that were ever held open at once (by senders still waiting). */
  maxHeld = 0;
  private defaultReply: Reply = { status: 200, body: 'ok' };

  private constructor() {
    this.server = createServer((request, response) => this.handle(request, response));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** Listens on `port`, or on a free one when it is 0. */
  static async start(port = 0): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    receiver.server.listen(port, '127.0.0.1');
    await once(receiver.server, 'listening');
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Answer every request with this from now on. */
  replyWith(reply: Reply): this {
    this.defaultReply = reply;
    return this;
  }

  /** Answer the next requests with these, in order, then fall back to the default reply. */
  replyInTurn(...replies: Reply[]): this {
    this.replies.push(...replies);
    return this;
  }

  /** Answers every held request with `status`. */
  release(status = 200): void {
    for (const { response, received } of this.held.splice(0)) {
      response.writeHead(status).end();
      received.answeredWith = status;
    }
  }

  requestsTo(path: string): ReceivedRequest[] {
    return this.requests.filter((request) => request.path === path);
  }

  waitForRequests(count: number, ms = DEFAULT_WAIT_MS): Promise<void> {
    return this.waitUntil(
      (requests) => requests.length >= count,
      `${count} webhook request(s)`,
      ms,
    );
  }

  /** Resolves once `done` holds for the requests received so far (checked on each arrival). */
  async waitUntil(
    done: (requests: ReceivedRequest[]) => boolean,
    what = 'the expected webhook requests',
    ms = DEFAULT_WAIT_MS,
  ): Promise<void> {
    if (done(this.requests)) return;
    await this.waiters.wait(done, what, ms).catch((error: Error) => {
      throw new Error(`${error.message} (${this.requests.length} received)`);
    });
  }

  /** Drops every open connection, hung ones included, and stops listening. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
    await once(this.server, 'close');
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const reply = this.replies.shift() ?? this.defaultReply;
      const received: ReceivedRequest = {
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        rawBody: Buffer.concat(chunks),
        receivedAt: Date.now(),
      };
      this.requests.push(received);
      response.once('close', () => (received.closedAt = Date.now()));
      if ('hold' in reply) {
        const entry = { response, received };
        this.held.push(entry);
        this.maxHeld = Math.max(this.maxHeld, this.held.length);
        // A request its sender gave up on (a timeout) is held no longer.
        response.once('close', () => {
          const index = this.held.indexOf(entry);
          if (index >= 0) this.held.splice(index, 1);
        });
      } else if (!('hang' in reply)) {
        const answer = () => {
          response.writeHead(reply.status, reply.headers).end(reply.body ?? '');
          received.answeredWith = reply.status;
        };
        if (reply.delayMs) setTimeout(answer, reply.delayMs);
        else answer();
      }
      this.waiters.observe(this.requests);
    });
  }
}
