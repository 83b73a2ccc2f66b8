#!/usr/bin/env node
// Two (or more) builds of the product side by side, for a decision on the join (docs/decisions/0024):
//   node --import tsx bench/ab-join.mjs <checkout A> <checkout B> [<checkout C> …]
// Each checkout (`git worktree add <dir> <commit>`, then `cp -al node_modules <dir>/`: Next's build
// refuses a node_modules symlinked from outside the checkout) is built if stale and served on a port of its
// own, with an agent and a customer in a session of its own, all in one browser. Then N rounds
// (BENCH_AB_ROUNDS, default 30): in each, one join per build (bench/product.mjs `joinOnce`), in
// alternating order, so that a machine that speeds up or slows down does so for every build alike.
// Prints per build the medians of the product's marks (ms after "Join Us" clicked), the p90 of the
// transcript on screen, the medians of the steps between marks, and the median of the paired
// differences against the first build (joins of the same round); writes every join to
// .bench/ab-join.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanup, launchBrowser, stopChild, summarize } from './harness.mjs';
import { buildIfStale, joinOnce, openSession, startProduct } from './product.mjs';

const dirs = process.argv.slice(2).map((d) => resolve(d));
if (dirs.length < 2) {
  console.error('usage: node --import tsx bench/ab-join.mjs <checkout A> <checkout B> [...]');
  process.exit(2);
}
const ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? 30);
const names = dirs.map((_, i) => String.fromCharCode(65 + i));
const log = (line) => console.error(line);

const products = [];
const browser = await launchBrowser();
const joins = names.map(() => []);
try {
  for (const dir of dirs) {
    buildIfStale(dir, log);
    products.push(await startProduct(dir));
  }
  const sessions = [];
  for (const product of products) sessions.push(await openSession(browser, product));
  // One join each first, not counted: code and connections warm.
  for (let k = 0; k < dirs.length; k++) await joinOnce(browser, products[k], sessions[k], 0);
  for (let i = 1; i <= ROUNDS; i++) {
    const order = names.map((_, k) => k);
    if (i % 2 === 0) order.reverse();
    for (const k of order) {
      try {
        joins[k].push(await joinOnce(browser, products[k], sessions[k], i));
      } catch (err) {
        joins[k].push(null);
        log(`${names[k]} round ${i}: ${String(err).slice(0, 200)}`);
      }
    }
    if (i % 5 === 0) log(`round ${i}/${ROUNDS}`);
  }
} finally {
  await browser.close().catch(() => {});
  for (const p of products) await stopChild(p.server).catch(() => {});
  await cleanup();
}

// Medians and p90 as `npm run bench` reports them (harness.mjs `summarize`; a failed join counts as failed).
const median = (xs) => summarize(xs).median ?? NaN;
const p90 = (xs) => summarize(xs).p90 ?? NaN;
const at = (x, mark) => (x === null ? null : mark === 'shown' ? x.clickToTranscriptMs : (x.steps[mark] ?? null));
const marks = ['login', 'mesh-start', 'channel', 'synced', 'view', 'shown'];
const f = (x) => (Number.isNaN(x) ? '—' : x.toFixed(1)).padStart(8);
console.log(`build  joins${marks.map((m) => m.padStart(11)).join('')}   p90 shown   agent sees`);
names.forEach((name, k) => {
  const xs = joins[k];
  console.log(
    `${name.padEnd(5)} ${String(xs.filter(Boolean).length).padStart(6)}` +
      marks.map((m) => f(median(xs.map((x) => at(x, m)))).padStart(11)).join('') +
      f(p90(xs.map((x) => at(x, 'shown')))).padStart(12) +
      f(median(xs.map((x) => x?.clickToAgentSeesMs ?? null))).padStart(13),
  );
});
const steps = [
  ['login', 'mesh-start'],
  ['mesh-start', 'channel'],
  ['channel', 'synced'],
  ['synced', 'view'],
];
for (const [a, b] of steps) {
  const per = names.map((name, k) => `${name} ${f(median(joins[k].map((x) => (x ? at(x, b) - at(x, a) : null)))).trim()}`);
  console.log(`${`${a} → ${b}`.padEnd(22)} ${per.join('   ')}`);
}
for (let k = 1; k < names.length; k++) {
  const diffs = joins[k].map((x, i) => (x && joins[0][i] ? x.clickToTranscriptMs - joins[0][i].clickToTranscriptMs : null));
  console.log(`${names[k]} − A, transcript on screen, same round: median ${f(median(diffs)).trim()} ms`);
}
const out = join(fileURLToPath(new URL('..', import.meta.url)), '.bench');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'ab-join.json'), JSON.stringify({ date: new Date().toISOString(), builds: Object.fromEntries(names.map((n, k) => [n, { dir: dirs[k], joins: joins[k] }])) }, null, 1));
process.exit(0);
