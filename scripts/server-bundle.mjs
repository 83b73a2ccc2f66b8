// The server's own code compiled before it runs (decision 0023): `npm start` (server.ts) and
// `npm run signaling` (signaling/main.ts) run plain `node` on one ES module that esbuild makes from the
// entry and every file of ours it imports, the packages left to node_modules. Compiled, the
// signaling server takes 9-15% less CPU a handle cycle than under tsx, whose per-file transform
// keeps every function's name with a helper call each time a closure is made. Compiling takes well
// under a second, so it is done at every start and is never stale; `npm run build` also does it
// (`node scripts/server-bundle.mjs`), for a deployment whose directory is read-only at run time
// (scripts/start.mjs then runs what the build compiled). The browser tests, the scale-out tests and
// the benchmarks start their servers the same way (`serverArgs`). `npm run dev` stays on tsx.
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, stop } from 'esbuild';

/** What can be compiled: the name of the output, the entry's path in the repository. */
export const SERVER_ENTRIES = { server: 'server.ts', signaling: 'signaling/main.ts' };

/** Where the compiled modules go, under the repository (so that node finds the packages). */
export const SERVER_OUT_DIR = '.server';

/**
 * Compiles `name` (a key of SERVER_ENTRIES) of the repository at `root` and returns the module's
 * path. Several processes may compile at once (test workers each start nodes): each writes a file
 * of its own and renames it into place, so nobody ever loads a half-written module.
 */
export async function bundleServer(root, name) {
  const entry = SERVER_ENTRIES[name];
  if (!entry) throw new Error(`bundleServer: unknown entry "${name}" (${Object.keys(SERVER_ENTRIES).join(', ')})`);
  const dir = join(root, SERVER_OUT_DIR);
  const outfile = join(dir, `${name}.mjs`);
  const result = await build({
    absWorkingDir: root,
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Every package stays an import of node_modules (Next, socket.io, …); only our files are compiled in.
    packages: 'external',
    tsconfig: join(root, 'tsconfig.json'),
    // Stack traces point at the TypeScript (`--enable-source-maps`, serverArgs); the sources are on disk.
    sourcemap: 'inline',
    sourcesContent: false,
    write: false,
    logLevel: 'silent',
  });
  mkdirSync(dir, { recursive: true });
  const file = result.outputFiles.find((f) => f.path === outfile) ?? result.outputFiles[0];
  const tmp = `${outfile}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, file.contents);
    renameSync(tmp, outfile);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return outfile;
}

/** Compiles `name` and returns node's arguments to run it (before the program's own arguments). */
export async function serverArgs(root, name) {
  return runArgs(await bundleServer(root, name));
}

/** Node's arguments to run a compiled module. */
export function runArgs(file) {
  return ['--enable-source-maps', file];
}

/**
 * Ends esbuild's service process, which otherwise stays beside a long-lived caller (it starts again
 * on the next compile). For callers that compile once, then live as long as their server; not while
 * another compile of the same process may be under way.
 */
export function stopCompiler() {
  return stop();
}

// `node scripts/server-bundle.mjs` (part of `npm run build`): compile every entry.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  try {
    for (const name of Object.keys(SERVER_ENTRIES)) console.log(`compiled ${await bundleServer(root, name)}`);
  } catch (err) {
    console.error(`Compiling the server failed: ${err?.message ?? err}`);
    process.exitCode = 1;
  } finally {
    await stopCompiler();
  }
}
