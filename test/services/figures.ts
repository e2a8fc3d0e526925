import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ARTIFACTS = new URL('../../test-artifacts', import.meta.url).pathname;

/** What a run measured, for docs/performance.md and the closing note: test-artifacts/<name>.json. */
export function recordFigures(name: string, figures: Record<string, number>): void {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, `${name}.json`), `${JSON.stringify(figures, null, 2)}\n`);
}
