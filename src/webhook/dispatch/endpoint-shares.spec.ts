import { endpointFixture } from '../../../test/helpers/endpoint-fixture.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import { EndpointShares } from './endpoint-shares.js';

/** Shares are counted against a max_in_flight of 3 unless a test says otherwise. */
const endpoint = (id: string, changes: Partial<Endpoint> = {}): Endpoint =>
  endpointFixture(id, { maxInFlight: 3, ...changes });

describe(EndpointShares.name, () => {
  it('reserves each endpoint its room, never more than its max_in_flight with what is in flight', () => {
    const shares = new EndpointShares(64);
    const a = endpoint('a');
    const b = endpoint('b', { maxInFlight: 1 });
    expect(shares.reserve([a, b], 10)).toEqual(
      new Map([
        ['a', 3],
        ['b', 1],
      ]),
    );
    // Reserved counts as in flight: a second claim under way gets nothing.
    expect(shares.reserve([a, b], 10)).toEqual(new Map());
    shares.settle(
      new Map([
        ['a', 3],
        ['b', 1],
      ]),
      new Map([['a', 2]]),
    );
    expect(shares.of('a')).toBe(2);
    expect(shares.of('b')).toBe(0);
    expect(shares.reserve([a, b], 10)).toEqual(
      new Map([
        ['a', 1],
        ['b', 1],
      ]),
    );
  });

  it('caps each room at what the claim may take, and leaves disabled endpoints out', () => {
    const shares = new EndpointShares(64);
    expect(shares.reserve([endpoint('a'), endpoint('b', { disabled: true })], 2)).toEqual(
      new Map([['a', 2]]),
    );
  });

  it('gives an endpoint whose breaker is open room for one attempt, its probe', () => {
    const shares = new EndpointShares(64);
    const open = endpoint('a', { breakerOpen: true, maxInFlight: 50 });
    expect(shares.reserve([open], 10)).toEqual(new Map([['a', 1]]));
    expect(shares.reserve([open], 10)).toEqual(new Map());
  });

  it("counts an operator's retry while it runs, and gets every place back", () => {
    const shares = new EndpointShares(64);
    shares.add('a');
    expect(shares.reserve([endpoint('a')], 10)).toEqual(new Map([['a', 2]]));
    shares.settle(new Map([['a', 2]]), new Map([['a', 2]]));
    for (let ended = 0; ended < 3; ended++) shares.ended('a');
    expect(shares.of('a')).toBe(0);
    expect(() => shares.ended('a')).toThrow('more attempts of a than are in flight');
    expect(() => shares.settle(new Map([['a', 1]]), new Map([['a', 2]]))).toThrow(
      'Claimed 2 attempt(s) of a with room for 1',
    );
  });

  it('lets no endpoint hold more than half the slots while another is enabled, whatever its max_in_flight', () => {
    const greedy = endpoint('a', { maxInFlight: 1000 });
    expect(new EndpointShares(16).reserve([greedy, endpoint('b')], 100).get('a')).toBe(8);
    expect(new EndpointShares(15).reserve([greedy, endpoint('b')], 100).get('a')).toBe(8);
    // Alone (or beside disabled ones only), it may have them all.
    expect(new EndpointShares(16).reserve([greedy], 100).get('a')).toBe(16);
    expect(
      new EndpointShares(16).reserve([greedy, endpoint('b', { disabled: true })], 100).get('a'),
    ).toBe(16);
  });

  it("shrinks every busy endpoint's share as more are busy, so a newcomer always finds free slots", () => {
    const shares = new EndpointShares(64);
    const slow = ['s1', 's2', 's3', 's4', 's5'].map((id) => endpoint(id, { maxInFlight: 16 }));
    const all = [...slow, endpoint('fast', { maxInFlight: 16 })];
    // Transitions one after another, each with one delivery per slow endpoint, none of which ends
    // (they crawl): each claim takes one of each slow endpoint's, as long as it has room.
    for (let transition = 0; transition < 40; transition++) {
      const rooms = shares.reserve(all, 64);
      const claimed = new Map(slow.filter((one) => rooms.has(one.id)).map((one) => [one.id, 1]));
      shares.settle(rooms, claimed);
    }
    const held = slow.map((one) => shares.of(one.id));
    // Each of the five holds 64 / 6 (four others and one that may come): 55 in all, 9 stay free.
    expect(held).toEqual([11, 11, 11, 11, 11]);
    expect(shares.reserve(all, 64).get('fast')).toBe(10);
  });
});
