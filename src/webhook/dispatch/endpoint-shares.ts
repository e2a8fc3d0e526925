import type { Endpoint } from '../endpoints/endpoint.js';

/**
 * Each endpoint's attempts in flight in this process, against its `max_in_flight` (SPEC §9
 * "Isolation"), kept the way `Slots` keeps the process's total:
 * - a claim reserves each endpoint's room before it goes to the database (`reserve`), so claims
 *   under way and attempts in flight never exceed an endpoint's limit together;
 * - the claim gives back what it did not fill (`settle`), and each attempt its place when it ends
 *   (`ended`); an operator's retry, which no limit holds back, still counts while it runs (`add`);
 * - an endpoint whose breaker is open gets room for one attempt (its probe) at most;
 * - while other endpoints are enabled, an endpoint holds at most its fair share of the process's
 *   slots, which shrinks as more endpoints are busy, so slots stay free for a newcomer.
 * Together with a claim that takes endpoints in turn, no endpoint can hold more than its
 * `max_in_flight` of the process's slots, whatever it does, while others have due deliveries.
 */
export class EndpointShares {
  private readonly inFlight = new Map<string, number>();

  /** Attempts of `endpointId` in flight here (claims under way included). */
  of(endpointId: string): number {
    return this.inFlight.get(endpointId) ?? 0;
  }

  /** `concurrency`: the process's slots (STEP_COMPLETE_CONCURRENCY). */
  constructor(private readonly concurrency: number) {}

  /**
   * Reserves for each enabled endpoint the room it has left, at most `cap`: what a claim may take
   * of each. Endpoints without room are left out. An endpoint's limit is its `max_in_flight`, and
   * while other endpoints are enabled also its fair share (`share`).
   */
  reserve(endpoints: readonly Endpoint[], cap: number): Map<string, number> {
    const reserved = new Map<string, number>();
    const enabled = endpoints.filter((endpoint) => !endpoint.disabled);
    const busy = this.inFlight.size;
    for (const endpoint of enabled) {
      const share =
        enabled.length > 1
          ? this.share(busy - (this.of(endpoint.id) > 0 ? 1 : 0))
          : this.concurrency;
      const limit = endpoint.breakerOpen ? 1 : Math.min(endpoint.maxInFlight, share);
      const room = Math.min(cap, limit - this.of(endpoint.id));
      if (room <= 0) continue;
      reserved.set(endpoint.id, room);
      this.inFlight.set(endpoint.id, this.of(endpoint.id) + room);
    }
    return reserved;
  }

  /**
   * The most slots one endpoint may hold while `othersBusy` other endpoints have attempts here: an
   * equal part for each of them, itself, and one more that may come — so however many endpoints
   * hang or crawl, some slots stay free for one that has not had any (half of them beside a
   * single busy endpoint, a third beside two, …, never less than one).
   */
  private share(othersBusy: number): number {
    return Math.max(1, Math.ceil(this.concurrency / (othersBusy + 2)));
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
