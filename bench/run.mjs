#!/usr/bin/env node
// `npm run bench`: every quality bar in one run on this machine, each against its target and the
// reference measured in the same run (so ratios hold on a noisy machine). Prints the detail of each
// part, then one summary table (bench/summary.mjs); writes .bench/results.json. docs/benchmarks.md
// says how to read it and holds the latest table.
//
// Parts, in the order they run (`npm run bench -- join fanout` runs only those named):
//   join     the product's front doors, in interleaved rounds: "Join Us" clicked → transcript on the
//            joining party's screen, with where the time goes (the product's performance marks,
//            lib/marks.ts); the Join Us and help pages from navigation to a usable form; "Start
//            session" → queue position; "Accept" → both transcripts (bench/entry.mjs); and, as the
//            reference, the bare providers (stock y-webrtc and our MeshProvider, two contexts, a
//            small document, B fresh and warm: bench/providers.mjs);
//   fanout   one chat message to every other peer in a session of six, full mesh, one pair blocked,
//            and raw data channels between the same pages as the floor (bench/fanout.mjs);
//   large    a late joiner to a ~20 MB document, ours against stock y-webrtc;
//   session  the product, a late joiner to a ~5 MB session: transcript and drawing (bench/large-session.mjs);
//   voice    the product, voice in sessions of 2, 4 and 6 (bench/voice.mjs; also `npm run bench:voice`);
//   slots    what the media slots cost a connection (bench/media-slots.mjs, decision 0011);
//   weight   JavaScript shipped per page against an empty Next.js page (bench/page-weight.mjs);
//   capacity one signaling process: idle connections, memory per connection, a join while held,
//            handle cycles per second, memory and Redis (bench/signaling-capacity.mjs);
//   queue    the queue at scale, 1,000 consoles × 1,000 waiting (bench/queue-scale.mjs).
// Each part has a time budget; loops stop early on a slow machine (n is shown).
//
// Environment (all optional): BENCH_PARTS (same as the arguments), BENCH_REPS (join rounds, default
// 15), BENCH_FANOUT_MESSAGES (100), BENCH_LARGE_REPS (5), BENCH_LARGE_ENTRIES (5000: 20 MB),
// BENCH_STOCK_LARGE_TIMEOUT_MS (20000), BENCH_SESSION_REPS (3), the voice and queue parts' own
// (see those files), BENCH_APP_DIR (a checkout to run the product from; default this one),
// CHROMIUM_PATH (default /usr/bin/chromium).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanup, launchBrowser, sleep, summarize } from './harness.mjs';
import { openPair, startProviderRig } from './providers.mjs';
import { buildIfStale, joinOnce, openGuest, openSession, startProduct } from './product.mjs';
import { openAgent, openFormOnce, startAndAcceptOnce } from './entry.mjs';
import { connectRaw, measureFanout } from './fanout.mjs';
import { joinLarge, prepareLargeSession } from './large-session.mjs';
import { measureVoice, printVoiceTable, voiceReserveMs } from './voice.mjs';
import { measureMediaSlots } from './media-slots.mjs';
import { measureQueueScale, printQueueTable, queueReserveMs } from './queue-scale.mjs';
import { printRows, summaryRows } from './summary.mjs';
import { capacityReserveMs } from './signaling-capacity.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const appDir = process.env.BENCH_APP_DIR ?? root;
const REPS = Number(process.env.BENCH_REPS ?? 15);
const FANOUT_MESSAGES = Number(process.env.BENCH_FANOUT_MESSAGES ?? 100);
const LARGE_REPS = Number(process.env.BENCH_LARGE_REPS ?? 5);
const SESSION_REPS = Number(process.env.BENCH_SESSION_REPS ?? 3);
const STOCK_LARGE_TIMEOUT_MS = Number(process.env.BENCH_STOCK_LARGE_TIMEOUT_MS ?? 20_000);
const SMALL = { entries: 1, entryChars: 40, timeoutMs: 15_000 };
/** 5,000 chat messages of 4,000 characters (C1's cap): about 20 MB as one Yjs update. */
const LARGE = { entries: Number(process.env.BENCH_LARGE_ENTRIES ?? 5000), entryChars: 4000 };

/** Every part: its time budget, what it needs started, and how it runs. */
const PARTS = {
  join: { budgetMs: 420_000, needs: ['browser', 'product', 'rig'], run: runJoin },
  fanout: { budgetMs: 90_000, needs: ['browser', 'rig'], run: runFanout },
  large: { budgetMs: 60_000 + STOCK_LARGE_TIMEOUT_MS + LARGE_REPS * 20_000, needs: ['browser', 'rig'], run: runLarge },
  session: { budgetMs: 60_000 + SESSION_REPS * 30_000, needs: ['browser', 'product'], run: runLargeSession },
  voice: { budgetMs: voiceReserveMs() + 20_000, needs: ['browser', 'product'], run: runVoice },
  slots: { budgetMs: 45_000, needs: [], run: runSlots },
  weight: { budgetMs: 300_000, needs: ['browser'], run: runWeight },
  capacity: { budgetMs: capacityReserveMs() + 30_000, needs: [], run: runCapacity },
  queue: { budgetMs: queueReserveMs() + 30_000, needs: [], run: runQueue },
};

const args = process.argv.slice(2);
/** `npm run bench -- --print`: the tables of the last results (.bench/results.json), nothing measured. */
const printOnly = args.includes('--print');
const asked = (args.filter((a) => a !== '--print').length ? args.filter((a) => a !== '--print') : (process.env.BENCH_PARTS ?? '').split(/[ ,]+/)).filter(Boolean);
const unknown = asked.filter((p) => !(p in PARTS));
if (unknown.length) {
  console.error(`bench: no part named ${unknown.join(', ')}; the parts are ${Object.keys(PARTS).join(', ')}`);
  process.exit(2);
}
const selected = Object.keys(PARTS).filter((p) => asked.length === 0 || asked.includes(p));

/** The build (up to 3 min) plus every selected part's budget. */
const BUDGET_MS = 180_000 + selected.reduce((sum, p) => sum + PARTS[p].budgetMs, 0);
const started = Date.now();
const log = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}`);
const failure = (err) => ({ error: String(err?.message ?? err).split('\n')[0] });

const watchdog = setTimeout(() => {
  console.error(`bench: over the ${BUDGET_MS / 1000} s budget, giving up`);
  void cleanup().finally(() => process.exit(1));
}, BUDGET_MS);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void cleanup().finally(() => process.exit(130)));
for (const event of ['unhandledRejection', 'uncaughtException']) {
  process.on(event, (err) => {
    console.error(`bench failed (${event}): ${err?.stack ?? err}`);
    void cleanup().finally(() => process.exit(1));
  });
}

// ------------------------------------------------------------------ join (a, b)

async function runJoin({ browser, product, rig, deadline }) {
  // Round-robin: every round opens one joining party's /join page and one fresh B page per provider
  // (all loaded before anything is timed), then measures a product join, the entry figures, stock
  // and ours with B fresh, stock and ours with B warm. A slow machine ends every scenario with the
  // same count.
  const session = await openSession(browser, product);
  const entryAgent = await openAgent(browser, product);
  const pairs = { stock: await openPair(browser, rig, 'stock'), ours: await openPair(browser, rig, 'ours') };
  log('join: agent and customer in a session, a second agent for the entry runs, provider pages open; warming up (not counted)');
  const warmup = await joinOnce(browser, product, session, 0);
  await startAndAcceptOnce(browser, product, entryAgent, 0);
  await pairs.stock.measure(SMALL);
  await pairs.ours.measure(SMALL);

  const joins = [];
  const forms = { join: [], help: [] };
  const entries = [];
  const cold = { stock: [], ours: [] };
  const warm = { stock: [], ours: [] };
  let rounds = 0;
  for (let i = 1; i <= REPS; i++) {
    if (Date.now() > deadline - 60_000) {
      log(`join: time is short, stopping after ${rounds} of ${REPS} rounds`);
      break;
    }
    const [guest, freshStock, freshOurs] = await Promise.allSettled([openGuest(browser, product, i), pairs.stock.freshB(), pairs.ours.freshB()]);
    const fresh = { stock: freshStock, ours: freshOurs };
    try {
      if (guest.status === 'rejected') throw guest.reason;
      joins.push(await joinOnce(browser, product, session, i, guest.value));
    } catch (err) {
      joins.push(failure(err));
    }
    const order = i % 2 ? ['stock', 'ours'] : ['ours', 'stock'];
    for (const kind of order) {
      try {
        if (fresh[kind].status === 'rejected') throw fresh[kind].reason;
        cold[kind].push(await pairs[kind].measure(SMALL, fresh[kind].value));
      } catch (err) {
        cold[kind].push(failure(err));
      }
    }
    for (const kind of order) {
      try {
        warm[kind].push(await pairs[kind].measure(SMALL));
      } catch (err) {
        warm[kind].push(failure(err));
      }
    }
    for (const [path, into] of [
      ['/join', forms.join],
      ['/help', forms.help],
    ]) {
      try {
        into.push(await openFormOnce(browser, product, path));
      } catch (err) {
        into.push(failure(err));
      }
    }
    try {
      entries.push(await startAndAcceptOnce(browser, product, entryAgent, i));
    } catch (err) {
      entries.push(failure(err));
    }
    rounds = i;
    if (i % 5 === 0) log(`join: round ${i}/${REPS}`);
  }
  if (session.errors.length) log(`join: page errors: ${session.errors.slice(0, 3).join(' | ')}`);
  await Promise.allSettled([session.close(), entryAgent.close(), pairs.stock.close(), pairs.ours.close()]);
  for (const [what, xs] of [
    ['joins', joins],
    ['forms', [...forms.join, ...forms.help]],
    ['entries', entries],
  ]) {
    const errors = xs.filter((x) => x.error).map((x) => x.error);
    if (errors.length) log(`join: failed ${what}: ${[...new Set(errors)].join(' | ')}`);
  }

  const ok = (x) => (x.error || x.timedOut ? null : x);
  const providers = (runs) => ({
    stock: { syncedMs: summarize(runs.stock.map((x) => ok(x)?.syncedMs)), samples: runs.stock },
    ours: {
      syncedMs: summarize(runs.ours.map((x) => ok(x)?.syncedMs)),
      startToSyncedMs: summarize(runs.ours.map((x) => ok(x)?.startToSyncedMs)),
      samples: runs.ours,
    },
  });
  // The page's own marks from before the click (the form, its connection) are not steps of the join.
  const stepNames = [...new Set(joins.flatMap((j) => Object.keys(j.steps ?? {})))].filter((k) => k !== 'form-ready' && k !== 'connected');
  const small = { cold: providers(cold), warm: providers(warm) };
  return {
    what: 'real server and pages; a guest joins a live session with the agent and the customer online (2 peers to dial)',
    rounds,
    warmup,
    clickToTranscriptMs: summarize(joins.map((j) => j.clickToTranscriptMs)),
    reloadToTranscriptMs: summarize(joins.map((j) => j.reloadToTranscriptMs)),
    clickToAgentSeesMs: summarize(joins.map((j) => j.clickToAgentSeesMs)),
    clickToCustomerSeesMs: summarize(joins.map((j) => j.clickToCustomerSeesMs)),
    // Where the time goes: each product mark (lib/marks.ts) as ms after the click.
    stepsMs: Object.fromEntries(stepNames.map((k) => [k, summarize(joins.map((j) => j.steps?.[k]))])),
    joinFormReadyMs: summarize(forms.join.map((f) => f.formReadyMs)),
    joinFirstPaintMs: summarize(forms.join.map((f) => f.firstPaintMs)),
    joinFocusToConnectedMs: summarize(forms.join.map((f) => f.focusToConnectedMs)),
    helpConnectedMs: summarize(forms.help.map((f) => f.connectedMs)),
    helpFormReadyMs: summarize(forms.help.map((f) => f.formReadyMs)),
    startToQueuedMs: summarize(entries.map((e) => e.startToQueuedMs)),
    acceptToCustomerMs: summarize(entries.map((e) => e.acceptToCustomerMs)),
    acceptToAgentMs: summarize(entries.map((e) => e.acceptToAgentMs)),
    acceptToBothMs: summarize(entries.map((e) => e.acceptToBothMs)),
    // The reference for the join's ratio: our provider alone, B's page fresh like a joining party's.
    reference: { what: 'MeshProvider.start() → synced, two contexts, B fresh, same rounds', startToSyncedMs: small.cold.ours.startToSyncedMs },
    small,
    samples: { joins, forms, entries },
  };
}

function joinRows(j) {
  const rows = [{ section: `a. JOIN, ${j.rounds} rounds: ${j.what}` }, { label: '"Join Us" clicked → agent\'s message on screen', stat: j.clickToTranscriptMs }];
  const what = {
    login: 'handle accepted (handle:login answered)',
    connection: 'session connection opened (before the view renders)',
    'attach-sent': 'session:attach sent (tab key ready)',
    attach: 'session:attach answered',
    'mesh-start': 'mesh starts dialling',
    view: 'session view on screen',
    channel: 'first data channel open',
    synced: 'mesh synced',
    shown: 'transcript on screen',
  };
  const steps = Object.entries(j.stepsMs)
    .filter(([k]) => k in what)
    .sort((a, b) => (a[1].median ?? 0) - (b[1].median ?? 0));
  for (const [k, s] of steps) rows.push({ label: `   click → ${what[k] ?? k}`, stat: s });
  if (j.clickToAgentSeesMs) {
    rows.push({ label: '"Join Us" clicked → the agent sees the newcomer joined', stat: j.clickToAgentSeesMs, note: 'its arrival line in the transcript' });
    rows.push({ label: '"Join Us" clicked → the customer sees the newcomer joined', stat: j.clickToCustomerSeesMs });
  }
  rows.push({ label: 'joined party reloads: navigation → transcript on screen', stat: j.reloadToTranscriptMs, note: 'S3, from the local copy' });
  rows.push({ label: 'Join Us page: navigation → form usable (hydrated)', stat: j.joinFormReadyMs });
  rows.push({ label: 'Join Us page: navigation → first contentful paint', stat: j.joinFirstPaintMs });
  rows.push({ label: 'Join Us page: first focus → connected', stat: j.joinFocusToConnectedMs, note: 'socket.io fetched on first use' });
  rows.push({ label: 'help page: navigation → form usable (hydrated)', stat: j.helpFormReadyMs });
  rows.push({ label: 'help page: navigation → connected', stat: j.helpConnectedMs });
  rows.push({ label: '"Start session" → queue position shown', stat: j.startToQueuedMs });
  rows.push({ label: '"Accept" → customer sees both joined', stat: j.acceptToCustomerMs });
  rows.push({ label: '"Accept" → agent sees both joined', stat: j.acceptToAgentMs });
  for (const [k, what] of [
    ['cold', "B's page never made a peer connection"],
    ['warm', "B's page made one before"],
  ]) {
    const x = j.small[k];
    rows.push({ section: `b. PROVIDERS, two peers, small document, B ${k} (${what})` });
    rows.push({ label: '   stock y-webrtc: construct → synced', stat: x.stock.syncedMs, note: 'reference signaling server' });
    rows.push({ label: '   ours: connect + start → synced', stat: x.ours.syncedMs, note: 'bench socket.io relay' });
    rows.push({ label: '   ours: MeshProvider.start() → synced', stat: x.ours.startToSyncedMs });
  }
  return rows;
}

// ------------------------------------------------------------------ fan-out (d)

async function runFanout({ browser, rig }) {
  log(`fanout: six peers, ${FANOUT_MESSAGES} messages: full mesh, then one pair blocked`);
  const full = await measureFanout(browser, rig, { messages: FANOUT_MESSAGES });
  const blocked = await measureFanout(browser, rig, { messages: FANOUT_MESSAGES, block: true });
  return {
    what: 'six Chromium contexts, our MeshProvider; one chat message written → arrived at all five others (in-page clocks)',
    fullMesh: { reachMs: summarize(full.reachMs) },
    rawChannel: full.rawReachMs ? { what: 'the same six pages, plain RTCDataChannels, one message to the five others', reachMs: summarize(full.rawReachMs) } : null,
    providerChannels: full.tapReachMs
      ? { what: "the same bare message on the provider's own data channels, taken off before the provider reads it", reachMs: summarize(full.tapReachMs) }
      : null,
    senderMs: Object.fromEntries(Object.entries(full.sender).map(([k, xs]) => [k, summarize(xs)])),
    onePairBlocked: { reachMs: summarize(blocked.reachMs), fromBlockedPairMs: summarize(blocked.blockedPairMs) },
  };
}

function fanoutRows(f) {
  const rows = [{ section: `d. FAN-OUT: ${f.what}` }];
  rows.push({ label: '   full mesh', stat: f.fullMesh.reachMs });
  if (f.rawChannel) rows.push({ label: '   raw data channels (floor)', stat: f.rawChannel.reachMs });
  if (f.providerChannels) rows.push({ label: "   the provider's channels, a bare message", stat: f.providerChannels.reachMs, note: 'not read by the provider' });
  if (f.senderMs) {
    rows.push({ label: '   sender: write → update from Yjs', stat: f.senderMs.updateMs });
    rows.push({ label: '   sender: write → first of five sends', stat: f.senderMs.firstSendMs });
    rows.push({ label: '   sender: write → last of five sends', stat: f.senderMs.lastSendMs });
  }
  rows.push({ label: '   one pair blocked: every message', stat: f.onePairBlocked.reachMs });
  rows.push({ label: '   one pair blocked: from the blocked pair', stat: f.onePairBlocked.fromBlockedPairMs, note: 'forwarded by the other four' });
  return rows;
}

// ------------------------------------------------------------------ large document (c)

async function runLarge({ browser, rig, deadline }) {
  // Stock goes first: its one big message fails at once, and its pages then sit idle until the
  // timeout while ours is measured.
  const pairs = { stock: await openPair(browser, rig, 'stock'), ours: await openPair(browser, rig, 'ours') };
  const large = { ours: [], stock: [], raw: [] };
  try {
    log(`large: ${LARGE.entries} entries of ${LARGE.entryChars} characters; stock runs alongside, up to ${STOCK_LARGE_TIMEOUT_MS / 1000} s`);
    const joinStock = await pairs.stock.prepare(LARGE);
    const stockDone = joinStock({ timeoutMs: STOCK_LARGE_TIMEOUT_MS });
    const quietBy = Date.now() + 5000;
    while (Date.now() < quietBy && (await pairs.stock.senderStats()).maxMessageBytes < 256 * 1024) await sleep(100);
    for (let i = 0; i < LARGE_REPS; i++) {
      if (Date.now() > deadline - STOCK_LARGE_TIMEOUT_MS - 30_000) {
        log(`large: time is short, ${i} of ${LARGE_REPS} repetitions of ours`);
        break;
      }
      try {
        large.ours.push(await pairs.ours.measure({ ...LARGE, timeoutMs: 30_000 }));
      } catch (err) {
        large.ours.push({ ...failure(err), timedOut: true, sender: { maxBufferedAmount: 0, maxMessageBytes: 0 } });
      }
    }
    large.stock.push(await stockDone);
    // The floor: the same bytes over a raw data channel between the same two pages.
    const documentBytes = large.ours.find((x) => x.updateBytes)?.updateBytes;
    if (documentBytes) {
      await connectRaw(pairs.ours.pages, 20_000);
      for (let i = 0; i < LARGE_REPS; i++) large.raw.push(await pairs.ours.pages[0].evaluate((n) => window.JB.rawBulk(n), documentBytes));
      await Promise.all(pairs.ours.pages.map((p) => p.evaluate(() => window.JB.rawStop())));
    }
  } finally {
    await Promise.allSettled([pairs.stock.close(), pairs.ours.close()]);
  }
  const slim = (x) => ({ timedOut: x.timedOut, syncedMs: x.syncedMs, contentMs: x.contentMs, updateBytes: x.updateBytes, received: x.received, sender: x.sender, errors: x.errors, error: x.error });
  const transferMs = (x) => (x.received?.lastMessageMs ?? NaN) - (x.received?.firstMessageMs ?? NaN);
  return {
    what: `two Chromium contexts; A holds ${LARGE.entries} transcript entries of ${LARGE.entryChars} characters; B starts late`,
    documentBytes: large.ours.find((x) => x.updateBytes)?.updateBytes ?? large.stock[0]?.updateBytes,
    ours: {
      syncedMs: summarize(large.ours.map((x) => (x.timedOut ? null : x.syncedMs))),
      contentMs: summarize(large.ours.map((x) => (x.timedOut ? null : x.contentMs))),
      transferMs: summarize(large.ours.map(transferMs)),
      peakBufferedAmountBytes: Math.max(0, ...large.ours.map((x) => x.sender?.maxBufferedAmount ?? 0)),
      largestMessageBytes: Math.max(0, ...large.ours.map((x) => x.sender?.maxMessageBytes ?? 0)),
      samples: large.ours.map(slim),
    },
    rawChannel: { what: 'the same bytes, the same two pages, one raw RTCDataChannel, 64 KiB frames', transferMs: summarize(large.raw) },
    stock: {
      synced: large.stock.filter((x) => !x.timedOut).length,
      attempts: large.stock.length,
      timeoutMs: STOCK_LARGE_TIMEOUT_MS,
      contentMs: summarize(large.stock.map((x) => (x.timedOut ? null : x.contentMs))),
      largestMessageBytes: Math.max(...large.stock.map((x) => x.sender.maxMessageBytes)),
      sendErrors: [...new Set(large.stock.flatMap((x) => x.sender.errors))],
      maxMessageSize: large.stock[0]?.sender.maxMessageSize ?? null,
      samples: large.stock.map(slim),
    },
  };
}

function largeRows(l) {
  const mb = (b) => `${(b / 1e6).toFixed(2)} MB`;
  const st = l.stock;
  return [
    { section: `c. LATE JOINER, ${mb(l.documentBytes ?? 0)} document: ${l.what}` },
    { label: '   ours: connect + start → content in doc', stat: l.ours.contentMs, note: `peak bufferedAmount ${mb(l.ours.peakBufferedAmountBytes)}` },
    { label: '   ours: first → last frame on the wire', stat: l.ours.transferMs, note: `frames ≤ ${l.ours.largestMessageBytes} B` },
    ...(l.rawChannel ? [{ label: '   raw data channel (floor): first send → all there', stat: l.rawChannel.transferMs }] : []),
    st.synced > 0
      ? { label: '   stock y-webrtc: construct → content in doc', stat: st.contentMs }
      : { label: '   stock y-webrtc', value: `0/${st.attempts} synced`, note: `not in ${st.timeoutMs / 1000} s: ${st.sendErrors[0] ?? 'no send error seen'}` },
  ];
}

// ------------------------------------------------------------------ large session (e)

async function runLargeSession({ browser, product, deadline }) {
  log(`session: a large session (long transcript + heavy drawing), ${SESSION_REPS} late joiners`);
  const big = await prepareLargeSession(browser, product);
  const joins = [];
  try {
    for (let i = 0; i < SESSION_REPS; i++) {
      if (Date.now() > deadline - 30_000) {
        log(`session: time is short, ${i} of ${SESSION_REPS} joins`);
        break;
      }
      try {
        joins.push(await joinLarge(browser, product, big, i));
      } catch (err) {
        joins.push(failure(err));
      }
    }
  } finally {
    await big.session.close();
  }
  return {
    what: `real server and pages; ${big.seed.messages} transcript entries of ~3,900 characters and ${big.seed.strokes} strokes of 300 points; a guest joins`,
    documentBytes: big.seed.update.byteLength,
    clickToCompleteMs: summarize(joins.map((j) => j.clickToCompleteMs)),
    firstProgressMs: summarize(joins.map((j) => j.firstProgressMs)),
    progressUpdates: summarize(joins.map((j) => j.progressUpdates)),
    longestTaskMs: summarize(joins.map((j) => j.longestTaskMs)),
    longTasksTotalMs: summarize(joins.map((j) => j.longTasksTotalMs)),
    samples: joins,
  };
}

function largeSessionRows(ls) {
  return [
    { section: `e. PRODUCT, late joiner to a ${(ls.documentBytes / 1e6).toFixed(2)} MB session (transcript + drawing)` },
    { label: '   Join Us click → last entry and every stroke on screen', stat: ls.clickToCompleteMs },
    { label: '   Join Us click → first "receiving … MB" shown', stat: ls.firstProgressMs, note: `progress updates: median ${ls.progressUpdates.median}` },
    { label: '   longest main-thread task meanwhile', stat: ls.longestTaskMs, note: `all long tasks: median ${ls.longTasksTotalMs.median} ms` },
  ];
}

// ------------------------------------------------------------------ the others

async function runVoice({ browser, product, deadline }) {
  log('voice: sessions of 2, 4 and 6, nobody then everyone in voice');
  return measureVoice({ browser, product, log, deadline: deadline - 10_000 });
}

async function runSlots() {
  log('slots: connection set-up with and without the media slots in the first offer');
  return measureMediaSlots({ reps: 20, log });
}

async function runQueue() {
  log('queue: 1,000 consoles, 1,000 waiting, 20 changes a second (a server of its own)');
  return measureQueueScale({ appDir, log });
}

async function runWeight({ browser }) {
  const { measurePageWeight } = await import('./page-weight.mjs');
  log('weight: JavaScript each page ships, against an empty Next.js page');
  return measurePageWeight({ appDir, log, browser });
}

async function runCapacity() {
  const { measureSignalingCapacity } = await import('./signaling-capacity.mjs');
  log('capacity: one signaling process, idle connections, a join while held, handle cycles (memory, Redis)');
  return measureSignalingCapacity({ appDir, log, redis: true });
}

// ------------------------------------------------------------------ main

/** The detail of each part, then the one table of quality bars. */
async function report(results, chromium) {
  const ok = (x) => x && !x.error;
  const detail = [];
  if (ok(results.join)) detail.push(...joinRows(results.join));
  if (ok(results.large)) detail.push(...largeRows(results.large));
  if (ok(results.fanout)) detail.push(...fanoutRows(results.fanout));
  if (ok(results.largeSession)) detail.push(...largeSessionRows(results.largeSession));
  if (ok(results.mediaSlots)) {
    const m = results.mediaSlots;
    detail.push(
      { section: 'g. MEDIA SLOTS, pairs of connections in one page (decision 0011)' },
      { label: '   createOffer → data channel open, slots added later', stat: m.dataOnly.connectMs, note: `offer ${m.dataOnly.offerBytes.median} B` },
      { label: '   the same, slots in the first offer', stat: m.withSlots.connectMs, note: `offer ${m.withSlots.offerBytes.median} B` },
      { label: '   adding the slots to an open connection', stat: m.dataOnly.addSlotsMs, note: 'off the join path' },
    );
  }
  if (ok(results.signalingCapacity)) {
    const { capacityRows } = await import('./signaling-capacity.mjs');
    detail.push(...capacityRows(results.signalingCapacity));
  }
  if (ok(results.pageWeight)) {
    const { pageWeightRows } = await import('./page-weight.mjs');
    detail.push(...pageWeightRows(results.pageWeight));
  }
  const machine = `${results.machine.cpus} CPUs, load ${results.machine.loadavgAtStart.join(' ')} → ${results.machine.loadavgAtEnd.join(' ')}${chromium ? `, Chromium ${chromium}` : ''}, Node ${results.machine.node}`;
  if (detail.length) printRows(`DETAIL, ${results.date} (${machine}); times in ms`, detail);
  if (ok(results.voice)) printVoiceTable(results.voice);
  if (results.queueScale) printQueueTable(results.queueScale);
  printRows(`JOIN US QUALITY BARS, ${results.date} (${machine}); times in ms`, summaryRows(results));
}


async function main() {
  const results = {
    date: new Date().toISOString(),
    parts: selected,
    machine: { cpus: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), loadavgAtStart: loadavg().map((x) => Math.round(x * 100) / 100), node: process.version },
  };
  log(`parts: ${selected.join(', ')} (budget ${Math.round(BUDGET_MS / 1000)} s)`);
  const needs = new Set(selected.flatMap((p) => PARTS[p].needs));
  if (needs.has('product')) {
    const buildMs = buildIfStale(appDir, log);
    results.productBuildMs = buildMs;
    if (buildMs !== null) log(`product: built in ${(buildMs / 1000).toFixed(1)} s`);
  }
  const [browser, rig, product] = await Promise.all([
    needs.has('browser') ? launchBrowser() : null,
    needs.has('rig') ? startProviderRig(root) : null,
    needs.has('product') ? startProduct(appDir) : null,
  ]);
  if (browser) results.machine.chromium = browser.version();

  const names = { join: 'join', fanout: 'fanout', large: 'large', session: 'largeSession', voice: 'voice', slots: 'mediaSlots', weight: 'pageWeight', capacity: 'signalingCapacity', queue: 'queueScale' };
  for (const part of selected) {
    const t0 = Date.now();
    try {
      results[names[part]] = await PARTS[part].run({ browser, rig, product, deadline: t0 + PARTS[part].budgetMs });
    } catch (err) {
      log(`${part} failed: ${String(err?.stack ?? err).split('\n').slice(0, 3).join(' ')}`);
      results[names[part]] = { error: failure(err).error };
    }
    log(`${part}: done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  results.machine.loadavgAtEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  results.durationMs = Date.now() - started;

  // Written over the last results part by part: a run of some parts keeps the others' latest figures.
  const file = join(root, '.bench', 'results.json');
  let previous = {};
  try {
    previous = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    previous = {};
  }
  mkdirSync(join(root, '.bench'), { recursive: true });
  const merged = { ...previous, ...results, runs: { ...(previous.runs ?? {}), ...Object.fromEntries(selected.map((p) => [p, { date: results.date, machine: results.machine }])) } };
  writeFileSync(file, `${JSON.stringify(merged, null, 2)}\n`);
  if (results.voice && !results.voice.error) {
    writeFileSync(join(root, '.bench', 'voice.json'), `${JSON.stringify({ date: results.date, machine: results.machine, voice: results.voice }, null, 2)}\n`);
  }

  await report(results, browser ? results.machine.chromium : null);
  console.log(`\nwrote .bench/results.json (${(results.durationMs / 1000).toFixed(0)} s)`);

  const failed = selected.filter((p) => results[names[p]]?.error);
  if (failed.length) throw new Error(`part(s) failed: ${failed.join(', ')}; see .bench/results.json`);
}

if (printOnly) {
  clearTimeout(watchdog);
  const last = JSON.parse(readFileSync(join(root, '.bench', 'results.json'), 'utf8'));
  await report(last, last.machine?.chromium ?? null);
  process.exit(0);
}

try {
  await main();
  clearTimeout(watchdog);
  await cleanup();
  process.exit(0);
} catch (err) {
  console.error(`bench failed: ${err?.stack ?? err}`);
  clearTimeout(watchdog);
  await cleanup();
  process.exit(1);
}
