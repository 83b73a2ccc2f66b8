#!/usr/bin/env node
// `npm test`: unit and integration tests (vitest), then the browser tests (Playwright, real Chromium
// against the real product). `npm run test:e2e` (--e2e-only) skips vitest. Any other arguments go to
// `playwright test` (for example a file or `--grep S3`).
//
// Ends with one line `N passed, M failed` (both runners added up) for CI, and exits non-zero when
// either runner failed.
//
// Debian's Chromium (browser tests), Firefox ESR (the browser tests that put a participant on
// Firefox: tests/e2e/browsers.spec.ts), coturn (TURN tests, which start their own turnserver) and
// redis-server (scale-out tests, which start their own on free ports; a system service the package
// may start on 6379 is left alone) are installed with apt-get first when missing.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const CHROMIUM = '/usr/bin/chromium';
const FIREFOX = '/usr/bin/firefox-esr';
const TURNSERVER = '/usr/bin/turnserver';
const REDIS = '/usr/bin/redis-server';
/** Debian packages the tests need, by the file that shows each is installed. */
const SYSTEM_PACKAGES = [
  { name: 'chromium', path: CHROMIUM, what: 'The browser tests need Chromium' },
  { name: 'firefox-esr', path: FIREFOX, what: 'The browser tests on Firefox need Firefox ESR' },
  { name: 'coturn', path: TURNSERVER, what: 'The TURN tests need coturn' },
  { name: 'redis-server', path: REDIS, what: 'The scale-out tests need Redis' },
];
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

/** Pids of coturn's system service (systemd unit and init script both run it with this config). */
function turnServicePids() {
  const r = spawnSync('pgrep', ['-f', '^/usr/bin/turnserver -c /etc/turnserver.conf'], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').filter(Boolean);
}

/** Installs the missing SYSTEM_PACKAGES (one apt-get update, one apt-get install); returns the names still missing. */
function ensureSystemPackages() {
  const missing = SYSTEM_PACKAGES.filter((p) => !existsSync(p.path));
  if (missing.length === 0) return [];
  const names = missing.map((p) => p.name);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    console.error(
      `\n${missing.map((p) => `${p.what} at ${p.path}, and it is not installed.`).join('\n')}\n` +
        `Install Debian's package${names.length > 1 ? 's' : ''} as root, then run the tests again:\n\n` +
        `    sudo apt-get update && sudo apt-get install -y ${names.join(' ')}\n\n` +
        (names.includes('chromium') ? `(Playwright's own browser download does not work offline; the tests use the system Chromium.)\n` : ''),
    );
    return names;
  }
  console.log(`${missing.map((p) => `${p.name} is not installed at ${p.path}`).join('; ')}: installing Debian's package${names.length > 1 ? 's' : ''}…`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const servicesBefore = new Set(turnServicePids());
  if (run('apt-get', ['update'], env) !== 0 || run('apt-get', ['install', '-y', '--no-install-recommends', ...names], env) !== 0) {
    console.error(`\nInstalling ${names.join(' ')} with apt-get failed; see above.`);
    return names;
  }
  if (names.includes('coturn') && turnServicePids().some((pid) => !servicesBefore.has(pid))) {
    // The package starts its service where the service manager lets it (not in a container with a
    // policy-rc.d that denies it); the tests start their own coturn and do not want it.
    console.log('Installing coturn started its turnserver service: stopping and disabling it (the tests start their own).');
    if (existsSync('/run/systemd/system')) run('systemctl', ['disable', '--now', 'coturn']);
    else run('invoke-rc.d', ['coturn', 'stop']);
    const left = turnServicePids().filter((pid) => !servicesBefore.has(pid));
    if (left.length > 0) console.error(`\nThe coturn service is still running (pid ${left.join(', ')}); stop it with: systemctl disable --now coturn`);
  }
  const stillMissing = missing.filter((p) => !existsSync(p.path));
  for (const p of stillMissing) console.error(`\napt-get installed ${p.name}, but ${p.path} is still missing.`);
  return stillMissing.map((p) => p.name);
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

// Before vitest: its TURN tests need coturn. A missing coturn fails those tests, with the reason;
// a missing Chromium skips Playwright and counts as one failure.
const missingPackages = ensureSystemPackages();

if (!e2eOnly) {
  rmSync(vitestJson, { force: true });
  const status = run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${vitestJson}`]);
  tally('vitest', status, vitestCounts());
}

if (!missingPackages.includes('chromium')) {
  rmSync(playwrightJson, { force: true });
  const status = run('npx', ['playwright', 'test', ...playwrightArgs]);
  tally('Playwright', status, playwrightCounts());
} else {
  ok = false;
  failed += 1;
}

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(ok ? 0 : 1);
