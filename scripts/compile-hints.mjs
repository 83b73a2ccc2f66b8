// The chunks a page fetches on use are compiled whole as they arrive (decision 0021).
//
// A page fetches some of its code on use, through a dynamic import(): the session view while the
// person fills in the Join Us form, the socket.io client, the proof solver. That code then runs at
// once: the "Join Us" click runs the session's connection, the mesh and Yjs for the first time. V8
// compiles a function the first time it is called, on the main thread, where the peer connection's
// set-up waits behind it. A script that begins with the comment below is compiled whole while it
// loads, off the main thread (Chromium 136 and later; other browsers ignore the comment).
//
// Run by `next build` after it compiled the pages (`compiler.runAfterProductionCompile` in
// next.config.js). Only the chunks some dynamic import() fetches are marked: Turbopack's loader names
// them as "static/chunks/<name>.js" in the chunk that imports them. A page's own chunks are left to
// V8's lazy compiling, as before.
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const COMPILE_HINT = '//# allFunctionsCalledOnLoad\n';

/** A chunk named by Turbopack's loader for a dynamic import(). */
const CHUNK_NAMED = /"(static\/chunks\/[\w./-]+\.js)"/g;

/** Marks the chunks fetched on use in `distDir` (idempotent); returns their paths inside it. */
export async function markChunksLoadedOnUse(distDir) {
  const chunks = join(distDir, 'static', 'chunks');
  if (!existsSync(chunks)) return [];
  const files = (await readdir(chunks, { recursive: true })).filter((f) => f.endsWith('.js'));
  const onUse = new Set();
  for (const file of files) {
    for (const m of (await readFile(join(chunks, file), 'utf8')).matchAll(CHUNK_NAMED)) onUse.add(m[1]);
  }
  const marked = [];
  for (const chunk of [...onUse].sort()) {
    const path = join(distDir, chunk);
    if (!existsSync(path)) continue;
    const text = await readFile(path, 'utf8');
    if (!text.startsWith(COMPILE_HINT)) {
      await writeFile(path, COMPILE_HINT + text);
      await shiftSourceMap(path, text);
    }
    marked.push(chunk);
  }
  return marked;
}

/** A chunk's source map (`productionBrowserSourceMaps`), if any, moved down by the line added. */
async function shiftSourceMap(chunkPath, text) {
  const url = /\/\/# sourceMappingURL=([\w./-]+\.map)\s*$/.exec(text)?.[1];
  const map = url ? join(dirname(chunkPath), url) : `${chunkPath}.map`;
  if (!existsSync(map)) return;
  const json = JSON.parse(await readFile(map, 'utf8'));
  if (typeof json.mappings === 'string') json.mappings = `;${json.mappings}`;
  for (const section of json.sections ?? []) section.offset.line += 1;
  await writeFile(map, JSON.stringify(json));
}
