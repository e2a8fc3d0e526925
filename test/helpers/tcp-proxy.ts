import { once } from 'node:events';
import { connect, createServer, Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket | null;
  /** Bytes held while frozen, per direction, forwarded in order on `heal`. */
  toUpstream: Buffer[];
  toClient: Buffer[];
}

/**
 * A TCP proxy on 127.0.0.1 between stephook and a dependency (PostgreSQL, Redis), for fault tests:
 * - `freeze()`: traffic is held and sockets stay open, as in a network partition or a stalled
 *   server; new connections are accepted and held too. `heal()` lets everything through again.
 * - `reset()`: every connection is reset (RST) and new ones are refused until `heal()`.
 */
export class TcpProxy {
  private readonly pairs = new Set<Pair>();
  private server: Server;
  private frozen = false;
  private refusing = false;
  private portNumber = 0;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.server = this.newServer();
  }

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target.host, target.port);
    proxy.server.listen(0, '127.0.0.1');
    await once(proxy.server, 'listening');
    proxy.portNumber = (proxy.server.address() as AddressInfo).port;
    return proxy;
  }

  get port(): number {
    return this.portNumber;
  }

  freeze(): void {
    this.frozen = true;
  }

  reset(): void {
    this.refusing = true;
    this.server.close();
    for (const pair of this.pairs) this.drop(pair);
  }

  async heal(): Promise<void> {
    this.frozen = false;
    if (this.refusing) {
      this.refusing = false;
      this.server = this.newServer();
      this.server.listen(this.portNumber, '127.0.0.1');
      await once(this.server, 'listening');
    }
    for (const pair of this.pairs) {
      if (!pair.upstream) this.connectUpstream(pair);
      this.flush(pair);
    }
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) this.drop(pair);
    if (this.server.listening) {
      this.server.close();
      await once(this.server, 'close');
    }
  }

  private newServer(): Server {
    return createServer((client) => this.accept(client));
  }

  private accept(client: Socket): void {
    const pair: Pair = { client, upstream: null, toUpstream: [], toClient: [] };
    this.pairs.add(pair);
    client.on('data', (chunk: Buffer) => {
      pair.toUpstream.push(chunk);
      this.flush(pair);
    });
    client.on('error', () => this.drop(pair));
    client.on('close', () => this.drop(pair));
    if (!this.frozen) this.connectUpstream(pair);
  }

  private connectUpstream(pair: Pair): void {
    const upstream = connect(this.targetPort, this.targetHost);
    pair.upstream = upstream;
    upstream.on('data', (chunk: Buffer) => {
      pair.toClient.push(chunk);
      this.flush(pair);
    });
    upstream.on('error', () => this.drop(pair));
    upstream.on('close', () => this.drop(pair));
    upstream.on('connect', () => this.flush(pair));
  }

  private flush(pair: Pair): void {
    if (this.frozen || !this.pairs.has(pair)) return;
    const upstream = pair.upstream;
    if (upstream && !upstream.connecting) {
      for (const chunk of pair.toUpstream.splice(0)) upstream.write(chunk);
    }
    for (const chunk of pair.toClient.splice(0)) pair.client.write(chunk);
  }

  private drop(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.client.resetAndDestroy();
    pair.upstream?.resetAndDestroy();
  }
}
