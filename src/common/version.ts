import { readFileSync } from 'node:fs';

/** stephook's version, from package.json (two levels up from both src/common and dist/common). */
export const STEPHOOK_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;
