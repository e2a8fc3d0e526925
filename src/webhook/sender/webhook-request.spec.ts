import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { parseSigningSecrets } from '../../config/signing-secrets.js';
import { buildWebhookHeaders, signWebhook } from './webhook-request.js';

const secretA = `whsec_${randomBytes(24).toString('base64')}`;
const secretB = `whsec_${randomBytes(32).toString('base64')}`;
const body = '{"step_id":"step-7b0c2a54-3f4e-4d6a-9c1b-2e8f5a6d7c90"}';
const deliveryId = 'msg_0123456789abcdef0123456789abcdef';

describe(signWebhook.name, () => {
  it('matches an independent HMAC-SHA256 over "<id>.<timestamp>.<body>" with the decoded secret', () => {
    const [key] = parseSigningSecrets(secretA);
    const expected = createHmac('sha256', Buffer.from(secretA.slice('whsec_'.length), 'base64'))
      .update(`${deliveryId}.1764316800.${body}`)
      .digest('base64');

    expect(signWebhook([key], deliveryId, '1764316800', body)).toBe(`v1,${expected}`);
  });

  it('passes standardwebhooks verify for each of two secrets, and fails for a tampered body or a stranger', () => {
    const headers = buildWebhookHeaders({
      deliveryId,
      attemptAt: new Date(),
      body,
      key: undefined,
      signingSecrets: parseSigningSecrets(`${secretA} ${secretB}`),
    });

    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(secretA).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(secretB).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secretA).verify(body.replace('7b0c', '7b0d'), headers)).toThrow();
    expect(() =>
      new Webhook(`whsec_${randomBytes(24).toString('base64')}`).verify(body, headers),
    ).toThrow();
  });

  it('adds no signature header when no secret is set', () => {
    const headers = buildWebhookHeaders({
      deliveryId,
      attemptAt: new Date(),
      body,
      key: 'k',
      signingSecrets: [],
    });
    expect(headers['webhook-signature']).toBeUndefined();
    expect(headers.authorization).toBe('Bearer k');
  });
});

describe(buildWebhookHeaders.name, () => {
  it("keeps an endpoint's headers exactly, names that shadow Object.prototype included", () => {
    const extra = JSON.parse(
      '{"tostring":"a","hasownproperty":"b","valueof":"c","__definegetter__":"d","x-tab":"e\\tf"}',
    ) as Record<string, string>;
    const headers = buildWebhookHeaders({
      deliveryId,
      attemptAt: new Date(),
      body,
      key: undefined,
      signingSecrets: [],
      extra,
    });
    expect(Object.keys(headers)).toEqual(expect.arrayContaining(Object.keys(extra)));
    for (const [name, value] of Object.entries(extra)) expect(headers[name]).toBe(value);
    expect(headers['content-type']).toBe('application/json');
  });
});
