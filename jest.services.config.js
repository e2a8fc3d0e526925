import base from './jest.config.js';

/** `npm run test:services`: the suites that need the machine's PostgreSQL and Redis. */
export default {
  ...base,
  testRegex: '\\.services-spec\\.ts$',
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 120_000,
};
