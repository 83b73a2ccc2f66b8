#!/usr/bin/env node
// h. The queue at scale (issue 9, S1): the real product server (its own process, production build,
// NODE_ENV=production) with 1,000 agent consoles signed in and 1,000 customers waiting, while the
// queue changes 20 times a second for 30 s: taken by an agent, a customer added, one leaving, one
// added (tests/support/queue-load.ts; the clients in two worker threads of this process).
//
//   - console latency: for every (console, change) pair, the change made (emitted by the driver) →
//     the console has its `queue:changed`; target p99 ≤ 200 ms;
//   - customer side: `queue:position` updates per customer per second (the server sends at most 4),
//     and the delay from a `taken` to the update that reflects it;
//   - what must be 0: changes missed, out of order or with a version gap, consoles whose final count
//     is not the server's, customers whose last position is not the server's answer;
//   - where the time goes: the server process's CPU over the window (/proc/<pid>/stat, whole and
//     per second) and RSS, this process's (the clients') CPU, each client thread's event-loop use
//     and lag, and how quickly the server acknowledges the driver's changes.
//
// Accounts: JOINUS_AGENTS_FILE, a temporary file of 1,001 accounts sharing one scrypt hash at log N
// 10 (the cheapest the server accepts), so sign-ins are quick. LOG_LEVEL=warn: warnings and errors
// the server logs are counted.
//
// Alone: `npm run bench:queue` (builds the pages first if they are stale), prints a table and adds
// `queueScale` to .bench/results.json; bench/run.mjs runs it as part h. Environment (all optional):
// BENCH_QUEUE_AGENTS (default 1000), BENCH_QUEUE_WAITING (default 1000), BENCH_QUEUE_RATE (changes
// a second, default 20), BENCH_QUEUE_MS (default 30000), BENCH_APP_DIR.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { hashPassword } from '../signaling/core/passwords.ts';
import { runQueueLoad } from '../tests/support/queue-load.ts';
import { addToResults, countLogged, freePort, runAlone, startChild, stopChild as stop, waitHttp } from './harness.mjs';
import { buildIfStale } from './product.mjs';
import { serverArgs } from '../scripts/server-bundle.mjs';

export const QUEUE_AGENTS = Number(process.env.BENCH_QUEUE_AGENTS ?? 1000);
export const QUEUE_WAITING = Number(process.env.BENCH_QUEUE_WAITING ?? 1000);
export const QUEUE_RATE = Number(process.env.BENCH_QUEUE_RATE ?? 20);
export const QUEUE_MS = Number(process.env.BENCH_QUEUE_MS ?? 30_000);
/** What bench/run.mjs reserves for this part: server start, set-up, the window, settling, closing (about 40 s in all here). */
export const queueReserveMs = (durationMs = QUEUE_MS) => 60_000 + durationMs;

const CLK_TCK = 100; // Linux's USER_HZ on every architecture Node runs on here (getconf CLK_TCK)

/** CPU seconds (user + system) and RSS of one process, from /proc. */
function procSample(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { at: performance.now(), cpuS: (Number(f[11]) + Number(f[12])) / CLK_TCK, rssMiB: kb('VmRSS') / 1024, peakRssMiB: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/** The whole machine's ticks (/proc/stat): busy (user, system, interrupts), softirq alone, steal (the hypervisor's), total. */
function machineTicks() {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { busy: user + nice + system + irq + softirq, softirq, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

const round1 = (x) => Math.round(x * 10) / 10;

/**
 * Start the product server with `accounts` agents, run the scenario, stop the server. Returns the
 * figures (also what .bench/results.json keeps as `queueScale`).
 */
export async function measureQueueScale({
  appDir,
  log = console.log,
  agents = QUEUE_AGENTS,
  waiting = QUEUE_WAITING,
  changesPerSecond = QUEUE_RATE,
  durationMs = QUEUE_MS,
}) {
  const dir = mkdtempSync(join(tmpdir(), 'joinus-queue-'));
  let server = null;
  try {
    const password = randomBytes(12).toString('hex');
    const hash = await hashPassword(password, 10);
    const accounts = Array.from({ length: agents + 1 }, (_, i) => ({ username: `queue${i}`, password }));
    const agentsFile = join(dir, 'agents');
    writeFileSync(agentsFile, `# bench/queue-scale.mjs: ${accounts.length} accounts, one scrypt hash (log N 10)\n${accounts.map((a) => `${a.username}:${hash}`).join('\n')}\n`);

    const port = await freePort();
    const env = { ...process.env };
    delete env.JOINUS_AGENTS;
    server = startChild('queue server', process.execPath, await serverArgs(appDir, 'server'), {
      cwd: appDir,
      env: {
        ...env,
        NODE_ENV: 'production',
        NEXT_TELEMETRY_DISABLED: '1',
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        JOINUS_AGENTS_FILE: agentsFile,
        JOINUS_ICE_SERVERS: '[]',
      },
    });
    // Examples of errors only: the run must log none.
    const logged = countLogged(server.child, { examplesFrom: 50 });
    const base = `http://127.0.0.1:${port}`;
    await waitHttp(`${base}/`, { timeoutMs: 60_000, child: server });
    const pid = server.child.pid;
    log(`queue: product server on ${base} (pid ${pid}), ${accounts.length} accounts`);

    let from = null;
    let to = null;
    const perSecond = [];
    let ticker = null;
    const onWindow = (edge) => {
      const sample = { server: procSample(pid), clients: process.cpuUsage(), machine: machineTicks(), at: performance.now() };
      if (edge === 'start') {
        from = sample;
        let last = sample.server;
        ticker = setInterval(() => {
          const s = procSample(pid);
          if (s && last) perSecond.push((100 * (s.cpuS - last.cpuS)) / ((s.at - last.at) / 1000));
          last = s;
        }, 1000);
      } else {
        to = sample;
        clearInterval(ticker);
      }
    };
    const started = Date.now();
    let r;
    try {
      r = await runQueueLoad({ url: base, accounts, agents, waiting, changesPerSecond, durationMs, log, onWindow });
    } finally {
      clearInterval(ticker);
    }
    const end = procSample(pid);
    const windowS = (to.at - from.at) / 1000;
    const cpuPct = (a, b) => round1((100 * (b - a)) / windowS);
    const machine = Object.fromEntries(Object.keys(to.machine).map((k) => [k, to.machine[k] - from.machine[k]]));
    const machinePct = (k) => (machine.total ? round1((100 * machine[k]) / machine.total) : null);
    const result = {
      what: `real product server (NODE_ENV=production, own process); ${agents} agent consoles and ${waiting} waiting customers on websockets, each its own loopback address, clients in 2 worker threads of the bench process; ${changesPerSecond} queue changes a second (taken, added, left, added) for ${durationMs / 1000} s`,
      wallMs: Date.now() - started,
      ...r,
      server: {
        cpuPctOfOneCore: from.server && to.server ? cpuPct(from.server.cpuS, to.server.cpuS) : null,
        cpuPctPerSecondMax: perSecond.length ? round1(Math.max(...perSecond)) : null,
        cpuPctPerSecond: perSecond.map(round1),
        rssMiBAtEnd: end ? Math.round(end.rssMiB) : null,
        peakRssMiB: end ? Math.round(end.peakRssMiB) : null,
        logged,
      },
      clientsCpuPctOfOneCore: cpuPct(0, (to.clients.user + to.clients.system - from.clients.user - from.clients.system) / 1e6),
      /** % of all cores: busy (every process, the kernel's network work included), of it softirq, and stolen by the hypervisor. */
      machineCpu: { busyPct: machinePct('busy'), softirqPct: machinePct('softirq'), stealPct: machinePct('steal') },
      windowS: round1(windowS),
    };
    return result;
  } finally {
    await stop(server);
    rmSync(dir, { recursive: true, force: true });
  }
}


export function printQueueTable(q) {
  console.log(`\nh. QUEUE AT SCALE: ${q.what}`);
  if (q.error) {
    console.log(`   failed: ${q.error}`);
    return;
  }
  const ms = (s) => (s?.n ? `${s.median} / ${s.p90} / ${s.p99} / ${s.max} ms (n ${s.n})` : '—');
  const t = q.threads;
  const thread = (x) => `${Math.round((x.eventLoopUtilization ?? 0) * 100)}% busy, lag p99 ${x.eventLoopDelayMs?.p99} ms, max ${x.eventLoopDelayMs?.max} ms`;
  const rows = [
    ['set-up: customers ask / consoles sign in / total', `${(q.setup.customersMs / 1000).toFixed(1)} / ${(q.setup.agentsMs / 1000).toFixed(1)} / ${(q.setup.totalMs / 1000).toFixed(1)} s`],
    ['changes made (taken / added / left), rate', `${q.changes.made} of ${q.changes.planned} (${q.changes.taken} / ${q.changes.added} / ${q.changes.left}), ${q.changes.perSecond}/s`],
    ['console latency median / p90 / p99 / max (target p99 ≤ 200)', ms(q.agentLatencyMs)],
    ['  per change: made → first console has it', ms(q.agentFanOut.firstMs)],
    ['  per change: first → last console (fan-out)', ms(q.agentFanOut.spreadMs)],
    ['  (console, change) pairs missed (must be 0)', `${q.agentCheck.missed} of ${q.agentCheck.expectedSamples}`],
    ['  out of order / version gaps / count jumps (must be 0)', `${q.agentCheck.outOfOrder} / ${q.agentCheck.gaps} / ${q.agentCheck.countJumps}`],
    ['  consoles with a wrong final count / first entries (must be 0)', `${q.agentCheck.wrongFinalCount} / ${q.agentCheck.wrongWindow}`],
    ['  consoles asking for more (queue:list): asked / failed / disagreed (must be 0 / 0 / 0)', `${q.agentCheck.fetches} / ${q.agentCheck.fetchErrors} / ${q.agentCheck.fetchMismatches}`],
    [
      'customer position updates a second: most over the window / in any 1 s; shortest gap',
      `${q.customer.maxMeanUpdatesPerSecond} / ${q.customer.maxUpdatesPerSecond}; ${q.customer.minGapMs} ms (${q.customer.updates} updates)`,
    ],
    ['customer update delay, taken → told, median / p90 / p99 / max', ms(q.customer.delayMs)],
    ['  wrong positions told / at the end (must be 0)', `${q.customer.wrongUpdates} / ${q.customer.finalWrong} of ${q.customer.finalChecked} checked`],
    ['driver: change emitted → acknowledged', ms(q.changes.ackMs)],
    ['server CPU over the window (% of one core): mean, busiest second', `${q.server.cpuPctOfOneCore}%, ${q.server.cpuPctPerSecondMax}%`],
    ['server RSS at the end / peak', `${q.server.rssMiBAtEnd} / ${q.server.peakRssMiB} MiB`],
    ['server warnings / errors logged (errors must be 0)', `${q.server.logged.warn} / ${q.server.logged.error}`],
    ['clients (this process, all threads) CPU', `${q.clientsCpuPctOfOneCore}% of one core`],
    ['machine: busy (softirq) / stolen, % of all cores', `${q.machineCpu.busyPct}% (${q.machineCpu.softirqPct}%) / ${q.machineCpu.stealPct}% of ${cpus().length} cores`],
    ['driver thread', thread(t.driver)],
    ...t.workers.map((w, i) => [`client worker ${i}`, thread(w)]),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`   ${k.padEnd(width)}  ${v}`);
}

// ---- alone: npm run bench:queue ----

const isMain = process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;

if (isMain) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const appDir = process.env.BENCH_APP_DIR ?? root;
  const BUDGET_MS = 200_000 + queueReserveMs();
  await runAlone('bench:queue', BUDGET_MS, async ({ log, started }) => {
    const buildMs = buildIfStale(appDir, log);
    if (buildMs !== null) log(`product: built in ${(buildMs / 1000).toFixed(1)} s`);
    const loadAtStart = loadavg().map((x) => Math.round(x * 100) / 100);
    const queueScale = await measureQueueScale({ appDir, log });
    queueScale.machine = { cpus: cpus().length, loadavgAtStart: loadAtStart, loadavgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100), node: process.version };
    queueScale.date = new Date().toISOString();
    // Added to the last full run's results (or a file of its own making).
    addToResults(join(root, '.bench', 'results.json'), { queueScale });
    printQueueTable(queueScale);
    console.log(`\nadded queueScale to .bench/results.json (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    if (!queueScale.agentLatencyMs.n) throw new Error('no console latency was measured; see .bench/results.json');
  });
}
