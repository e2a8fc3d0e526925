import { bootModules } from '../../test/helpers/boot-modules.js';
import { AddDeliveryProject1764921600000 } from './migrations/1764921600000-AddDeliveryProject.js';

/** The migration that copies each step's project onto its deliveries, on a real SQLite database. */
describe(AddDeliveryProject1764921600000.name, () => {
  it('fills project_id of existing deliveries from their steps, and goes down again', async () => {
    const booted = await bootModules([]);
    const db = booted.dataSource;
    try {
      // Down to just before it (migrations added after it go down first).
      const applied = () =>
        db.query<unknown[]>('SELECT 1 FROM migrations WHERE name = ?', [
          AddDeliveryProject1764921600000.name,
        ]);
      while ((await applied()).length > 0) await db.undoLastMigration();
      const columns = async () =>
        (await db.query<{ name: string }[]>('PRAGMA table_info(webhook_deliveries)')).map(
          (column) => column.name,
        );
      expect(await columns()).not.toContain('project_id');

      const at = new Date().toISOString();
      for (const [step, project] of [
        ['step-a', 'proj-a'],
        ['step-b', 'proj-b'],
        ['step-none', null],
      ]) {
        await db.query(
          `INSERT INTO steps (id, status, project_id, tags, created_at, updated_at)
           VALUES (?, 'success', ?, '[]', ?, ?)`,
          [step, project, at, at],
        );
        await db.query(
          `INSERT INTO webhook_deliveries (id, step_id, status, payload, created_at, updated_at)
           VALUES (?, ?, 'delivered', '{}', ?, ?)`,
          [`msg_${step}`, step, at, at],
        );
      }
      await db.runMigrations();

      expect(
        await db.query('SELECT step_id, project_id FROM webhook_deliveries ORDER BY step_id'),
      ).toEqual([
        { step_id: 'step-a', project_id: 'proj-a' },
        { step_id: 'step-b', project_id: 'proj-b' },
        { step_id: 'step-none', project_id: null },
      ]);
      const indexes = (
        await db.query<{ name: string }[]>(
          "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '%project%'",
        )
      ).map((index) => index.name);
      expect(indexes.sort()).toEqual([
        'idx_deliveries_project_created_at_id',
        'idx_steps_project_created_at_id',
      ]);
    } finally {
      await booted.close();
    }
  });
});
