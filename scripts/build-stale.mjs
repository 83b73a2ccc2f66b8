// One rule, used by `npm start`, the browser tests' server and the benchmark: the pages need a
// (re)build when there is no build in `distDir` or any of their sources is newer than it.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const PAGE_SOURCES = ['app', 'lib', 'features', 'proxy.ts', 'next.config.js', 'scripts/compile-hints.mjs', 'package.json', 'tsconfig.json'];

function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs;
  for (const entry of readdirSync(path)) m = Math.max(m, newest(join(path, entry)));
  return m;
}

/** When the build in `distDir` was made (0 for none), and whether the sources are newer. */
export function buildState(root, distDir = '.next') {
  const buildId = join(root, distDir, 'BUILD_ID');
  const builtMs = existsSync(buildId) ? statSync(buildId).mtimeMs : 0;
  return { builtMs, stale: PAGE_SOURCES.some((s) => newest(join(root, s)) > builtMs) };
}
