import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { MetricsModule } from './metrics.module.js';
import { StephookMetrics } from './stephook-metrics.js';

/** Reads one sample of a Prometheus text exposition. */
function sample(metrics: string, name: string, labels: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe(StephookMetrics.name, () => {
  async function boot(): Promise<{ sut: StephookMetrics; close: () => Promise<void> }> {
    const moduleRef = await Test.createTestingModule({ imports: [MetricsModule] }).compile();
    const app = moduleRef.createNestApplication(new FastifyAdapter(), { logger: false });
    await app.init();
    return { sut: app.get(StephookMetrics), close: () => app.close() };
  }

  it('shows each known endpoint’s breaker at scrape time, and drops an endpoint that is gone', async () => {
    const { sut, close } = await boot();
    let endpoints = [
      { id: 'env', breakerOpen: false },
      { id: 'ep_0f1e2d3c4b5a69788796a5b4c3d2e1f0', breakerOpen: true },
    ];
    sut.showBreakersOf(() => endpoints);

    const first = await sut.registry.metrics();
    expect(sample(first, 'stephook_endpoint_breaker_open', '{endpoint="env"}')).toBe(0);
    expect(
      sample(
        first,
        'stephook_endpoint_breaker_open',
        '{endpoint="ep_0f1e2d3c4b5a69788796a5b4c3d2e1f0"}',
      ),
    ).toBe(1);
    // Transitions of every known endpoint start at 0, so increase() sees the first one.
    for (const to of ['open', 'closed'])
      expect(
        sample(first, 'stephook_endpoint_breaker_transitions_total', `{endpoint="env",to="${to}"}`),
      ).toBe(0);

    endpoints = [{ id: 'env', breakerOpen: true }];
    const second = await sut.registry.metrics();
    expect(sample(second, 'stephook_endpoint_breaker_open', '{endpoint="env"}')).toBe(1);
    expect(second).not.toContain(
      'stephook_endpoint_breaker_open{endpoint="ep_0f1e2d3c4b5a69788796a5b4c3d2e1f0"}',
    );
    await close();
  });

  it('counts breaker transitions by endpoint and direction', async () => {
    const { sut, close } = await boot();
    sut.breakerChanged('env', 'open');
    sut.breakerChanged('env', 'closed');
    sut.breakerChanged('env', 'open');
    const text = await sut.registry.metrics();
    const transitions = (to: string) =>
      sample(text, 'stephook_endpoint_breaker_transitions_total', `{endpoint="env",to="${to}"}`);
    expect([transitions('open'), transitions('closed')]).toEqual([2, 1]);
    expect(text).toContain('# TYPE stephook_endpoint_breaker_transitions_total counter');
    expect(text).toContain('# TYPE stephook_endpoint_breaker_open gauge');
    await close();
  });

  it('starts without the delivery engine (no endpoints known): the gauge has no series', async () => {
    const { sut, close } = await boot();
    const text = await sut.registry.metrics();
    expect(text).toContain('# HELP stephook_endpoint_breaker_open ');
    expect(text).not.toContain('stephook_endpoint_breaker_open{');
    await close();
  });

  it("drops a deleted endpoint's attempt and transition series, never the environment's", async () => {
    const { sut, close } = await boot();
    const gone = 'ep_0f1e2d3c4b5a69788796a5b4c3d2e1f0';
    let endpoints = [
      { id: 'env', breakerOpen: false },
      { id: gone, breakerOpen: false },
    ];
    sut.showBreakersOf(() => endpoints);
    sut.recordAttempt(gone, 'success', 5);
    sut.recordAttempt('env', 'success', 5);
    sut.breakerChanged(gone, 'open');
    const before = await sut.registry.metrics();
    expect(before).toContain(
      `stephook_delivery_attempts_total{endpoint="${gone}",outcome="success"} 1`,
    );

    endpoints = [{ id: 'env', breakerOpen: false }];
    const after = await sut.registry.metrics();
    expect(after).not.toContain(gone);
    expect(after).toContain('stephook_delivery_attempts_total{endpoint="env",outcome="success"} 1');
    await close();
  });
});
