// Provider-level runs: two Chromium contexts, peer A holding the document, peer B starting late.
// Stock: y-webrtc's WebrtcProvider with its reference signaling server (node_modules/y-webrtc/bin/
// server.js). Ours: lib/p2p/mesh-provider.ts with signaling through bench/relay.mjs.
import { createServer } from 'node:http';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import * as esbuild from 'esbuild';
import { attachRelay } from './relay.mjs';
import { freePort, onCleanup, startChild, waitHttp } from './harness.mjs';

async function bundle(root, entry) {
  const r = await esbuild.build({
    entryPoints: [join(root, 'bench', 'pages', entry)],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    // The package's own browser build (the one y-webrtc imports): the full entry needs Node
    // polyfills (events, stream) that Next supplies and esbuild does not. Same version, same code.
    plugins: [
      {
        name: 'simple-peer-browser-build',
        setup(build) {
          build.onResolve({ filter: /^simple-peer$/ }, (args) => build.resolve('simple-peer/simplepeer.min.js', { kind: args.kind, resolveDir: args.resolveDir }));
        },
      },
    ],
    define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
    logLevel: 'silent',
  });
  return r.outputFiles[0].text;
}

const html = (script) => `<!doctype html><html><head><meta charset="utf-8"><title>bench</title></head><body><script src="/${script}"></script></body></html>`;

export async function startProviderRig(root) {
  const [stockJs, oursJs] = await Promise.all([bundle(root, 'stock-entry.mjs'), bundle(root, 'ours-entry.mjs')]);
  const files = {
    '/stock.html': ['text/html', html('stock.js')],
    '/ours.html': ['text/html', html('ours.js')],
    '/stock.js': ['text/javascript', stockJs],
    '/ours.js': ['text/javascript', oursJs],
  };
  const server = createServer((req, res) => {
    const f = files[req.url ?? ''];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    res
      .writeHead(200, {
        'content-type': `${f[0]}; charset=utf-8`,
        'cache-control': 'no-store',
        // Cross-origin isolated: the pages' performance.now() then ticks in 5 µs, not 100 µs (the
        // fan-out's figures are a few milliseconds).
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      })
      .end(f[1]);
  });
  const relay = attachRelay(server);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise((resolve) => relay.close(() => resolve())));
  const base = `http://127.0.0.1:${server.address().port}`;

  const port = await freePort();
  const ysig = startChild('y-webrtc signaling server', process.execPath, [join(root, 'node_modules', 'y-webrtc', 'bin', 'server.js')], {
    cwd: root,
    env: { ...process.env, PORT: String(port) },
  });
  await waitHttp(`http://127.0.0.1:${port}/`, { timeoutMs: 10_000, child: ysig });
  return { base, stockSignaling: `ws://127.0.0.1:${port}`, bundleBytes: { stock: stockJs.length, ours: oursJs.length } };
}

async function openPage(browser, rig, kind, errors, name) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  page.on('pageerror', (e) => errors.push(`${name}: ${e.message}`));
  await page.goto(`${rig.base}/${kind}.html`);
  return { ctx, page };
}

/**
 * Peers A and B, each in its own browser context, on the bundle page for `kind`. A's page and the
 * default B page stay loaded across measurements (a room, a document and providers are new every
 * time): B is then "warm", its browser has made peer connections before. `freshB()` opens another
 * context for B that has never made one, like a party that has just opened the Join Us page.
 */
export async function openPair(browser, rig, kind) {
  const errors = [];
  const [A, B] = await Promise.all([openPage(browser, rig, kind, errors, 'A'), openPage(browser, rig, kind, errors, 'B')]);
  const where = () => {
    const room = `bench-${randomUUID()}`;
    return kind === 'stock' ? { signaling: rig.stockSignaling, room } : { url: rig.base, room };
  };
  const pa = A.page;
  return {
    kind,
    freshB: () => openPage(browser, rig, kind, errors, 'fresh B'),
    /** A fills the document and connects; returns a function that starts B and resolves with its timings. */
    async prepare({ entries, entryChars }, b = B) {
      const pb = b.page;
      await Promise.all([pa.evaluate(() => window.JB.resetStats()), pb.evaluate(() => window.JB.resetStats())]);
      const at = where();
      const a = await pa.evaluate((p) => window.JB.startA(p), { ...at, entries, entryChars });
      return async ({ timeoutMs }) => {
        try {
          const r = await pb.evaluate((p) => window.JB.joinB(p), { ...at, expectEntries: entries, timeoutMs });
          const sender = await pa.evaluate(() => window.JB.channelStats());
          return { ...r, updateBytes: a.updateBytes, sender, errors: errors.splice(0) };
        } finally {
          await Promise.allSettled([pa.evaluate(() => window.JB.stop()), pb.evaluate(() => window.JB.stop())]);
          if (b !== B) await b.ctx.close();
        }
      };
    },
    senderStats: () => pa.evaluate(() => window.JB.channelStats()),
    /** A's and B's pages, between measurements (the raw floors). */
    pages: [A.page, B.page],
    async measure(opts, b = B) {
      const join = await this.prepare(opts, b);
      return join(opts);
    },
    close: () => Promise.allSettled([A.ctx.close(), B.ctx.close()]),
  };
}
