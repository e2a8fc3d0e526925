import { nextBatchSize } from './retention.js';

describe(nextBatchSize.name, () => {
  it('doubles a full batch that was quick, up to 2,000', () => {
    expect(nextBatchSize(100, 1, true)).toBe(200);
    expect(nextBatchSize(1_500, 1, true)).toBe(2_000);
  });

  it('keeps a batch that was neither quick nor slow, or that was not full', () => {
    expect(nextBatchSize(100, 2, true)).toBe(100);
    expect(nextBatchSize(100, 0.5, false)).toBe(100);
  });

  it('halves a slow batch, down to 10', () => {
    expect(nextBatchSize(100, 9, true)).toBe(50);
    expect(nextBatchSize(15, 50, true)).toBe(10);
  });
});
