// node bench/key-check.mjs (after npm run build)
// How long the authentication hook's key check takes for each kind of token (SPEC §10: "a key
// check takes the same time whatever the key"): API_KEY, a valid key, a revoked or unknown key,
// one sharing a valid key's prefix, one differing from it in its last character, and a short
// token. The ring holds 1,000 keys, as the app's KeyRing does (digest → principal). Rounds
// interleave the kinds so drift hits them alike; each figure is the median ns per check. Not a
// test: it asserts nothing.
import { randomBytes } from 'node:crypto';
import { Authenticator } from '../dist/auth/api-key.hook.js';
import { keyDigest } from '../dist/auth/key-ring.js';

const API_KEY = 'sk-stephook-bench-0123456789';
const newKey = () => `shk_${randomBytes(32).toString('base64url')}`;

const ring = new Map();
const keys = Array.from({ length: 1_000 }, newKey);
keys.forEach((key, i) =>
  ring.set(keyDigest(key), {
    keyId: `key_${i}`,
    scopes: new Set(['steps:read']),
    projectIds: null,
  }),
);
// The KeyRing's lookup, without the use bookkeeping (which runs on a hit only and writes nothing).
const authenticator = new Authenticator(API_KEY, {
  principalForDigest: (d) => ring.get(d) ?? null,
});

const valid = keys[500];
const kinds = {
  API_KEY: API_KEY,
  'a valid key': valid,
  'an unknown key': newKey(),
  "a valid key's prefix, then other characters": valid.slice(0, 12) + newKey().slice(12),
  'a valid key but its last character': valid.slice(0, -1) + (valid.endsWith('A') ? 'B' : 'A'),
  'a short token': 'shk_x',
};

const ROUNDS = 41;
const PER_ROUND = 20_000;
const samples = Object.fromEntries(Object.keys(kinds).map((kind) => [kind, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [kind, token] of Object.entries(kinds)) {
    const header = `Bearer ${token}`;
    const start = process.hrtime.bigint();
    for (let i = 0; i < PER_ROUND; i++) authenticator.principalOf(header);
    samples[kind].push(Number(process.hrtime.bigint() - start) / PER_ROUND);
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
for (const [kind, values] of Object.entries(samples)) {
  process.stdout.write(
    `${kind.padEnd(48)} ${median(values).toFixed(0).padStart(6)} ns per check\n`,
  );
}
