// Prints a new STEP_COMPLETE_SECRET and nothing else on stdout: whsec_ and 32 random bytes in base64,
// the form Standard Webhooks libraries expect (24 to 64 bytes) and the one stephook generates for
// API endpoints. Plain Node, so it works on a fresh clone before any build.
// Capture it with:  STEP_COMPLETE_SECRET=$(npm run -s secret)   or   $(node scripts/secret.mjs)
import { randomBytes } from 'node:crypto';

process.stdout.write(`whsec_${randomBytes(32).toString('base64')}\n`);

// Without -s, npm prints "> stephook@… secret" lines on stdout before the secret, and a capture
// like $(npm run secret) holds them too: say so where the user will see it.
const underNpm = process.env.npm_lifecycle_event === 'secret';
if (underNpm && process.env.npm_config_loglevel !== 'silent' && !process.stdout.isTTY) {
  process.stderr.write(
    'secret: npm printed its own lines on stdout before the secret; to capture only the secret, use npm run -s secret\n',
  );
}
