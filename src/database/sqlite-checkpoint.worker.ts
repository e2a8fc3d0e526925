import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { errorMessage } from '../common/error-message.js';

/** What SqliteCheckpointer hands its thread. */
export interface CheckpointWorkerData {
  path: string;
  intervalMs: number;
}

/**
 * A thread of its own that copies the SQLite write-ahead log into the database file: a PASSIVE
 * checkpoint every `intervalMs` on its own connection, which never waits for the process's writer
 * and never makes it wait. The fsync a checkpoint ends with (synchronous=NORMAL) then happens here,
 * not in the event loop that answers requests and sends webhooks.
 */
const { path, intervalMs } = workerData as CheckpointWorkerData;
const db = new Database(path, { fileMustExist: true });
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort?.postMessage({ failed: errorMessage(error) });
  }
}, intervalMs);
parentPort?.on('message', (message: unknown) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
