#!/usr/bin/env node
// Page weight (issue 11): the JavaScript each page of the product makes the browser load, compressed
// and raw, against the floor of the framework itself, and where the weight above that floor comes from.
//
//   - what is measured: every script response a fresh browser context receives for the page (each
//     distinct URL once), (a) from navigation until the load event and network idle, (b) anything
//     later (the network quiet again for LATER_QUIET_MS, at most LATER_MAX_MS); per script its body's
//     size raw, gzipped (zlib level 6, what Next's own compression and most servers send) and brotli
//     (quality 11, what a precompressed static file or a CDN serves). Also, as notes: the HTML
//     document (with its inline flight data) and the route data Next prefetches for the page's links.
//     Pages: landing /, Join Us /join, help /help, agent /agent, and the session view
//     /session/<id> (no credential in sessionStorage, so it shows "Session not open here": the
//     weight of its route, not of a live session's lazily loaded parts, if any).
//   - the floor: the same measurement for an empty Next.js app-router page (a layout with
//     <html><body>, a page with one paragraph, no client component), built with this checkout's
//     Next (its node_modules, symlinked) and the product's bundle-affecting options (reactStrictMode
//     …), production, served by `next start`. Built in .bench/floor-app/, again only when Next,
//     React or those options change.
//   - where the weight goes (/join and /session): the product built once more with
//     productionBrowserSourceMaps (added by a module hook when Next imports next.config.js, the file
//     itself untouched) into .bench/page-weight/next-maps (its own distDir and tsconfig, so .next is
//     untouched; rebuilt only when the sources change, by scripts/build-stale.mjs's rule), served
//     and loaded the same way; each chunk's characters are attributed to the source module that
//     produced them (its source map), modules are grouped by npm package (or project file), and a
//     group's gzip cost is what removing its code from the chunks would save (gzip is not additive;
//     the marginal figure is the honest one). "Above the floor" counts only modules the floor page
//     does not load (the floor is built a second time with source maps for that). Turbopack's
//     output with source maps is a near twin of the shipped one (a few hundred bytes of module glue
//     differ per large chunk): the difference is reported.
//   - why it is there: Next's own analyzer (`next analyze -o`, Turbopack's module graph, into
//     .bench/page-weight/analyze, again only when stale) gives, per group, the client modules that
//     import it and the shortest import chain from the page's entries (static imports only).
//
// Builds run under `nice -n 10`. Alone: `npm run bench:weight` prints the rows and adds `pageWeight`
// to .bench/results.json. Environment (optional): BENCH_APP_DIR.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import { buildState } from '../scripts/build-stale.mjs';
import { addToResults, freePort, launchBrowser, runAlone, startChild, waitHttp } from './harness.mjs';
import { printRows } from './summary.mjs';
import { buildIfStale, startProduct } from './product.mjs';

export const PAGES = [
  { path: '/', name: 'landing' },
  { path: '/join', name: 'Join Us' },
  { path: '/help', name: 'help' },
  { path: '/agent', name: 'agent' },
  { path: '/session/bench-weight-0000', name: 'session view', session: true },
];
/** The Join Us page's budget above the floor (issue 11). */
export const JOIN_TARGET_KB = 15;
const GZIP_LEVEL = 6;
const BROTLI_QUALITY = 11;
const LATER_QUIET_MS = 1000;
const LATER_MAX_MS = 5000;
const BUILD_TIMEOUT_MS = 300_000;
/** Options of the product's next.config.js that change what the browser gets; the floor copies them. */
const BUNDLE_OPTIONS = [
  'reactStrictMode',
  'compiler',
  'experimental',
  'transpilePackages',
  'modularizeImports',
  'basePath',
  'assetPrefix',
  'trailingSlash',
  'crossOrigin',
  'cacheComponents',
  'reactCompiler',
  'turbopack',
];
const FLOOR_VERSION = 1; // bump when the floor app's files below change
const MAPS_DIST = '.bench/page-weight/next-maps';
const ANALYZE_DIST = '.bench/page-weight/analyze';
const ANALYZE_SNAPSHOT = 'page-weight';

const kB = (bytes) => bytes / 1000;
const fmtKB = (bytes) => `${kB(bytes).toFixed(1)}`;
const sum = (xs, f) => xs.reduce((a, x) => a + f(x), 0);

// ---------------------------------------------------------------------------------------------------
// Builds

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

const versionOf = (appDir, pkg) => readJson(join(appDir, 'node_modules', pkg, 'package.json'))?.version ?? null;

/** Wait for a child to end (at most `timeoutMs`, then its process group is killed). */
async function waitExit(entry, timeoutMs) {
  const closed = new Promise((resolve) => entry.child.on('close', (code, signal) => resolve({ code, signal })));
  let timer;
  const timedOut = new Promise((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
  });
  const exit = await Promise.race([closed, timedOut]);
  clearTimeout(timer);
  if (exit) return exit;
  try {
    process.kill(-entry.child.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  throw new Error(`${entry.name}: no result within ${timeoutMs / 1000} s:\n${entry.output().slice(-3000)}`);
}

/** `next <args>` (a build, an analysis) in `cwd` under `nice -n 10`, as a child the harness cleans up. */
async function nextRun(appDir, name, args, { cwd, env, log }) {
  const t0 = Date.now();
  const entry = startChild(name, 'nice', ['-n', '10', process.execPath, join(appDir, 'node_modules', 'next', 'dist', 'bin', 'next'), ...args], {
    cwd,
    env: { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1', ...env },
  });
  const exit = await waitExit(entry, BUILD_TIMEOUT_MS);
  if (exit.code !== 0) throw new Error(`${name} failed (${exit.code ?? exit.signal}):\n${entry.output().slice(-6000)}`);
  log(`${name}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return Date.now() - t0;
}

const nextBuild = (appDir, name, opts) => nextRun(appDir, name, ['build'], opts);

/**
 * Run `fn(env)` for a Next command on the product into `distDir` (under .bench): Next adds its type
 * folders to the tsconfig it builds with and points next-env.d.ts at the build's types, so it gets
 * a tsconfig of its own (extending the project's) and next-env.d.ts is put back after.
 */
async function withOwnTsconfig(appDir, distDir, fn) {
  const tsconfig = `${distDir}.tsconfig.json`;
  mkdirSync(join(appDir, distDir), { recursive: true });
  writeFileSync(join(appDir, tsconfig), `${JSON.stringify({ extends: relative(join(appDir, distDir, '..'), join(appDir, 'tsconfig.json')) }, null, 2)}\n`);
  const nextEnv = join(appDir, 'next-env.d.ts');
  const nextEnvBefore = existsSync(nextEnv) ? readFileSync(nextEnv, 'utf8') : null;
  try {
    return await fn({ JOINUS_NEXT_DIST_DIR: distDir, JOINUS_NEXT_TSCONFIG: tsconfig });
  } finally {
    if (nextEnvBefore !== null) writeFileSync(nextEnv, nextEnvBefore);
    else rmSync(nextEnv, { force: true });
  }
}

/** Whether `distDir` (with its stamp) is older than the sources or was made for another Next. */
function stale(appDir, distDir, stamp) {
  return buildState(appDir, distDir).stale || JSON.stringify(readJson(join(appDir, distDir, 'page-weight-stamp.json'))) !== JSON.stringify(stamp);
}

/**
 * A Node module hook (for `--import`, as a data: URL) that makes the project's next.config.js, as
 * Next imports it, the same config plus productionBrowserSourceMaps: the product's file is untouched.
 */
function sourceMapsConfigHook(configUrl) {
  const hook = `
const target = ${JSON.stringify(configUrl)};
export async function load(url, context, next) {
  if (url !== target) return next(url, context);
  const original = JSON.stringify(url + '?page-weight-original');
  return {
    format: 'module',
    shortCircuit: true,
    source: 'import base from ' + original + ';\\n' +
      'const add = (c) => ({ ...c, productionBrowserSourceMaps: true });\\n' +
      'export default typeof base === "function" ? async (...args) => add(await base(...args)) : add(base);\\n',
  };
}`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
  return `data:text/javascript,${encodeURIComponent(register)}`;
}

/** The product built with browser source maps into MAPS_DIST, when missing or older than its sources. */
async function ensureProductMaps(appDir, log) {
  const stamp = { next: versionOf(appDir, 'next'), sourceMaps: true };
  if (!stale(appDir, MAPS_DIST, stamp)) return null;
  log(`page weight: building the product with source maps (${MAPS_DIST})…`);
  rmSync(join(appDir, MAPS_DIST), { recursive: true, force: true });
  const startedAt = new Date();
  const configUrl = pathToFileURL(join(appDir, 'next.config.js')).href;
  const ms = await withOwnTsconfig(appDir, MAPS_DIST, (env) =>
    nextBuild(appDir, 'product build with source maps', {
      cwd: appDir,
      log,
      env: { ...env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${sourceMapsConfigHook(configUrl)}`.trim() },
    }),
  );
  const chunks = join(appDir, MAPS_DIST, 'static', 'chunks');
  if (!existsSync(chunks) || !readdirSync(chunks).some((f) => f.endsWith('.js.map'))) {
    throw new Error(`the build in ${MAPS_DIST} has no source maps: the next.config.js hook did not apply`);
  }
  writeFileSync(join(appDir, MAPS_DIST, 'page-weight-stamp.json'), `${JSON.stringify(stamp)}\n`);
  // Dated when the build began: a source saved during it makes the next run build again.
  utimesSync(join(appDir, MAPS_DIST, 'BUILD_ID'), startedAt, startedAt);
  return ms;
}

/**
 * The product's module graph from Next's own analyzer (`next analyze -o`, Turbopack's graph of every
 * route: which module imports which, per layer), into ANALYZE_DIST; again only when stale.
 */
async function ensureProductAnalysis(appDir, log) {
  const stamp = { next: versionOf(appDir, 'next'), analyze: true };
  if (!stale(appDir, ANALYZE_DIST, stamp)) return null;
  log(`page weight: analysing the product's module graph (next analyze, ${ANALYZE_DIST})…`);
  rmSync(join(appDir, ANALYZE_DIST, 'BUILD_ID'), { force: true });
  const startedAt = new Date();
  const ms = await withOwnTsconfig(appDir, ANALYZE_DIST, (env) =>
    nextRun(appDir, 'product analysis', ['analyze', '-o', '--experimental-app-only', '--snapshot', ANALYZE_SNAPSHOT], { cwd: appDir, log, env }),
  );
  // buildState's rule reads <distDir>/BUILD_ID, which an analysis does not write: a marker of that
  // name, dated when the analysis began (a source saved during it makes the next run analyse again).
  writeFileSync(join(appDir, ANALYZE_DIST, 'BUILD_ID'), `${ANALYZE_SNAPSHOT}\n`);
  utimesSync(join(appDir, ANALYZE_DIST, 'BUILD_ID'), startedAt, startedAt);
  writeFileSync(join(appDir, ANALYZE_DIST, 'page-weight-stamp.json'), `${JSON.stringify(stamp)}\n`);
  return ms;
}

/** One route's records of the saved analysis (`next analyze export`, JSON Lines). */
async function exportGraph(appDir, route) {
  const out = join(appDir, ANALYZE_DIST, `export-${route.replace(/[^a-z0-9]+/gi, '_')}.jsonl`);
  const next = join(appDir, 'node_modules', 'next', 'dist', 'bin', 'next');
  const entry = startChild('analysis export', 'sh', ['-c', 'exec "$@" > "$OUT"', 'sh', process.execPath, next, 'analyze', 'export', '--snapshot', ANALYZE_SNAPSHOT, '--route', route, '--dist-dir', ANALYZE_DIST], {
    cwd: appDir,
    env: { ...process.env, OUT: out, JOINUS_NEXT_DIST_DIR: ANALYZE_DIST, NEXT_TELEMETRY_DISABLED: '1' },
  });
  const exit = await waitExit(entry, 60_000);
  if (exit.code !== 0) throw new Error(`next analyze export ${route} failed (${exit.code ?? exit.signal}): ${entry.output().slice(-2000)}`);
  return readFileSync(out, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

/**
 * From a route's analysis: what is loaded with the page on the client (the bootstrap and the
 * render-dependent groups' modules, followed through static imports only), and per group (package
 * or file) the shortest import chain from those roots and the modules of other groups that import it.
 */
function importChains(records) {
  const client = (ident) => ident.includes(' [app-client] ');
  const modules = new Map();
  const roots = [];
  for (const r of records) {
    if (r.type === 'module' && client(r.ident)) modules.set(r.ident, r);
    else if (r.type === 'group' && (r.kind === 'bootstrap' || r.kind === 'render_dependent') && client(r.trigger_module_ident)) roots.push(r.trigger_module_ident);
  }
  const parent = new Map();
  const queue = [];
  for (const root of roots) {
    if (parent.has(root)) continue;
    parent.set(root, null);
    queue.push(root);
  }
  for (let i = 0; i < queue.length; i += 1) {
    for (const dep of modules.get(queue[i])?.dependencies?.sync ?? []) {
      if (parent.has(dep) || !client(dep)) continue;
      parent.set(dep, queue[i]);
      queue.push(dep);
    }
  }
  const keyOf = (ident) => moduleKey(modules.get(ident)?.path ?? ident.split(' ')[0]);
  const chainTo = (ident) => {
    const path = [];
    for (let at = ident; at !== null && at !== undefined; at = parent.get(at)) path.unshift(keyOf(at));
    // One entry per run of the same group (a package's internal hops say nothing), the target last.
    return path.filter((k, i) => i === 0 || i === path.length - 1 || groupOf(k) !== groupOf(path[i - 1]));
  };
  const groups = new Map();
  const entryOf = (g) => {
    let e = groups.get(g);
    if (!e) groups.set(g, (e = { chain: null, importedBy: new Set() }));
    return e;
  };
  for (const ident of queue) {
    const key = keyOf(ident);
    const e = entryOf(groupOf(key));
    e.chain ??= chainTo(ident); // breadth-first: the first module reached has the shortest chain
    for (const dep of modules.get(ident)?.dependencies?.sync ?? []) {
      if (!parent.has(dep)) continue;
      const g = groupOf(keyOf(dep));
      if (g !== groupOf(key)) entryOf(g).importedBy.add(key);
    }
  }
  return { roots: roots.map((r) => keyOf(r)), groups };
}

/** The floor app's files: an empty app-router page, nothing on the client but Next and React. */
function floorFiles(bundleOptions) {
  return {
    'package.json': `${JSON.stringify({ name: 'page-weight-floor', private: true }, null, 2)}\n`,
    'next.config.mjs': [
      '// Written by bench/page-weight.mjs: the product\'s bundle-affecting options, and two builds (with',
      '// and without browser source maps) side by side.',
      "const maps = process.env.BENCH_FLOOR_MAPS === '1';",
      `export default { ...${JSON.stringify(bundleOptions)}, poweredByHeader: false, distDir: maps ? '.next-maps' : '.next', productionBrowserSourceMaps: maps };`,
      '',
    ].join('\n'),
    'app/layout.jsx': [
      'export default function RootLayout({ children }) {',
      '  return (',
      '    <html lang="en">',
      '      <body>{children}</body>',
      '    </html>',
      '  );',
      '}',
      '',
    ].join('\n'),
    'app/page.jsx': ['export default function Page() {', '  return <p>Floor.</p>;', '}', ''].join('\n'),
  };
}

/** Build the floor app (both builds) unless it is there for this Next, React and these options. */
async function ensureFloor(appDir, log) {
  const dir = join(appDir, '.bench', 'floor-app');
  const productConfig = (await import(pathToFileURL(join(appDir, 'next.config.js')).href)).default;
  const resolved = typeof productConfig === 'function' ? await productConfig('phase-production-build', {}) : productConfig;
  const bundleOptions = Object.fromEntries(BUNDLE_OPTIONS.filter((k) => resolved[k] !== undefined).map((k) => [k, resolved[k]]));
  const files = floorFiles(bundleOptions);
  const stamp = {
    floor: FLOOR_VERSION,
    next: versionOf(appDir, 'next'),
    react: versionOf(appDir, 'react'),
    reactDom: versionOf(appDir, 'react-dom'),
    files: createHash('sha256').update(JSON.stringify(files)).digest('hex').slice(0, 16),
  };
  const stampFile = join(dir, 'stamp.json');
  const built = ['.next', '.next-maps'].every((d) => existsSync(join(dir, d, 'BUILD_ID')));
  const info = { dir, bundleOptions, next: stamp.next, react: stamp.react };
  if (built && JSON.stringify(readJson(stampFile)) === JSON.stringify(stamp)) return { ...info, buildMs: null };
  log(`page weight: building the floor (an empty Next ${stamp.next} page) in .bench/floor-app…`);
  rmSync(dir, { recursive: true, force: true });
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  symlinkSync(join(appDir, 'node_modules'), join(dir, 'node_modules'), 'dir');
  let buildMs = await nextBuild(appDir, 'floor build', { cwd: dir, log, env: { BENCH_FLOOR_MAPS: '0' } });
  buildMs += await nextBuild(appDir, 'floor build with source maps', { cwd: dir, log, env: { BENCH_FLOOR_MAPS: '1' } });
  writeFileSync(stampFile, `${JSON.stringify(stamp)}\n`);
  return { ...info, buildMs };
}

// ---------------------------------------------------------------------------------------------------
// Servers

async function stopChild(entry) {
  if (!entry || entry.exited) return;
  const gone = new Promise((resolve) => entry.child.once('exit', resolve));
  try {
    process.kill(-entry.child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-entry.child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, 4000);
  await gone;
  clearTimeout(timer);
}

/** `next start` of the floor app (its plain or its source-mapped build). */
async function startFloor(appDir, floorDir, maps) {
  const port = await freePort();
  const server = startChild(`floor server${maps ? ' (source maps)' : ''}`, process.execPath, [join(appDir, 'node_modules', 'next', 'dist', 'bin', 'next'), 'start', '-p', String(port), '-H', '127.0.0.1'], {
    cwd: floorDir,
    env: { ...process.env, NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1', BENCH_FLOOR_MAPS: maps ? '1' : '0' },
  });
  const base = `http://127.0.0.1:${port}`;
  await waitHttp(`${base}/`, { timeoutMs: 60_000, child: server });
  return { base, server, distDir: join(floorDir, maps ? '.next-maps' : '.next') };
}

// ---------------------------------------------------------------------------------------------------
// Loading a page

const SOURCE_MAP_COMMENT = /\n*\/\/# sourceMappingURL=[^\n]*\s*$/;
const SOURCE_MAP_COMMENT_URL = /\/\/# sourceMappingURL=(\S+)\s*$/;
/** A script's text as the plain build ships it: the source-mapped build's trailing comment dropped. */
const withoutMapComment = (text) => text.replace(SOURCE_MAP_COMMENT, '');

const compressCache = new Map();
/** Raw, gzip (level 6) and brotli (quality 11) sizes of a body. */
function sizes(buf) {
  const key = createHash('sha1').update(buf).digest('hex');
  let s = compressCache.get(key);
  if (!s) {
    s = {
      raw: buf.length,
      gzip: gzipSync(buf, { level: GZIP_LEVEL }).length,
      brotli: brotliCompressSync(buf, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: buf.length } }).length,
    };
    compressCache.set(key, s);
  }
  return s;
}

/**
 * Open `url` in a fresh context: every distinct script response until load + network idle (phase
 * `page`), then anything until the network has been quiet for LATER_QUIET_MS (phase `later`).
 * Bodies are kept (`text`, source-map comment dropped when `stripMapComment`).
 */
async function loadPage(browser, url, { stripMapComment = false, check } = {}) {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const scripts = new Map();
    const prefetches = [];
    let documentBody = null;
    let phase = 'page';
    let lastActivity = Date.now();
    let inFlight = 0;
    const pending = [];
    page.on('request', () => {
      inFlight += 1;
      lastActivity = Date.now();
    });
    const settled = () => {
      inFlight = Math.max(0, inFlight - 1);
      lastActivity = Date.now();
    };
    page.on('requestfailed', settled);
    page.on('requestfinished', settled);
    page.on('response', (res) => {
      const req = res.request();
      const type = req.resourceType();
      const contentType = res.headers()['content-type'] ?? '';
      if (type === 'document' && req.frame() === page.mainFrame() && documentBody === null) {
        documentBody = '';
        pending.push(res.body().then((b) => (documentBody = b.toString('utf8')), () => {}));
        return;
      }
      const headers = req.headers();
      if (headers.rsc === '1' && (headers['next-router-prefetch'] || headers['next-router-segment-prefetch'])) {
        const entry = { url: res.url(), phase, status: res.status() };
        prefetches.push(entry);
        pending.push(res.body().then((b) => Object.assign(entry, sizes(b)), () => Object.assign(entry, { noBody: true })));
        return;
      }
      if (type !== 'script' && !/javascript/.test(contentType)) return;
      if (scripts.has(res.url())) return;
      const entry = { url: res.url(), phase, status: res.status(), text: null };
      scripts.set(res.url(), entry);
      pending.push(
        res.body().then(
          (b) => {
            const text = b.toString('utf8');
            entry.text = stripMapComment ? withoutMapComment(text) : text;
            entry.mapUrl = stripMapComment ? (SOURCE_MAP_COMMENT_URL.exec(text)?.[1] ?? null) : null;
          },
          (e) => {
            entry.error = String(e?.message ?? e).split('\n')[0];
          },
        ),
      );
    });
    const response = await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
    if (!response?.ok()) throw new Error(`${url} answered ${response?.status() ?? 'nothing'}: ${(await response?.text().catch(() => '')) ?? ''}`.slice(0, 300));
    await page.waitForLoadState('networkidle', { timeout: 30_000 });
    if (check) await check(page);
    phase = 'later';
    // Later fetches (prefetches): wait until the network has been quiet for LATER_QUIET_MS.
    const laterDeadline = Date.now() + LATER_MAX_MS;
    lastActivity = Math.max(lastActivity, Date.now());
    while (Date.now() < laterDeadline && (inFlight > 0 || Date.now() - lastActivity < LATER_QUIET_MS)) {
      await page.waitForTimeout(50);
    }
    await Promise.all(pending);
    return { scripts: [...scripts.values()], prefetches, documentBody: documentBody ?? '', errors };
  } finally {
    await ctx.close();
  }
}

/** The weight of what `loadPage` saw: per script and per phase. */
function weigh(loaded, base) {
  const scripts = loaded.scripts.map((s) => {
    const size = s.text === null ? { raw: 0, gzip: 0, brotli: 0 } : sizes(Buffer.from(s.text, 'utf8'));
    return { url: s.url.startsWith(base) ? s.url.slice(base.length) : s.url, phase: s.phase, ...size, ...(s.error ? { error: s.error } : {}) };
  });
  const total = (phase) => {
    const xs = scripts.filter((s) => s.phase === phase);
    return { scripts: xs.length, raw: sum(xs, (s) => s.raw), gzip: sum(xs, (s) => s.gzip), brotli: sum(xs, (s) => s.brotli) };
  };
  const html = loaded.documentBody;
  const inline = [...html.matchAll(/<script\b(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]).join('\n');
  return {
    page: total('page'),
    later: total('later'),
    scripts,
    document: { ...sizes(Buffer.from(html, 'utf8')), inlineScriptRaw: Buffer.byteLength(inline) },
    prefetchedRouteData: {
      requests: loaded.prefetches.length,
      withoutBody: loaded.prefetches.filter((p) => p.noBody).length,
      gzip: sum(loaded.prefetches, (p) => p.gzip ?? 0),
      raw: sum(loaded.prefetches, (p) => p.raw ?? 0),
    },
    pageErrors: loaded.errors,
  };
}

// ---------------------------------------------------------------------------------------------------
// Source maps: which module each character of a chunk comes from

const B64 = new Int8Array(128).fill(-1);
[...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].forEach((c, i) => {
  B64[c.charCodeAt(0)] = i;
});

/** A v3 `mappings` string as, per generated line, a flat [column, sourceIndex or -1, …] array. */
function decodeMappings(mappings) {
  const lines = [[]];
  let line = lines[0];
  let col = 0;
  let src = 0;
  let i = 0;
  const n = mappings.length;
  const fields = [];
  while (i < n) {
    const c = mappings.charCodeAt(i);
    if (c === 59 /* ; */) {
      line = [];
      lines.push(line);
      col = 0;
      i += 1;
      continue;
    }
    if (c === 44 /* , */) {
      i += 1;
      continue;
    }
    fields.length = 0;
    while (i < n && mappings.charCodeAt(i) !== 44 && mappings.charCodeAt(i) !== 59) {
      let value = 0;
      let shift = 0;
      let digit;
      do {
        digit = B64[mappings.charCodeAt(i)];
        i += 1;
        if (digit < 0 || digit === undefined) throw new Error('bad source map mappings');
        value += (digit & 31) << shift;
        shift += 5;
      } while (digit & 32);
      fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
    }
    col += fields[0];
    if (fields.length >= 4) {
      src += fields[1];
      line.push(col, src);
    } else {
      line.push(col, -1);
    }
  }
  return lines;
}

/** Every (line, column, source) segment of a map, sections (index maps) flattened; sources global. */
function collectSegments(map, lineOffset, colOffset, sources, out) {
  if (map.sections) {
    for (const s of map.sections) collectSegments(s.map, lineOffset + s.offset.line, s.offset.line === 0 ? colOffset + s.offset.column : s.offset.column, sources, out);
    return;
  }
  const root = map.sourceRoot ?? '';
  const base = sources.length;
  for (const s of map.sources ?? []) sources.push(s === null ? null : root + s);
  decodeMappings(map.mappings ?? '').forEach((segs, li) => {
    const lineNo = lineOffset + li;
    const add = li === 0 ? colOffset : 0;
    for (let k = 0; k < segs.length; k += 2) out.push([lineNo, segs[k] + add, segs[k + 1] < 0 ? -1 : base + segs[k + 1]]);
  });
}

/** A source path as a module key: `pkg/path` under the last node_modules, or a project path. */
export function moduleKey(source) {
  if (!source) return '(unmapped)';
  let s = source.replace(/^[a-z-]+:\/\/\/?/i, '').replace(/\?.*$/, '');
  const nm = s.lastIndexOf('node_modules/');
  if (nm >= 0) return s.slice(nm + 'node_modules/'.length);
  if (/^\[turbopack\]/.test(s)) return `(turbopack runtime)/${s.replace(/^\[turbopack\]\/?/, '')}`;
  s = s.replace(/^\[project\]\//, '');
  return s;
}

const PROJECT_DIRS = new Set(['app', 'lib', 'features', 'signaling', '.bench']);

/** What a module key is counted under: its npm package, or the project file itself. */
export function groupOf(key) {
  if (key.startsWith('(')) return key.split('/')[0];
  const parts = key.split('/');
  if (parts.length === 1 || PROJECT_DIRS.has(parts[0])) return key;
  return key.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** A chunk's characters as runs of one module key each (from its source map). */
function chunkRuns(text, map) {
  const sources = [];
  const segs = [];
  collectSegments(map, 0, 0, sources, segs);
  segs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const keys = sources.map(moduleKey);
  const runs = [];
  const push = (start, end, key) => {
    if (end <= start) return;
    const last = runs[runs.length - 1];
    if (last && last.key === key && last.end === start) last.end = end;
    else runs.push({ start, end, key });
  };
  let pos = 0;
  for (let k = 0; k < segs.length; k += 1) {
    const [line, col, src] = segs[k];
    if (line >= lineStarts.length) break;
    const lineEnd = line + 1 < lineStarts.length ? lineStarts[line + 1] - 1 : text.length;
    const start = Math.min(lineStarts[line] + col, lineEnd);
    const next = segs[k + 1];
    const end = next && next[0] === line ? Math.min(lineStarts[line] + next[1], lineEnd) : lineEnd;
    if (start > pos) push(pos, start, '(unmapped)');
    push(Math.max(start, pos), end, src < 0 ? '(unmapped)' : keys[src] ?? '(unmapped)');
    pos = Math.max(pos, end);
  }
  if (pos < text.length) push(pos, text.length, '(unmapped)');
  return runs;
}

const gzipLen = (s) => gzipSync(Buffer.from(s, 'utf8'), { level: GZIP_LEVEL }).length;

/**
 * The page's chunks (from the source-mapped build), each attributed to module keys. For every group
 * (package or project file): raw bytes, and the gzip bytes removing its code would save; the same
 * for only its modules the floor does not load (`floorKeys`).
 */
function attribute(loaded, distDir, base, floorKeys) {
  const chunks = [];
  const groups = new Map();
  const group = (name) => {
    let g = groups.get(name);
    if (!g) {
      g = { name, raw: 0, gzip: 0, rawAboveFloor: 0, gzipAboveFloor: 0, modules: new Map() };
      groups.set(name, g);
    }
    return g;
  };
  for (const s of loaded.scripts.filter((x) => x.phase === 'page' && x.text !== null)) {
    const map = readSourceMap(s, distDir);
    const text = s.text;
    const chunkGzip = gzipLen(text);
    const chunk = { url: s.url.slice(base.length), raw: Buffer.byteLength(text), gzip: chunkGzip, groups: [] };
    chunks.push(chunk);
    if (!map) {
      chunk.note = 'no source map';
      continue;
    }
    const runs = chunkRuns(text, map);
    const byGroup = new Map();
    for (const r of runs) {
      const name = groupOf(r.key);
      let g = byGroup.get(name);
      if (!g) byGroup.set(name, (g = { raw: 0, runs: [], rawAbove: 0 }));
      const bytes = Buffer.byteLength(text.slice(r.start, r.end));
      g.raw += bytes;
      g.runs.push(r);
      const above = !floorKeys.has(r.key) && r.key !== '(unmapped)';
      if (above) g.rawAbove += bytes;
      const pg = group(name);
      pg.modules.set(r.key, (pg.modules.get(r.key) ?? 0) + bytes);
    }
    const without = (drop) => runs.filter((r) => !drop(r)).map((r) => text.slice(r.start, r.end)).join('');
    for (const [name, g] of byGroup) {
      const inGroup = (r) => groupOf(r.key) === name;
      const saved = chunkGzip - gzipLen(without(inGroup));
      const savedAbove = g.rawAbove === 0 ? 0 : g.rawAbove === g.raw ? saved : chunkGzip - gzipLen(without((r) => inGroup(r) && !floorKeys.has(r.key) && r.key !== '(unmapped)'));
      chunk.groups.push({ name, raw: g.raw, gzip: saved, rawAboveFloor: g.rawAbove, gzipAboveFloor: savedAbove });
      const pg = group(name);
      pg.raw += g.raw;
      pg.gzip += saved;
      pg.rawAboveFloor += g.rawAbove;
      pg.gzipAboveFloor += savedAbove;
    }
    chunk.groups.sort((a, b) => b.raw - a.raw);
  }
  chunks.sort((a, b) => b.gzip - a.gzip);
  const list = [...groups.values()]
    .map((g) => ({
      name: g.name,
      raw: g.raw,
      gzip: g.gzip,
      rawAboveFloor: g.rawAboveFloor,
      gzipAboveFloor: g.gzipAboveFloor,
      // The group's largest modules, those the floor does not load first.
      topModules: [...g.modules.entries()]
        .map(([key, raw]) => ({ key, raw, inFloor: floorKeys.has(key) }))
        .sort((a, b) => a.inFloor - b.inFloor || b.raw - a.raw)
        .slice(0, 6),
    }))
    .sort((a, b) => b.gzipAboveFloor - a.gzipAboveFloor || b.gzip - a.gzip);
  return { chunks, groups: list };
}

/** The source map of a script the source-mapped build served (named by its sourceMappingURL comment). */
function readSourceMap(script, distDir) {
  const path = new URL(script.url).pathname;
  if (!path.startsWith('/_next/') || !script.mapUrl || /^[a-z]+:/i.test(script.mapUrl)) return null;
  return readJson(join(distDir, decodeURIComponent(path.slice('/_next/'.length)), '..', decodeURIComponent(script.mapUrl)));
}

/** The module keys the floor page loads (from the floor's source-mapped build). */
function floorModuleKeys(loaded, distDir) {
  const keys = new Set();
  for (const s of loaded.scripts.filter((x) => x.phase === 'page' && x.text !== null)) {
    const map = readSourceMap(s, distDir);
    if (!map) continue;
    for (const r of chunkRuns(s.text, map)) keys.add(r.key);
  }
  keys.delete('(unmapped)');
  return keys;
}

// ---------------------------------------------------------------------------------------------------
// The measurement

/**
 * The source-mapped build against the shipped one, for the same page: Turbopack's output differs
 * slightly with source maps on (a few hundred bytes of module glue per large chunk), so the
 * breakdown is of a near twin; this says how near.
 */
function compareBuilds(mapped, shipped) {
  return {
    sameScriptCount: mapped.page.scripts === shipped.page.scripts,
    rawDiff: mapped.page.raw - shipped.page.raw,
    gzipDiff: mapped.page.gzip - shipped.page.gzip,
  };
}

const sessionCheck = async (page) => {
  await page.getByRole('heading', { name: 'Session not open here' }).waitFor({ timeout: 10_000 });
};

/**
 * Build what is missing (the product if stale, its source-mapped twin and analysis, the floor), load
 * each page and the floor, attribute /join's and /session's chunks. `browser`: from launchBrowser().
 * `product`: a running product (startProduct) to measure, else one is built if stale, started and
 * stopped here. Returns a JSON-able result (rows: pageWeightRows).
 */
export async function measurePageWeight({ appDir, log = console.log, browser, product: given = null }) {
  const t0 = Date.now();
  const result = { what: 'page weight (JavaScript loaded by each page)', gzipLevel: GZIP_LEVEL, brotliQuality: BROTLI_QUALITY, pages: [], floor: null, breakdown: {} };
  const failed = (what) => (err) => {
    log(`page weight: ${what} failed: ${err?.stack ?? err}`);
    return { error: String(err?.message ?? err).split('\n')[0] };
  };
  const productBuildMs = given ? null : buildIfStale(appDir, log);
  const floorInfo = await ensureFloor(appDir, log).catch(failed('the floor build'));
  const mapsBuildMs = await ensureProductMaps(appDir, log).catch(failed('the source-mapped build'));
  const analysisMs = await ensureProductAnalysis(appDir, log).catch(failed('the analysis'));
  const ms = (x) => (typeof x === 'number' ? x : null);
  result.builds = { productMs: productBuildMs, floorMs: ms(floorInfo.buildMs), sourceMapsMs: ms(mapsBuildMs), analysisMs: ms(analysisMs) };
  result.next = versionOf(appDir, 'next');
  result.react = versionOf(appDir, 'react');

  // The product, as it ships.
  const product = given ?? (await startProduct(appDir));
  try {
    for (const p of PAGES) {
      try {
        const loaded = await loadPage(browser, product.base + p.path, { check: p.session ? sessionCheck : undefined });
        result.pages.push({ ...p, ...weigh(loaded, product.base) });
        log(`page weight: ${p.path} ${fmtKB(result.pages.at(-1).page.gzip)} kB gzip in ${result.pages.at(-1).page.scripts} scripts`);
      } catch (err) {
        result.pages.push({ ...p, error: String(err?.message ?? err).split('\n')[0], serverLog: product.server?.output?.().slice(-2000) });
        log(`page weight: ${p.path} failed: ${err?.message ?? err}`);
      }
    }
  } finally {
    if (!given) await stopChild(product.server);
  }

  // The floor, and its modules.
  let floorKeys = new Set();
  result.floor = floorInfo.error
    ? floorInfo
    : await (async () => {
        const floor = await startFloor(appDir, floorInfo.dir, false);
        let weighed;
        try {
          weighed = { next: floorInfo.next, react: floorInfo.react, options: floorInfo.bundleOptions, ...weigh(await loadPage(browser, `${floor.base}/`), floor.base) };
        } finally {
          await stopChild(floor.server);
        }
        const floorMaps = await startFloor(appDir, floorInfo.dir, true);
        try {
          const loaded = await loadPage(browser, `${floorMaps.base}/`, { stripMapComment: true });
          floorKeys = floorModuleKeys(loaded, floorMaps.distDir);
          weighed.sourceMappedVsShipped = compareBuilds(weigh(loaded, floorMaps.base), weighed);
          weighed.modules = floorKeys.size;
        } finally {
          await stopChild(floorMaps.server);
        }
        log(`page weight: floor ${fmtKB(weighed.page.gzip)} kB gzip in ${weighed.page.scripts} scripts (${floorKeys.size} modules)`);
        return weighed;
      })().catch(failed('the floor'));
  if (result.floor.page) {
    for (const p of result.pages.filter((x) => x.page)) p.aboveFloor = { gzip: p.page.gzip - result.floor.page.gzip, brotli: p.page.brotli - result.floor.page.brotli, raw: p.page.raw - result.floor.page.raw };
  }

  // Where /join's and /session's weight goes, and (from the analysis) what imports it.
  if (mapsBuildMs?.error) {
    result.breakdown = mapsBuildMs;
  } else {
    await (async () => {
      const maps = await startProduct(appDir, { distDir: MAPS_DIST });
      try {
        for (const p of PAGES.filter((x) => x.path === '/join' || x.session)) {
          const loaded = await loadPage(browser, maps.base + p.path, { stripMapComment: true, check: p.session ? sessionCheck : undefined });
          const real = result.pages.find((x) => x.path === p.path);
          const b = { ...attribute(loaded, maps.distDir, maps.base, floorKeys), sourceMappedVsShipped: real?.page ? compareBuilds(weigh(loaded, maps.base), real) : null };
          result.breakdown[p.session ? '/session' : p.path] = b;
          if (analysisMs?.error) {
            b.imports = analysisMs;
            continue;
          }
          const route = p.session ? '/session/[sessionId]' : p.path;
          const chains = importChains(await exportGraph(appDir, route));
          b.imports = { route, roots: chains.roots };
          for (const g of b.groups) {
            const c = chains.groups.get(g.name);
            g.importedBy = c ? [...c.importedBy].sort() : null;
            g.chain = c?.chain ?? null;
          }
        }
      } finally {
        await stopChild(maps.server);
      }
    })().catch((err) => {
      result.breakdown.error = failed('the breakdown')(err).error;
    });
  }
  const joinPage = result.pages.find((p) => p.path === '/join');
  result.joinTarget = { aboveFloorGzipKB: JOIN_TARGET_KB, met: joinPage?.aboveFloor ? kB(joinPage.aboveFloor.gzip) <= JOIN_TARGET_KB : null };
  result.durationMs = Date.now() - t0;
  return result;
}

// ---------------------------------------------------------------------------------------------------
// Rows for the bench's table

/** Rows for the caller's table: sections, and label/value rows (value already formatted). */
export function pageWeightRows(r) {
  const rows = [{ section: `PAGE WEIGHT: JavaScript each page loads (gzip level ${GZIP_LEVEL}; brotli q${BROTLI_QUALITY}; raw), kB = 1000 bytes` }];
  if (!r || r.error) {
    rows.push({ label: 'failed', value: String(r?.error ?? 'no result') });
    return rows;
  }
  const fmt = (t) => `${fmtKB(t.gzip)} kB gzip (br ${fmtKB(t.brotli)}, raw ${fmtKB(t.raw)}), ${t.scripts} scripts`;
  if (r.floor?.page) {
    rows.push({ label: `floor: empty Next ${r.floor.next} app-router page`, value: fmt(r.floor.page) });
  } else {
    rows.push({ label: 'floor', value: `not measured: ${r.floor?.error ?? '?'}` });
  }
  for (const p of r.pages) {
    if (p.error) {
      rows.push({ label: `${p.path} (${p.name})`, value: `failed: ${p.error}` });
      continue;
    }
    const above = p.aboveFloor ? `, +${fmtKB(p.aboveFloor.gzip)} above the floor` : '';
    const notes = [];
    notes.push(p.later.scripts ? `later: +${fmtKB(p.later.gzip)} kB in ${p.later.scripts} scripts` : 'later: no script');
    if (p.prefetchedRouteData.requests) notes.push(`${p.prefetchedRouteData.requests} route-data prefetches (RSC, ${fmtKB(p.prefetchedRouteData.gzip)} kB)`);
    if (p.session) notes.push('no credential: "Session not open here"');
    if (p.pageErrors.length) notes.push(`${p.pageErrors.length} page errors`);
    rows.push({
      label: `${p.path.startsWith('/session') ? '/session/<id>' : p.path} (${p.name})`,
      value: `${fmt(p.page)}${above}`,
      ...(p.path === '/join' ? { target: `≤ ${JOIN_TARGET_KB} kB above the floor` } : {}),
      ...(notes.length ? { note: notes.join('; ') } : {}),
    });
  }
  const b = r.breakdown?.['/join'];
  if (b) {
    b.groups
      .filter((g) => g.gzipAboveFloor > 0)
      .slice(0, 3)
      .forEach((g, i) =>
        rows.push({
          label: `  /join above the floor #${i + 1}: ${g.name}`,
          value: `${fmtKB(g.gzipAboveFloor)} kB gzip saved without it (raw ${fmtKB(g.rawAboveFloor)})`,
          ...(g.importedBy?.length ? { note: `imported by ${g.importedBy.slice(0, 3).join(', ')}${g.importedBy.length > 3 ? ', …' : ''}` } : {}),
        }),
      );
  } else if (r.breakdown?.error) {
    rows.push({ label: '  /join breakdown', value: `failed: ${r.breakdown.error}` });
  }
  return rows;
}

/** The breakdown as text (alone: printed after the rows). */
function printBreakdown(r) {
  for (const [page, b] of Object.entries(r.breakdown ?? {})) {
    if (!b?.chunks) continue;
    console.log(`\n${page}: chunks by gzip size (groups by raw bytes; gzip = what removing the group would save)`);
    for (const c of b.chunks.slice(0, 8)) {
      const top = c.groups
        .slice(0, 5)
        .map((g) => `${g.name} ${fmtKB(g.raw)}${g.gzip ? `/${fmtKB(g.gzip)}` : ''}`)
        .join(', ');
      console.log(`   ${c.url.padEnd(44)} ${fmtKB(c.gzip).padStart(6)} kB gzip  ${top}`);
    }
    console.log(`${page}: above the floor, by package or file (gzip saved without it / raw)`);
    for (const g of b.groups.filter((x) => x.gzipAboveFloor > 0).slice(0, 14)) {
      const why = g.importedBy?.length ? `  ← ${g.importedBy.slice(0, 4).join(', ')}${g.importedBy.length > 4 ? ', …' : ''}` : '';
      console.log(`   ${g.name.padEnd(44)} ${fmtKB(g.gzipAboveFloor).padStart(6)} / ${fmtKB(g.rawAboveFloor).padStart(6)}${why}`);
      if (g.chain?.length > 2) console.log(`   ${''.padEnd(44)}   chain: ${g.chain.join(' → ')}`);
    }
    const s = b.sourceMappedVsShipped;
    if (!s) continue;
    const signed = (x) => `${x >= 0 ? '+' : ''}${x}`;
    console.log(`   (the source-mapped twin against the shipped build: ${s.sameScriptCount ? 'same' : 'a different'} number of scripts, raw ${signed(s.rawDiff)} bytes, gzip ${signed(s.gzipDiff)} bytes)`);
  }
}

// ---- alone: npm run bench:weight ----

const isMain = process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;

if (isMain) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const appDir = process.env.BENCH_APP_DIR ?? root;
  // Builds and page loads only: nothing here is timed, so everything (builds, servers, browser) runs niced.
  setPriority(10);
  await runAlone('bench:weight', 900_000, async ({ log, started }) => {
    const browser = await launchBrowser();
    const pageWeight = await measurePageWeight({ appDir, log, browser });
    pageWeight.date = new Date().toISOString();
    pageWeight.chromium = browser.version();
    addToResults(join(root, '.bench', 'results.json'), { pageWeight });
    printRows('PAGE WEIGHT (npm run bench:weight)', pageWeightRows(pageWeight));
    printBreakdown(pageWeight);
    console.log(`\nadded pageWeight to .bench/results.json (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    const bad = pageWeight.pages.filter((p) => p.error || !p.page.scripts).map((p) => p.path);
    if (bad.length) throw new Error(`no weight for ${bad.join(', ')}; see .bench/results.json`);
  });
}
