import { ConfigValidationError } from './env.js';

// examples/receiver compiles this file into its own build, so the reference receiver accepts exactly
// the secrets stephook accepts: one rule, one place.

/** Standard Webhooks asks for keys of 24 to 64 bytes; `npm run -s secret` makes one of 32. */
export const SIGNING_KEY_BYTES = { min: 24, max: 64 } as const;

/**
 * Space-separated `whsec_<base64>` secrets → their raw key bytes, each 24 to 64 bytes (a shorter key,
 * `whsec_A` decoding to none at all, would let anyone forge a signature). Padding may be left out.
 * The values are never echoed.
 */
export function parseSigningSecrets(raw: string | undefined): Buffer[] {
  if (!raw) return [];
  return raw.split(/\s+/).map((secret, index) => {
    const encoded = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : undefined;
    if (!encoded || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
      throw new ConfigValidationError(
        'STEP_COMPLETE_SECRET',
        `secret #${index + 1} must look like whsec_<base64>`,
      );
    }
    const key = Buffer.from(encoded, 'base64');
    if (key.length < SIGNING_KEY_BYTES.min || key.length > SIGNING_KEY_BYTES.max) {
      throw new ConfigValidationError(
        'STEP_COMPLETE_SECRET',
        `secret #${index + 1} must be ${SIGNING_KEY_BYTES.min} to ${SIGNING_KEY_BYTES.max} bytes ` +
          `in base64, got ${key.length} (npm run -s secret makes one)`,
      );
    }
    return key;
  });
}
