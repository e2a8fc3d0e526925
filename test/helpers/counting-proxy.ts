import { once } from 'node:events';
import { createServer, Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A stand-in for an HTTP proxy on 127.0.0.1: it records every request it is asked to carry
 * (absolute-form `POST http://…` and `CONNECT host:port`) and answers 200 itself, forwarding
 * nothing, so a test can count what a client sent through it without any traffic leaving.
 */
export class CountingProxy {
  /** `METHOD target` of each request, in arrival order. */
  readonly requests: string[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {
    server.on('request', (request, response) => {
      this.requests.push(`${request.method} ${request.url}`);
      request.resume();
      request.on('end', () => response.writeHead(200).end('proxied'));
    });
    server.on('connect', (request, socket: Socket) => {
      this.requests.push(`CONNECT ${request.url}`);
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    });
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  static async start(): Promise<CountingProxy> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new CountingProxy(server);
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
    await once(this.server, 'close');
  }
}
