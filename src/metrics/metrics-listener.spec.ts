import { EventEmitter, once } from 'node:events';
import { createServer, Server } from 'node:http';
import { createServer as createTcpServer, Server as TcpServer } from 'node:net';
import { RecordingLogger } from '../../test/helpers/recording-logger.js';
import { MetricsListener, MetricsListenError } from './metrics-listener.js';

const HOST = '127.0.0.1';

/** A port held by another listener, as a first worker holds 9464. */
async function occupiedPort(): Promise<{ holder: TcpServer; port: number }> {
  const holder = createTcpServer().listen(0, HOST);
  await once(holder, 'listening');
  return { holder, port: (holder.address() as { port: number }).port };
}

const close = (server: Server | TcpServer) =>
  new Promise<void>((resolve) => server.close(() => resolve()));

describe(MetricsListener.name, () => {
  let server: Server;
  let logs: RecordingLogger;

  beforeEach(() => {
    server = createServer((_request, response) => response.end('ok'));
    logs = new RecordingLogger();
  });
  afterEach(async () => {
    if (server.listening) await close(server);
  });

  it('listens on a free port, leaving it to the worker’s start line to say where', async () => {
    const { holder, port } = await occupiedPort();
    await close(holder);
    const sut = new MetricsListener(server, port, HOST, logs);

    await expect(sut.start()).resolves.toBe('listening');
    expect(await (await fetch(`http://${HOST}:${port}/`)).text()).toBe('ok');
    expect(logs.entries).toEqual([]);
    sut.stop();
  });

  it('a taken port: one warning naming METRICS_PORT, no stack, quiet retries, then takes the port over', async () => {
    const { holder, port } = await occupiedPort();
    const sut = new MetricsListener(server, port, HOST, logs, 50);

    await expect(sut.start()).resolves.toBe('port-taken');
    // Several retries find it still taken and say nothing more.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const warnings = logs.entries.filter((entry) => entry.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toMatch(/^METRICS_PORT \d+ is already in use on 127\.0\.0\.1 /);
    expect(warnings[0].message).toContain('keeps delivering');
    expect(warnings[0].message).not.toMatch(/\n|\bat .*:\d+:\d+/);
    expect(logs.entries).toHaveLength(1);

    await close(holder); // the worker holding it stops
    await logs.waitFor(
      (entry) => entry.message === `stephook worker metrics on http://${HOST}:${port}/metrics`,
      'the listener to take the port over',
      5_000,
    );
    const answer = await fetch(`http://${HOST}:${port}/`);
    expect(await answer.text()).toBe('ok');
    expect(logs.entries.filter((entry) => entry.level === 'warn')).toHaveLength(1);
    sut.stop();
  });

  it('after stop() it no longer tries the port', async () => {
    const { holder, port } = await occupiedPort();
    const sut = new MetricsListener(server, port, HOST, logs, 50);
    await expect(sut.start()).resolves.toBe('port-taken');

    sut.stop();
    await close(holder);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.listening).toBe(false);
  });

  it('an address that is not this machine’s is not retried: it rejects naming HOST', async () => {
    // 192.0.2.0/24 is reserved for documentation: no machine has it.
    const sut = new MetricsListener(server, 9464, '192.0.2.1', logs, 50);

    const error = await sut.start().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MetricsListenError);
    expect(error).toMatchObject({
      code: 'EADDRNOTAVAIL',
      message:
        'HOST 192.0.2.1 is not an address of this machine (EADDRNOTAVAIL): cannot serve METRICS_PORT 9464 there',
    });
    expect(logs.entries).toHaveLength(0);
  });

  it('a privileged port (EACCES) rejects naming METRICS_PORT', async () => {
    // Tests may run as root, where binding port 80 succeeds: the refusal is the one thing faked.
    const refusing = Object.assign(new EventEmitter(), {
      listen(this: EventEmitter) {
        const error = Object.assign(new Error('listen EACCES: permission denied 127.0.0.1:80'), {
          code: 'EACCES',
        });
        process.nextTick(() => this.emit('error', error));
        return this;
      },
    }) as unknown as Server;
    const sut = new MetricsListener(refusing, 80, HOST, logs);

    await expect(sut.start()).rejects.toThrow(
      'METRICS_PORT 80: permission denied on 127.0.0.1 (EACCES; ports below 1024 need privileges)',
    );
    expect(logs.entries).toHaveLength(0);
  });
});
