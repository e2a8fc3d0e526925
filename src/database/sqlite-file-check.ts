import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { errorMessage } from '../common/error-message.js';

/**
 * Why stephook cannot keep its data in the SQLite file at `path`, or null when it can: the folder
 * can be made, the file opened, and written (a write lock taken and a change rolled back). Checked
 * before Nest starts, so a read-only place, a folder or a file that is not a database stops the
 * start at once with one line, instead of a retry loop of stack traces.
 */
export function sqliteFileProblem(path: string): string | null {
  if (path === ':memory:') return null;
  try {
    mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    try {
      db.pragma('journal_mode = WAL');
      const version = Number(db.pragma('user_version', { simple: true }));
      db.exec(`BEGIN IMMEDIATE; PRAGMA user_version = ${version}; ROLLBACK`);
    } finally {
      db.close();
    }
    return null;
  } catch (error) {
    return errorMessage(error);
  }
}
