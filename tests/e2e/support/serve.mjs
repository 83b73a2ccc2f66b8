#!/usr/bin/env node
// The browser tests' server: what `npm start` does (scripts/start.mjs): build the pages when there is
// no build or the sources are newer than it, then server.ts compiled and run by plain node with
// NODE_ENV=production (scripts/server-bundle.mjs). The one difference: the build goes to test-results/next-build
// (JOINUS_NEXT_DIST_DIR, read by next.config.js), so a developer's `npm start` or `next build` in the
// same checkout never replaces the pages under a running test server, nor the other way round.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildState } from '../../../scripts/build-stale.mjs';
import { serverArgs, stopCompiler } from '../../../scripts/server-bundle.mjs';

const root = new URL('../../..', import.meta.url).pathname;
const distDir = process.env.JOINUS_NEXT_DIST_DIR || 'test-results/next-build';
// Next adds its type folders to the tsconfig it builds with: give it one of its own to edit, which
// extends the project's, rather than the project's tsconfig.json.
const tsconfig = `${distDir}.tsconfig.json`;
const env = {
  ...process.env,
  JOINUS_NEXT_DIST_DIR: distDir,
  JOINUS_NEXT_TSCONFIG: tsconfig,
  NODE_ENV: 'production',
  NEXT_TELEMETRY_DISABLED: '1',
};
const { stale } = buildState(root, distDir);
// Servers a test starts for itself (support/product-server.ts) serve the build the suite's main server
// made and never rebuild: a build replaces the pages under the servers already running from it.
const noBuild = process.env.JOINUS_E2E_NO_BUILD === '1';
if (noBuild && !existsSync(join(root, distDir))) {
  console.error(`e2e: no build in ${distDir}, and JOINUS_E2E_NO_BUILD is set.`);
  process.exit(1);
}
if (stale && !noBuild) {
  console.error(`e2e: building the pages into ${distDir}…`);
  mkdirSync(join(root, distDir, '..'), { recursive: true });
  const relRoot = distDir.split('/').slice(1).map(() => '..').join('/') || '.';
  writeFileSync(join(root, tsconfig), JSON.stringify({ extends: `${relRoot}/tsconfig.json` }, null, 2) + '\n');
  // Next also points next-env.d.ts (generated, not in git) at the build's types: put it back after.
  const nextEnv = join(root, 'next-env.d.ts');
  const nextEnvBefore = existsSync(nextEnv) ? readFileSync(nextEnv, 'utf8') : null;
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'next', 'dist', 'bin', 'next'), 'build'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
  });
  if (nextEnvBefore !== null) writeFileSync(nextEnv, nextEnvBefore);
  else rmSync(nextEnv, { force: true });
  if (r.status !== 0) {
    console.error('e2e: the build failed (run `npx next build` to see why).');
    process.exit(r.status ?? 1);
  }
}

const args = await serverArgs(root, 'server');
await stopCompiler();
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
