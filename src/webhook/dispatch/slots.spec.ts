import { Slots } from './slots.js';

describe(Slots.name, () => {
  it('never grants more than the limit, however it is asked', () => {
    const sut = new Slots(3);
    expect(sut.take(2)).toBe(2);
    expect(sut.take(5)).toBe(1);
    expect(sut.take(1)).toBe(0);
    expect(sut.free).toBe(0);
    expect(sut.inUse).toBe(3);
  });

  it('never goes below zero: giving back what was not taken throws and changes nothing', () => {
    const sut = new Slots(2);
    sut.take(1);
    expect(() => sut.returnUnfilled(2)).toThrow('Giving back 2 slot(s) when only 1 are taken');
    expect(sut.inUse).toBe(1);
    sut.attemptEnded();
    expect(() => sut.attemptEnded()).toThrow('Giving back 1 slot(s) when only 0 are taken');
    expect(sut.free).toBe(2);
  });

  it('calls the listener when an attempt ends, not when a claim returns what it did not fill', () => {
    const sut = new Slots(2);
    let freed = 0;
    sut.onFreed(() => (freed += 1));
    sut.take(2);
    sut.returnUnfilled(1);
    expect(freed).toBe(0);
    sut.attemptEnded();
    expect(freed).toBe(1);
    expect(sut.free).toBe(2);
  });

  it('has no free slot once closed, and stays quiet while attempts still end', () => {
    const sut = new Slots(2);
    let freed = 0;
    sut.onFreed(() => (freed += 1));
    sut.take(1);
    sut.close();
    expect(sut.free).toBe(0);
    expect(sut.take(1)).toBe(0);
    sut.attemptEnded();
    expect(freed).toBe(0);
    expect(sut.inUse).toBe(0);
  });

  it('treats taking or returning nothing as nothing', () => {
    const sut = new Slots(1);
    expect(sut.take(0)).toBe(0);
    expect(sut.take(-1)).toBe(0);
    sut.returnUnfilled(0);
    expect(sut.free).toBe(1);
  });
});
