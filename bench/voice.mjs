#!/usr/bin/env node
// f. Voice (C7) on the mesh: what a full mesh of N in voice costs each participant, on the real
// product (real server and pages, Chromium's fake microphone). For each session size N: agent and
// customer (openSession), N-2 guests who join with a handle and stay (addGuest), each in its own
// browser context; once everyone is directly connected to all others, a baseline window with nobody
// in voice, then everyone clicks "Join voice", and once every page plays the N-1 others (hidden
// `audio[data-voice-from]` elements) and a short settle, the measured window.
//
//   - bandwidth, per participant, from its page's own RTCPeerConnections (recorded by an init script,
//     no product hook): getStats deltas over the window of outbound-rtp / inbound-rtp (audio: bytes +
//     RTP header bytes), data-channel (message bytes) and transport (everything on the wire above
//     ICE: SRTP, RTCP, SCTP, DTLS), as kbit/s;
//   - CPU: the whole browser's CPU time over the window (CDP SystemInfo.getProcessInfo, summed over
//     its processes; /proc of the browser's process tree as a cross-check and the fallback) divided
//     by N, as % of one core; the product server's and the whole machine's (every process in /proc,
//     as % of all cores) alongside. All N
//     participants share one machine, so at larger N the figures include contention (see "machine").
//
// Alone: `npm run bench:voice` (node --import tsx bench/voice.mjs), prints a table and writes
// .bench/voice.json; bench/run.mjs runs it as its last part. Environment (all optional):
// BENCH_VOICE_WINDOW_MS (default 10000), BENCH_VOICE_SIZES (default 2,4,6), BENCH_APP_DIR,
// CHROMIUM_PATH.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { launchBrowser, runAlone, sleep, summarize } from './harness.mjs';
import { addGuest, buildIfStale, openSession, startProduct } from './product.mjs';

export const VOICE_WINDOW_MS = Number(process.env.BENCH_VOICE_WINDOW_MS ?? 10_000);
export const VOICE_SIZES = (process.env.BENCH_VOICE_SIZES ?? '2,4,6').split(',').map(Number);
const SETTLE_MS = 3000;

/** Roughly what one session of `n` takes here (open, connect, two windows, settle, close), for budgets. */
export const voiceSizeMs = (n, windowMs = VOICE_WINDOW_MS) => 8_000 + 4_000 * n + 2 * windowMs + 2 * SETTLE_MS;
/** All the sizes: what bench/run.mjs reserves for this part. */
export const voiceReserveMs = (sizes = VOICE_SIZES, windowMs = VOICE_WINDOW_MS) => sizes.reduce((s, n) => s + voiceSizeMs(n, windowMs), 0);

/** Record every RTCPeerConnection the context's pages create (after tests/e2e/support/network.ts instrumentRtc). */
async function instrumentRtc(ctx) {
  await ctx.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    const probe = { pcs: [] };
    window.__benchRtc = probe;
    const Wrapped = function (...args) {
      const pc = new Native(...args);
      probe.pcs.push(pc);
      return pc;
    };
    Wrapped.prototype = Native.prototype;
    Object.defineProperty(Wrapped, 'generateCertificate', { value: Native.generateCertificate.bind(Native) });
    window.RTCPeerConnection = Wrapped;
  });
}

/** A page's byte counters, keyed by peer connection and stats id (a connection made meanwhile counts from 0). */
function rtcCounters(page) {
  return page.evaluate(async () => {
    const pcs = window.__benchRtc?.pcs ?? [];
    const out = { at: Date.now(), pcs: pcs.length, open: 0, counters: {} };
    const put = (key, cat, bytes) => {
      out.counters[key] = { cat, bytes: bytes || 0 };
    };
    await Promise.all(
      pcs.map(async (pc, i) => {
        if (pc.connectionState === 'closed') return;
        out.open++;
        let stats;
        try {
          stats = await pc.getStats();
        } catch {
          return;
        }
        stats.forEach((r) => {
          const key = `${i}:${r.id}`;
          if (r.type === 'outbound-rtp') put(key, `${r.kind}Up`, r.bytesSent + (r.headerBytesSent ?? 0));
          else if (r.type === 'inbound-rtp') put(key, `${r.kind}Down`, r.bytesReceived + (r.headerBytesReceived ?? 0));
          else if (r.type === 'data-channel') {
            put(`${key}:up`, 'dataUp', r.bytesSent);
            put(`${key}:down`, 'dataDown', r.bytesReceived);
          } else if (r.type === 'transport') {
            put(`${key}:up`, 'totalUp', r.bytesSent);
            put(`${key}:down`, 'totalDown', r.bytesReceived);
          }
        });
      }),
    );
    return out;
  });
}

const CATS = ['audioUp', 'audioDown', 'videoUp', 'videoDown', 'dataUp', 'dataDown', 'totalUp', 'totalDown'];
const round1 = (x) => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10) / 10);

/** kbit/s per category between two snapshots of one page; `audioInFlowing`: inbound audio streams that grew. */
function rates(a, b) {
  const sec = (b.at - a.at) / 1000;
  const bytes = Object.fromEntries(CATS.map((c) => [c, 0]));
  let audioInFlowing = 0;
  for (const [key, v] of Object.entries(b.counters)) {
    const d = v.bytes - (a.counters[key]?.bytes ?? 0);
    bytes[v.cat] += d;
    if (v.cat === 'audioDown' && d > 0) audioInFlowing++;
  }
  const kbps = Object.fromEntries(CATS.map((c) => [c, round1((bytes[c] * 8) / 1000 / sec)]));
  return { kbps, audioInFlowing, seconds: round1(sec), pcs: b.pcs, open: b.open, pcsChanged: a.pcs !== b.pcs || a.open !== b.open };
}

// ---- CPU: CDP for the browser, /proc for the process trees and the machine ----

let clkTck = null;
function ticksPerSecond() {
  if (clkTck === null) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** pid → { ppid, cpu seconds (own + reaped children) } for every process. */
function procTable() {
  const table = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // After "pid (comm) ": state ppid … utime(11) stime(12) cutime(13) cstime(14).
      const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      table.set(Number(name), { ppid: Number(f[1]), cpu: ticks / ticksPerSecond() });
    } catch {
      /* gone */
    }
  }
  return table;
}

/** CPU seconds of `pid` and all its descendants (null when it is not there). */
function treeCpu(table, pid) {
  if (!pid || !table.has(pid)) return null;
  const children = new Map();
  for (const [p, { ppid }] of table) {
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(p);
  }
  let sum = 0;
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop();
    sum += table.get(p)?.cpu ?? 0;
    todo.push(...(children.get(p) ?? []));
  }
  return sum;
}

/**
 * Busy and total jiffies of the whole machine (/proc/stat). Tick-sampled: it misses much of the
 * short periodic work audio does (10 ms frames), so it is kept in the JSON only as a cross-check;
 * the machine's figure is the sum over every process (precise, like the browser's).
 */
function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((s, x) => s + x, 0);
  return { busy: total - f[3] - f[4], total };
}

async function cpuSample(cdp, serverPid) {
  let processes = null;
  if (cdp) {
    try {
      processes = (await cdp.send('SystemInfo.getProcessInfo')).processInfo;
    } catch {
      processes = null;
    }
  }
  const table = procTable();
  const browserPid = processes?.find((p) => p.type === 'browser')?.id ?? findBrowserPid(table);
  return {
    t: performance.now(),
    processes,
    browserTree: treeCpu(table, browserPid),
    server: treeCpu(table, serverPid),
    bench: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    allProcesses: [...table.values()].reduce((s, p) => s + p.cpu, 0),
    machine: machineTicks(),
  };
}

/** Without CDP: the Chromium our process launched (a descendant of this process whose command is chromium). */
function findBrowserPid(table) {
  const mine = new Set([process.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [p, { ppid }] of table) {
      if (!mine.has(p) && mine.has(ppid)) {
        mine.add(p);
        grew = true;
      }
    }
  }
  for (const p of mine) {
    try {
      if (/chrom/i.test(readFileSync(`/proc/${p}/comm`, 'utf8')) && !/chrom/i.test(readFileSync(`/proc/${table.get(p).ppid}/comm`, 'utf8'))) return p;
    } catch {
      /* gone */
    }
  }
  return null;
}

/** CPU over a window: % of one core, the browser's per participant, by process type, the server's, the machine's. */
function cpuDelta(a, b, n) {
  const sec = (b.t - a.t) / 1000;
  const pct = (s) => (s === null ? null : round1((s / sec) * 100));
  let cdpTotal = null;
  const byType = {};
  if (a.processes && b.processes) {
    const before = new Map(a.processes.map((p) => [p.id, p.cpuTime]));
    cdpTotal = 0;
    for (const p of b.processes) {
      const d = p.cpuTime - (before.get(p.id) ?? 0);
      cdpTotal += d;
      byType[p.type] = (byType[p.type] ?? 0) + d;
    }
  }
  const treeTotal = a.browserTree !== null && b.browserTree !== null ? b.browserTree - a.browserTree : null;
  const browserSec = cdpTotal ?? treeTotal;
  const cores = cpus().length;
  return {
    source: cdpTotal !== null ? 'cdp SystemInfo.getProcessInfo' : treeTotal !== null ? '/proc browser tree' : 'none',
    seconds: round1(sec),
    browserPct: pct(browserSec),
    perParticipantPct: browserSec === null ? null : round1((browserSec / sec / n) * 100),
    browserByTypePct: Object.fromEntries(Object.entries(byType).map(([k, v]) => [k, pct(v)])),
    browserTreePct: pct(treeTotal),
    serverPct: a.server !== null && b.server !== null ? pct(b.server - a.server) : null,
    benchPct: pct(b.bench - a.bench),
    /** Every process on the machine, as a share of all its cores (100 = every core saturated). */
    machineBusyPct: round1(((b.allProcesses - a.allProcesses) / sec / cores) * 100),
    /** The same from /proc/stat's tick counts (undercounts audio's periodic work; a cross-check). */
    procStatBusyPct: round1(((b.machine.busy - a.machine.busy) / Math.max(1, b.machine.total - a.machine.total)) * 100),
    cores,
  };
}

// ---- the session ----

const STATUS = '[role="status"][aria-label="Connection"]';

async function openVoiceSession(browser, product, n) {
  const prepareContext = instrumentRtc;
  const session = await openSession(browser, product, { prepareContext });
  const people = [
    { label: 'agent', page: session.agent, errors: session.errors },
    { label: 'customer', page: session.customer, errors: session.errors },
  ];
  const close = async () => {
    await session.close();
    await Promise.allSettled(people.slice(2).map((p) => p.page.context().close()));
  };
  try {
    for (let i = 1; i <= n - 2; i++) {
      const { guest, errors } = await addGuest(browser, product, session, `V${n}-${i}`, { prepareContext });
      people.push({ label: `guest ${i}`, page: guest, errors });
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { people, close };
}

/** Every page says it is directly connected to all N-1 others (none of them through others). */
async function waitConnected(people, timeoutMs) {
  const k = people.length - 1;
  await Promise.all(
    people.map(({ label, page }) =>
      page
        .waitForFunction(
          ({ sel, k }) => {
            const text = document.querySelector(sel)?.textContent ?? '';
            return text.startsWith(`Connected to ${k} of ${k} participant`) && !text.includes('through');
          },
          { sel: STATUS, k },
          { timeout: timeoutMs, polling: 250 },
        )
        .catch(async () => {
          const text = await page.locator(STATUS).first().textContent().catch(() => '?');
          throw new Error(`${label}: not connected to all ${k} others in ${timeoutMs / 1000} s: "${text}"`);
        }),
    ),
  );
}

async function audioState(page) {
  return page.evaluate(() => {
    const els = [...document.querySelectorAll('audio[data-voice-from]')];
    return {
      elements: els.length,
      playing: els.filter((a) => a.srcObject && !a.paused).length,
      from: els.map((a) => a.getAttribute('data-voice-name')),
      autoplayBlocked: [...document.querySelectorAll('button')].filter((b) => /^Play .*voice$/.test(b.textContent ?? '')).length,
    };
  });
}

/** One window: counters on every page, CPU around the sleep (getStats itself stays outside the CPU window). */
async function measureWindow(people, cdp, serverPid, windowMs) {
  const before = await Promise.all(people.map((p) => rtcCounters(p.page)));
  const cpuA = await cpuSample(cdp, serverPid);
  await sleep(windowMs);
  const cpuB = await cpuSample(cdp, serverPid);
  const after = await Promise.all(people.map((p) => rtcCounters(p.page)));
  const perParticipant = people.map((p, i) => ({ label: p.label, ...rates(before[i], after[i]) }));
  return { cpu: cpuDelta(cpuA, cpuB, people.length), perParticipant };
}

/** mean / min / max over participants of one rate. */
function spread(perParticipant, cat) {
  const xs = perParticipant.map((p) => p.kbps[cat]).filter((x) => x !== null);
  if (!xs.length) return { mean: null, min: null, max: null };
  return { mean: round1(xs.reduce((s, x) => s + x, 0) / xs.length), min: Math.min(...xs), max: Math.max(...xs) };
}

function summarizeWindow(w) {
  return {
    cpu: w.cpu,
    kbps: Object.fromEntries(CATS.map((c) => [c, spread(w.perParticipant, c)])),
    perParticipant: w.perParticipant,
  };
}

async function measureSize(browser, product, cdp, n, { windowMs, log }) {
  const t0 = Date.now();
  const serverPid = product.server?.child?.pid ?? null;
  const { people, close } = await openVoiceSession(browser, product, n);
  try {
    await waitConnected(people, 60_000);
    log(`voice: ${n} participants connected in ${((Date.now() - t0) / 1000).toFixed(1)} s; baseline window, nobody in voice`);
    await sleep(SETTLE_MS);
    const baseline = await measureWindow(people, cdp, serverPid, windowMs);

    const joinAt = Date.now();
    for (const { page } of people) await page.getByRole('button', { name: 'Join voice', exact: true }).click({ timeout: 15_000 });
    const want = n - 1;
    const waited = await Promise.all(
      people.map(({ page }) =>
        page
          .waitForFunction((k) => document.querySelectorAll('audio[data-voice-from]').length >= k, want, { timeout: 30_000, polling: 250 })
          .then(
            () => true,
            () => false,
          ),
      ),
    );
    const allVoicesMs = waited.every(Boolean) ? Date.now() - joinAt : null;
    log(
      `voice: ${n} in voice; ${allVoicesMs !== null ? `every page has its ${want} audio elements after ${(allVoicesMs / 1000).toFixed(1)} s` : 'NOT every page got its audio elements within 30 s'}; measuring`,
    );
    await sleep(SETTLE_MS);
    const voice = await measureWindow(people, cdp, serverPid, windowMs);
    const audio = await Promise.all(people.map((p) => audioState(p.page)));
    const participants = people.map((p, i) => ({
      label: p.label,
      audioElements: audio[i].elements,
      audioPlaying: audio[i].playing,
      autoplayBlocked: audio[i].autoplayBlocked,
      audioInFlowing: voice.perParticipant[i].audioInFlowing,
      heard: audio[i].from,
    }));
    const errors = [...new Set(people.flatMap((p) => p.errors))];
    return {
      n,
      windowMs,
      joinToAllAudioElementsMs: allVoicesMs,
      audioOk: {
        pagesWithAllElements: participants.filter((p) => p.audioElements >= want).length,
        pagesPlayingAll: participants.filter((p) => p.audioPlaying >= want).length,
        pagesReceivingAll: participants.filter((p) => p.audioInFlowing >= want).length,
        pages: n,
        expectedPerPage: want,
      },
      baseline: summarizeWindow(baseline),
      voice: summarizeWindow(voice),
      participants,
      pageErrors: errors,
      sessionMs: Date.now() - t0,
    };
  } finally {
    await close();
  }
}

/**
 * Sizes in turn (each its own session, closed before the next). `deadline` (epoch ms): a size that
 * would not fit before it is skipped. Returns the results object written to .bench/voice.json.
 */
export async function measureVoice({ browser, product, sizes = VOICE_SIZES, windowMs = VOICE_WINDOW_MS, log = console.log, deadline = Infinity }) {
  let cdp = null;
  try {
    cdp = await browser.newBrowserCDPSession();
    await cdp.send('SystemInfo.getProcessInfo');
  } catch (err) {
    log(`voice: no CDP SystemInfo.getProcessInfo (${String(err?.message ?? err).split('\n')[0]}), CPU from /proc`);
    cdp = null;
  }
  const runs = [];
  for (const n of sizes) {
    if (Date.now() + voiceSizeMs(n, windowMs) > deadline) {
      log(`voice: time is short, skipping ${n} participants`);
      runs.push({ n, skipped: 'time budget' });
      continue;
    }
    log(`voice: session of ${n}`);
    try {
      runs.push(await measureSize(browser, product, cdp, n, { windowMs, log }));
    } catch (err) {
      log(`voice: ${n} participants failed: ${String(err?.message ?? err).split('\n')[0]}`);
      runs.push({ n, error: String(err?.message ?? err).split('\n')[0] });
    }
  }
  await cdp?.detach().catch(() => {});
  return {
    what: 'real server and pages, Chromium fake microphone; a session of N (agent, customer, N-2 guests, each its own context), full mesh; per participant, nobody in voice (baseline) then all N in voice',
    windowMs,
    cpuNote: 'browser CPU (all its processes) divided by N, % of one core; server: the product server process tree; machine: every process on the machine (its /proc), % of all cores',
    runs,
    joinToAllAudioElementsMs: summarize(runs.filter((r) => r.voice).map((r) => r.joinToAllAudioElementsMs)),
  };
}

export function printVoiceTable(v) {
  const f = (x) => (x === null || x === undefined ? '–' : String(x));
  const head = ['N in voice', 'CPU %/participant', 'server CPU %', 'machine busy %', 'up kbit/s (audio | data | total)', 'down kbit/s (audio | data | total)', 'audio elements OK'];
  const rows = [];
  for (const r of v.runs) {
    if (r.error || r.skipped) {
      rows.push([String(r.n), r.error ? `failed: ${r.error}` : `skipped: ${r.skipped}`]);
      continue;
    }
    const b = r.baseline;
    const x = r.voice;
    const dir = (d) =>
      `${f(x.kbps[`audio${d}`].mean)} | ${f(x.kbps[`data${d}`].mean)} | ${f(b.kbps[`total${d}`].mean)} → ${f(x.kbps[`total${d}`].mean)}`;
    const ok = r.audioOk;
    rows.push([
      String(r.n),
      `${f(b.cpu.perParticipantPct)} → ${f(x.cpu.perParticipantPct)}`,
      `${f(b.cpu.serverPct)} → ${f(x.cpu.serverPct)}`,
      `${f(b.cpu.machineBusyPct)} → ${f(x.cpu.machineBusyPct)}`,
      dir('Up'),
      dir('Down'),
      `${ok.pagesWithAllElements}/${ok.pages} pages ${ok.expectedPerPage} each; playing ${ok.pagesPlayingAll}/${ok.pages}; receiving ${ok.pagesReceivingAll}/${ok.pages}`,
    ]);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.filter((r) => r.length > 2).map((r) => (r[i] ?? '').length)));
  const fmt = (r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  const cpuSource = v.runs.find((r) => r.voice)?.voice.cpu.source ?? '–';
  console.log(`\nf. VOICE, full mesh, ${v.windowMs / 1000} s windows; per participant, mean over participants; "a → b": nobody in voice → all in voice`);
  console.log(`   CPU: ${cpuSource}, browser total / N, % of one core (${cpus().length} cores); audio = RTP incl. headers; total = transport bytes`);
  console.log('   server: the product server process; machine busy: all cores, every process on the machine (anything else running included)');
  console.log(fmt(head));
  for (const r of rows) console.log(fmt(r));
}

// ---- alone: npm run bench:voice ----

const isMain = process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;

if (isMain) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const appDir = process.env.BENCH_APP_DIR ?? root;
  const BUDGET_MS = 240_000 + voiceReserveMs();
  await runAlone('bench:voice', BUDGET_MS, async ({ log, started }) => {
    const buildMs = buildIfStale(appDir, log);
    if (buildMs !== null) log(`product: built in ${(buildMs / 1000).toFixed(1)} s`);
    const [browser, product] = await Promise.all([launchBrowser(), startProduct(appDir)]);
    log(`chromium ${browser.version()}; product on ${product.base}`);
    const loadAtStart = loadavg().map((x) => Math.round(x * 100) / 100);
    const voice = await measureVoice({ browser, product, log, deadline: started + BUDGET_MS - 15_000 });
    const results = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, loadavgAtStart: loadAtStart, loadavgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100), node: process.version, chromium: browser.version() },
      productBuildMs: buildMs,
      voice,
      durationMs: Date.now() - started,
    };
    mkdirSync(join(root, '.bench'), { recursive: true });
    writeFileSync(join(root, '.bench', 'voice.json'), `${JSON.stringify(results, null, 2)}\n`);
    printVoiceTable(voice);
    console.log(`\nwrote .bench/voice.json (${(results.durationMs / 1000).toFixed(0)} s)`);
    if (!voice.runs.some((r) => r.voice)) throw new Error('no session size was measured; see .bench/voice.json');
  });
}
