import type { Endpoint } from '../endpoints/endpoint.js';

/**
 * Each endpoint's attempts in flight in this process, against its `max_in_flight` (SPEC §9
 * "Isolation"), kept the way `Slots` keeps the process's total:
 * - a claim reserves each endpoint's room before it goes to the database (`reserve`), so claims
 *   under way and attempts in flight never exceed an endpoint's limit together;
 * - the claim gives back what it did not fill (`settle`), and each attempt its place when it ends
 *   (`ended`); an operator's retry, which no limit holds back, still counts while it runs (`add`);
 * - an endpoint whose breaker is open gets room for one attempt (its probe) at most;
 * - while other endpoints are enabled, an endpoint holds at most half the process's slots.
 * Together with a claim that takes endpoints in turn, no endpoint can hold more than its
 * `max_in_flight` of the process's slots, whatever it does, while others have due deliveries.
 */
export class EndpointShares {
  private readonly inFlight = new Map<string, number>();

  /** Attempts of `endpointId` in flight here (claims under way included). */
  of(endpointId: string): number {
    return this.inFlight.get(endpointId) ?? 0;
  }

  /**
   * `concurrency`: the process's slots. While more than one endpoint is enabled, none may hold more
   * than half of them, whatever its `max_in_flight`, so one that hangs always leaves the others
   * room.
   */
  constructor(private readonly concurrency: number) {}

  /**
   * Reserves for each enabled endpoint the room it has left, at most `cap`: what a claim may take
   * of each. Endpoints without room are left out.
   */
  reserve(endpoints: readonly Endpoint[], cap: number): Map<string, number> {
    const reserved = new Map<string, number>();
    const enabled = endpoints.filter((endpoint) => !endpoint.disabled);
    const most = enabled.length > 1 ? Math.ceil(this.concurrency / 2) : this.concurrency;
    for (const endpoint of enabled) {
      const limit = endpoint.breakerOpen ? 1 : Math.min(endpoint.maxInFlight, most);
      const room = Math.min(cap, limit - this.of(endpoint.id));
      if (room <= 0) continue;
      reserved.set(endpoint.id, room);
      this.inFlight.set(endpoint.id, this.of(endpoint.id) + room);
    }
    return reserved;
  }

  /** A claim is back: each endpoint keeps what it claimed of its reservation, the rest is free. */
  settle(reserved: ReadonlyMap<string, number>, claimed: ReadonlyMap<string, number>): void {
    for (const [endpointId, room] of reserved) {
      const taken = claimed.get(endpointId) ?? 0;
      if (taken > room) {
        throw new Error(`Claimed ${taken} attempt(s) of ${endpointId} with room for ${room}`);
      }
      this.release(endpointId, room - taken);
    }
  }

  /** An attempt outside any reservation (an operator's retry) starts. */
  add(endpointId: string): void {
    this.inFlight.set(endpointId, this.of(endpointId) + 1);
  }

  /** An attempt is over. */
  ended(endpointId: string): void {
    this.release(endpointId, 1);
  }

  private release(endpointId: string, count: number): void {
    const left = this.of(endpointId) - count;
    if (left < 0) throw new Error(`Giving back more attempts of ${endpointId} than are in flight`);
    if (left === 0) this.inFlight.delete(endpointId);
    else this.inFlight.set(endpointId, left);
  }
}
