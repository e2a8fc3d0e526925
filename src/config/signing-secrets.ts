import { ConfigValidationError } from './env.js';

// examples/receiver compiles this file into its own build, so the reference receiver accepts exactly
// the secrets stephook accepts: one rule, one place.

/** Space-separated `whsec_<base64>` secrets → their raw key bytes. The values are never echoed. */
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
    return Buffer.from(encoded, 'base64');
  });
}
