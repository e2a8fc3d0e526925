import type { Endpoint } from '../../src/webhook/endpoints/endpoint.js';

/** An endpoint as the registry holds it, enabled and without limits beyond the defaults. */
export function endpointFixture(id: string, changes: Partial<Endpoint> = {}): Endpoint {
  return {
    id,
    url: new URL('https://example.com/hook'),
    secrets: [],
    headers: {},
    payload: 'minimal',
    filter: null,
    disabled: false,
    restricted: true,
    maxInFlight: 64,
    rateLimit: null,
    breakerOpen: false,
    ...changes,
  };
}
