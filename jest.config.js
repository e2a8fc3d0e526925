/** Jest runs the TypeScript sources as ESM through SWC (decorators and their metadata included). */
const swcOptions = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'es6' },
  sourceMaps: 'inline',
};

export default {
  testEnvironment: 'node',
  rootDir: '.',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testRegex: '\\.(spec|e2e-spec)\\.ts$',
  testPathIgnorePatterns: ['/node_modules/', '\\.services-spec\\.ts$', '\\.browser-spec\\.ts$'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', swcOptions] },
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // @fastify/middie, which Nest's FastifyAdapter imports, `require`s path-to-regexp 9, which is
    // ESM only: Node 20.19+ loads it (require of ESM), Jest's module system cannot. Under Jest it
    // gets the CommonJS path-to-regexp 8 Nest itself uses. The app registers no middleware
    // (createHttpAdapter's skipMiddie), so middie never runs either way.
    '^path-to-regexp$': '<rootDir>/node_modules/path-to-regexp/dist/index.js',
  },
  testTimeout: 30_000,
  // Every run proves it left the user's data/stephook.sqlite (or its absence) as it found it.
  globalSetup: '<rootDir>/test/user-files-guard.ts',
  globalTeardown: '<rootDir>/test/user-files-guard.ts',
};
