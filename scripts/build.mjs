// npm run build: compiles src/ into dist/ only where something changed (tsc -b compares timestamps,
// so an up-to-date dist/ costs well under a second and `npm start` starts at once).
// tsc -b does not emit a file again that was deleted from dist/ while its source is unchanged; when
// a source has no output, its build record goes, so everything is compiled.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const sources = readdirSync('src', { recursive: true, encoding: 'utf8' }).filter(
  (path) => path.endsWith('.ts') && !path.endsWith('.spec.ts') && !path.endsWith('.d.ts'),
);
if (sources.some((path) => !existsSync(`dist/${path.replace(/\.ts$/, '.js')}`))) {
  rmSync('dist/.tsbuildinfo', { force: true });
}
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
try {
  execFileSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { stdio: 'inherit' });
} catch {
  process.exit(1);
}
