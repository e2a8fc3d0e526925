import { DELIVERY_ID, newDeliveryId } from './delivery-id.js';

describe(newDeliveryId.name, () => {
  it('keeps the documented shape (msg_ and 32 hex digits)', () => {
    expect(newDeliveryId()).toMatch(DELIVERY_ID.pattern);
  });

  it('grows with creation time, so new rows land at the right edge of the primary key', () => {
    const earlier = newDeliveryId(Date.parse('2026-12-01T00:00:00.000Z'));
    const later = newDeliveryId(Date.parse('2026-12-01T00:00:00.001Z'));
    expect(earlier < later).toBe(true);
  });

  it('stays unique within one millisecond', () => {
    const now = Date.now();
    const ids = new Set(Array.from({ length: 10_000 }, () => newDeliveryId(now)));
    expect(ids.size).toBe(10_000);
  });
});
