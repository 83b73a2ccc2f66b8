#!/usr/bin/env node
// `npm start`: build the pages when there is no build or the sources are newer than it, then serve
// pages and signaling from one process on PORT (default 3000).
import { spawnSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { buildState } from './build-stale.mjs';

const root = new URL('..', import.meta.url).pathname;
const { builtMs: built, stale } = buildState(root, process.env.JOINUS_NEXT_DIST_DIR || '.next');
if (stale) {
  console.log(built ? 'Sources changed since the last build: building the pages…' : 'No build yet: building the pages (about a minute)…');
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'next', 'dist', 'bin', 'next'), 'build'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
  });
  if (r.status !== 0) {
    console.error('The build failed; see above.');
    process.exit(r.status ?? 1);
  }
}

const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'server.ts'), ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1' },
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
