// Plumbing for bench/run.mjs: child processes that are always cleaned up, free ports, waiting for
// HTTP, the browser, statistics.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createServer } from 'node:net';
import { chromium } from '@playwright/test';

const children = new Set();
const closers = [];

/** Start a child in its own process group, so cleanup ends it and everything it started. */
export function startChild(name, command, args, { cwd, env }) {
  if (cleaning) throw new Error(`not starting ${name}: shutting down`);
  const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const entry = { name, child, output: () => output, exited: false };
  child.on('exit', (code, signal) => {
    entry.exited = true;
    entry.exit = { code, signal };
    children.delete(entry);
  });
  children.add(entry);
  return entry;
}

/** End one child's process group now: TERM, then KILL after 5 s; resolves once it has exited. */
export async function stopChild(entry) {
  if (!entry || entry.exited) return;
  const exited = new Promise((resolve) => entry.child.once('exit', resolve));
  const signal = (sig) => {
    try {
      process.kill(-entry.child.pid, sig);
    } catch {
      /* already gone */
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export function onCleanup(fn) {
  closers.push(fn);
}

let cleaning = null;
/** Close the browser and servers, then end every child's process group (TERM, then KILL). */
export function cleanup() {
  cleaning ??= (async () => {
    for (const fn of closers.reverse()) {
      await Promise.race([Promise.resolve().then(fn).catch(() => {}), sleep(5000)]);
    }
    const alive = [...children];
    for (const c of alive) killGroup(c.child.pid, 'SIGTERM');
    const deadline = Date.now() + 4000;
    while (alive.some((c) => !c.exited) && Date.now() < deadline) await sleep(50);
    for (const c of alive) if (!c.exited) killGroup(c.child.pid, 'SIGKILL');
  })();
  return cleaning;
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Poll `url` until it answers with `status` (or any 2xx/3xx), the child dies, or time runs out. */
export async function waitHttp(url, { timeoutMs, child }) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child?.exited) throw new Error(`${child.name} exited (${JSON.stringify(child.exit)}):\n${child.output()}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (r.status < 400) return;
    } catch {
      /* not up yet */
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms${child ? `:\n${child.output()}` : ''}`);
}

/** ENGINEERING.md "Environment facts": Debian Chromium with flags that keep WebRTC robust offline. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

export async function launchBrowser() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
  onCleanup(() => browser.close());
  return browser;
}

/** min / median / p90 / p99 / max (nearest rank) of the numbers in `xs`; nulls count as failures. */
export function summarize(xs) {
  const ok = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  const rank = (p) => ok[Math.min(ok.length - 1, Math.max(0, Math.ceil(p * ok.length) - 1))];
  const round = (x) => Math.round(x * 10) / 10;
  if (ok.length === 0) return { n: 0, failed: xs.length, min: null, median: null, p90: null, p99: null, max: null };
  const mid = ok.length / 2;
  const median = ok.length % 2 ? ok[Math.floor(mid)] : (ok[mid - 1] + ok[mid]) / 2;
  return {
    n: ok.length,
    failed: xs.length - ok.length,
    min: round(ok[0]),
    median: round(median),
    p90: round(rank(0.9)),
    p99: round(rank(0.99)),
    max: round(ok[ok.length - 1]),
  };
}

/**
 * Runs one bench part on its own (`npm run bench:voice`, `npm run bench:queue`): a log with elapsed
 * seconds, a watchdog at `budgetMs`, cleanup of every child on a signal or a crash, and the exit code
 * (1 when `run` throws). `run({ log, started })` does the measuring and printing.
 */
export async function runAlone(name, budgetMs, run) {
  const started = Date.now();
  const log = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${msg}`);
  const watchdog = setTimeout(() => {
    console.error(`${name}: over the ${budgetMs / 1000} s budget, giving up`);
    void cleanup().finally(() => process.exit(1));
  }, budgetMs);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void cleanup().finally(() => process.exit(130)));
  for (const event of ['unhandledRejection', 'uncaughtException']) {
    process.on(event, (err) => {
      console.error(`${name} failed (${event}): ${err?.stack ?? err}`);
      void cleanup().finally(() => process.exit(1));
    });
  }
  let code = 0;
  try {
    await run({ log, started });
  } catch (err) {
    console.error(`${name} failed: ${err?.stack ?? err}`);
    code = 1;
  }
  clearTimeout(watchdog);
  await cleanup();
  process.exit(code);
}

/**
 * Write `parts` (e.g. `{ queueScale }`) over the same keys of the results file (.bench/results.json),
 * keeping every other part's latest figures; a missing or unreadable file starts empty.
 */
export function addToResults(file, parts) {
  let results = {};
  try {
    results = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    results = {};
  }
  mkdirSync(dirname(file), { recursive: true });
  const merged = { ...results, ...parts };
  writeFileSync(file, `${JSON.stringify(merged, null, 2)}\n`);
  return merged;
}

/**
 * Counts the warnings (pino level 40) and errors (50 and up) a child writes to its stdout, one JSON
 * line per entry, keeping the first three lines at `examplesFrom` or above as examples.
 */
export function countLogged(child, { examplesFrom = 40 } = {}) {
  const logged = { warn: 0, error: 0, examples: [] };
  let partial = '';
  child.stdout.on('data', (chunk) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? 0);
      if (level >= 40) logged[level >= 50 ? 'error' : 'warn']++;
      if (level >= examplesFrom && logged.examples.length < 3) logged.examples.push(line.slice(0, 300));
    }
  });
  return logged;
}
