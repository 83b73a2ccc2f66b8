#!/usr/bin/env node
// `npm test`: unit and integration tests (vitest), then the browser tests (Playwright, real Chromium
// against the real product). `npm run test:e2e` (--e2e-only) skips vitest. Any other arguments go to
// `playwright test` (for example a file or `--grep S3`).
//
// Ends with one line `N passed, M failed` (both runners added up) for CI, and exits non-zero when
// either runner failed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const CHROMIUM = '/usr/bin/chromium';
const root = new URL('..', import.meta.url).pathname;
const results = join(root, 'test-results');
const vitestJson = join(results, 'vitest.json');
const playwrightJson = join(results, 'e2e.json');

const args = process.argv.slice(2);
const e2eOnly = args.includes('--e2e-only');
const playwrightArgs = args.filter((a) => a !== '--e2e-only');

function run(command, commandArgs, env = {}) {
  console.log(`\n$ ${[command, ...commandArgs].join(' ')}`);
  const r = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.error) console.error(`Could not run ${command}: ${r.error.message}`);
  return r.status ?? 1;
}

function ensureChromium() {
  if (existsSync(CHROMIUM)) return true;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    console.error(
      `\nThe browser tests need Chromium at ${CHROMIUM}, and it is not installed.\n` +
        `Install Debian's package as root, then run the tests again:\n\n` +
        `    sudo apt-get update && sudo apt-get install -y chromium\n\n` +
        `(Playwright's own browser download does not work offline; the tests use the system Chromium.)\n`,
    );
    return false;
  }
  console.log(`Chromium is not installed at ${CHROMIUM}: installing Debian's package…`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  if (run('apt-get', ['update'], env) !== 0 || run('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], env) !== 0) {
    console.error('\nInstalling chromium with apt-get failed; see above.');
    return false;
  }
  if (!existsSync(CHROMIUM)) {
    console.error(`\napt-get installed chromium, but ${CHROMIUM} is still missing.`);
    return false;
  }
  return true;
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

/** vitest's json reporter (Jest's format). */
function vitestCounts() {
  const r = readJson(vitestJson);
  if (!r) return null;
  return { passed: r.numPassedTests ?? 0, failed: (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0) };
}

/** Playwright's json reporter: a test that passed on a retry ("flaky") counts as passed. */
function playwrightCounts() {
  const r = readJson(playwrightJson);
  if (!r?.stats) return null;
  const s = r.stats;
  if (s.flaky) {
    const flaky = [];
    const walk = (suite) => {
      for (const spec of suite.specs ?? []) for (const t of spec.tests ?? []) if (t.status === 'flaky') flaky.push(spec.title);
      for (const child of suite.suites ?? []) walk(child);
    };
    for (const suite of r.suites ?? []) walk(suite);
    console.log(`\nFlaky (failed, then passed on a retry; counted as passed):\n${flaky.map((t) => `  - ${t}`).join('\n')}`);
  }
  return { passed: (s.expected ?? 0) + (s.flaky ?? 0), failed: (s.unexpected ?? 0) + (r.errors?.length ? 1 : 0) };
}

let passed = 0;
let failed = 0;
let ok = true;

function tally(name, status, counts) {
  if (counts) {
    passed += counts.passed;
    failed += counts.failed;
  } else {
    // No report at all (the runner could not start): count it as one failure so CI cannot miss it.
    console.error(`\n${name} wrote no results.`);
    failed += 1;
  }
  if (status !== 0) {
    ok = false;
    if (counts && counts.failed === 0) failed += 1; // failed outside any test (setup, web server, …)
  }
}

mkdirSync(results, { recursive: true });

if (!e2eOnly) {
  rmSync(vitestJson, { force: true });
  const status = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${vitestJson}`]);
  tally('vitest', status, vitestCounts());
}

if (ensureChromium()) {
  rmSync(playwrightJson, { force: true });
  const status = run('npx', ['playwright', 'test', ...playwrightArgs]);
  tally('Playwright', status, playwrightCounts());
} else {
  ok = false;
  failed += 1;
}

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(ok ? 0 : 1);
