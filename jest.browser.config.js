import base from './jest.config.js';

/** `npm run test:browser`: the dashboard in Debian's Chromium, driven by playwright-core. */
export default {
  ...base,
  testRegex: '\\.browser-spec\\.ts$',
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 60_000,
};
