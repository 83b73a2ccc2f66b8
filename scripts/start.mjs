#!/usr/bin/env node
// `npm start`: build the pages when there is no build or the sources are newer than it, then serve
// pages and signaling from one process on PORT (default 3000): server.ts compiled first, as one
// module that plain node runs (scripts/server-bundle.mjs, decision 0023). `--signaling`: a signaling
// node alone instead (`npm run signaling`, signaling/main.ts), without the pages and their build.
import { spawnSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildState } from './build-stale.mjs';
import { bundleServer, runArgs, SERVER_OUT_DIR, stopCompiler } from './server-bundle.mjs';

const root = new URL('..', import.meta.url).pathname;
const signalingOnly = process.argv[2] === '--signaling';
const name = signalingOnly ? 'signaling' : 'server';
if (!signalingOnly) {
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
}

let args;
try {
  args = runArgs(await bundleServer(root, name));
} catch (err) {
  // A directory that is read-only at run time: what `npm run build` compiled, if it did.
  const unwritable = ['EACCES', 'EPERM', 'EROFS'].includes(err?.code);
  const built = join(root, SERVER_OUT_DIR, `${name}.mjs`);
  if (unwritable && existsSync(built)) {
    console.warn(`Cannot write ${SERVER_OUT_DIR}/ (${err.code}): running the server as \`npm run build\` last compiled it.`);
    args = runArgs(built);
  } else {
    console.error(`Compiling the server failed: ${err?.message ?? err}`);
    if (unwritable) console.error(`Make ${SERVER_OUT_DIR}/ writable, or run \`npm run build\` where it is.`);
    process.exit(1);
  }
} finally {
  await stopCompiler();
}
const child = spawn(process.execPath, [...args, ...process.argv.slice(signalingOnly ? 3 : 2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1' },
});
// A signal sent to this process alone reaches the server too. (Ctrl+C in a terminal signals both;
// the server shuts down once however many it gets.)
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
