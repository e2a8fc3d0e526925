import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/*
 * Jest loads this file as CommonJS, before and after the run, outside the ESM test environment:
 * it imports only Node built-ins and takes the repository root from Jest's config.
 */

/** The user's own database, as `npm start` and `.env` name it, with SQLite's side files. */
export const USER_FILES = ['', '-wal', '-shm', '-journal'].map(
  (suffix) => `data/stephook.sqlite${suffix}`,
);

/** Each user file's SHA-256, or `absent`. */
export type Fingerprint = Record<string, string>;

export function fingerprintUserFiles(root: string): Fingerprint {
  return Object.fromEntries(
    USER_FILES.map((file) => {
      const path = join(root, file);
      const hash = existsSync(path)
        ? createHash('sha256').update(readFileSync(path)).digest('hex')
        : 'absent';
      return [file, hash];
    }),
  );
}

/** What changed between two fingerprints, one entry per file: empty when nothing did. */
export function userFileChanges(before: Fingerprint, after: Fingerprint): string[] {
  return USER_FILES.filter((file) => before[file] !== after[file]).map((file) => {
    if (before[file] === 'absent') return `${file} was created`;
    if (after[file] === 'absent') return `${file} was deleted`;
    return `${file} was modified`;
  });
}

const state = globalThis as { stephookUserFiles?: Fingerprint };

/**
 * Jest's globalSetup and globalTeardown both (Jest runs them in one process): the first call notes
 * the user's data/stephook.sqlite, or its absence; the second fails the run if any test created,
 * changed or deleted it — every server a test starts must have a database of its own.
 */
export default function guardUserFiles({ rootDir }: { rootDir: string }): void {
  const now = fingerprintUserFiles(rootDir);
  const before = state.stephookUserFiles;
  if (!before) {
    state.stephookUserFiles = now;
    return;
  }
  const changes = userFileChanges(before, now);
  if (changes.length > 0) {
    throw new Error(
      `The tests touched the user's database: ${changes.join('; ')}. A server started without a DATABASE_URL of its own opens data/stephook.sqlite (or a stephook of yours was using it meanwhile).`,
    );
  }
}
