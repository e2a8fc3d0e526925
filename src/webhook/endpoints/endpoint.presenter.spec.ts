import type { Endpoint } from './endpoint.js';
import { CLOSED_BREAKER } from './endpoint-throttles.js';
import type { BreakerView } from './endpoint-throttles.js';
import {
  MASKED_HEADER_VALUE,
  presentEndpoint,
  presentEnvironmentEndpoint,
} from './endpoint.presenter.js';
import { WebhookEndpoint } from './entities/webhook-endpoint.entity.js';

const OPEN: BreakerView = {
  state: 'open',
  opened_at: '2026-12-07T02:00:00.000Z',
  unreachable_attempts: 6,
  next_probe_at: '2026-12-07T02:00:02.000Z',
};

function row(fields: Partial<WebhookEndpoint> = {}): WebhookEndpoint {
  return Object.assign(new WebhookEndpoint(), {
    id: 'ep_0f1e2d3c4b5a69788796a5b4c3d2e1f0',
    url: 'https://billing.example.com/hooks/steps',
    description: null,
    filter: null,
    payload: 'minimal',
    headers: JSON.stringify({ authorization: 'Bearer receiver-token' }),
    secrets: JSON.stringify([{ secret: 'whsec_x', expires_at: null }]),
    disabled: false,
    disabledReason: null,
    failingSince: null,
    failedAttempts: 0,
    maxInFlight: 16,
    rateLimit: null,
    createdAt: '2026-12-07T01:00:00.000Z',
    updatedAt: '2026-12-07T01:00:00.000Z',
    ...fields,
  });
}

describe(presentEndpoint.name, () => {
  it('shows the limits and the breaker it is given', () => {
    const view = presentEndpoint(row({ maxInFlight: 3, rateLimit: 2.5 }), OPEN);
    expect(view).toMatchObject({ max_in_flight: 3, rate_limit: 2.5, breaker: OPEN });
  });

  it('shows no rate limit as null, and a rate PostgreSQL handed over as text as a number', () => {
    expect(presentEndpoint(row(), CLOSED_BREAKER).rate_limit).toBeNull();
    const fromText = row({ rateLimit: '0.5' as unknown as number });
    expect(presentEndpoint(fromText, CLOSED_BREAKER).rate_limit).toBe(0.5);
  });

  it('never shows its secrets, and masks header values unless told to show them', () => {
    const masked = presentEndpoint(row(), CLOSED_BREAKER);
    expect(masked).not.toHaveProperty('secrets');
    expect(masked.headers).toEqual({ authorization: MASKED_HEADER_VALUE });
    const shown = presentEndpoint(row(), CLOSED_BREAKER, 'shown');
    expect(shown.headers).toEqual({ authorization: 'Bearer receiver-token' });
  });
});

describe(presentEnvironmentEndpoint.name, () => {
  const environment: Endpoint = {
    id: 'env',
    url: new URL('https://user:pass@receiver.example.com/hook?token=t'),
    payload: 'minimal',
    secrets: [],
    headers: {},
    filter: null,
    disabled: false,
    restricted: false,
    maxInFlight: 4,
    rateLimit: 50,
    breakerOpen: true,
  };

  it('shows the limits its variables set and its breaker, never the URL’s credentials', () => {
    const view = presentEnvironmentEndpoint(environment, OPEN);
    expect(view).toMatchObject({ id: 'env', max_in_flight: 4, rate_limit: 50, breaker: OPEN });
    expect(view.url).not.toContain('pass');
    expect(view.url).not.toContain('token');
  });

  it('shows an unset STEP_COMPLETE_RATE_LIMIT as null', () => {
    const view = presentEnvironmentEndpoint({ ...environment, rateLimit: null }, CLOSED_BREAKER);
    expect(view).toMatchObject({ rate_limit: null, breaker: CLOSED_BREAKER });
  });
});
