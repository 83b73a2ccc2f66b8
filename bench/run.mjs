#!/usr/bin/env node
// `npm run bench`: the peer-sync quality bars of PRODUCT.md, ours against stock y-webrtc with its
// reference signaling server, in one run on this machine. Prints a table and writes
// .bench/results.json. See docs/decisions/0001-peer-sync-layer.md.
//
//   a. the product itself (real server and pages): "Join Us" clicked → the agent's message on the
//      joining party's screen, and the provider's attach → synced from the page's performance marks;
//   b. provider level, two Chromium contexts, a small document: stock WebrtcProvider (reference
//      server) vs our MeshProvider (lib/p2p) signaling through an in-bench socket.io relay, with the
//      joiner's page fresh (its first peer connection) and warm (it has connected before);
//   c. provider level, a late joiner to a ~4 MB document, ours vs stock;
//   d. provider level, fan-out: one message to every other peer in a session of six, fully connected
//      and with one pair that cannot connect (bench/fanout.mjs);
//   e. the product, a late joiner to a ~5 MB session: a long transcript and a heavy drawing
//      (bench/large-session.mjs): click → all on screen, progress shown, longest main-thread task;
//   f. the product, voice (C7) in sessions of 2, 4 and 6 (bench/voice.mjs): per participant, CPU and
//      up/downstream kbit/s with nobody in voice and with everyone in voice (also `npm run bench:voice`);
//   g. media slots (bench/media-slots.mjs, decision 0011): connection set-up with and without the audio
//      and video transceivers in the first offer, adding them later by renegotiation, voice start;
//   h. the queue at scale (bench/queue-scale.mjs, issue 9): the product server alone in its own process
//      with 1,000 agent consoles and 1,000 waiting customers, 20 queue changes a second for 30 s:
//      console latency, customer position updates, what was missed or wrong, server CPU and RSS
//      (also `npm run bench:queue`). Last, once the browser parts are done.
// a and b run in interleaved rounds; a time budget cuts rounds short on a slow machine (n is shown).
//
// Environment (all optional): BENCH_REPS (default 15), BENCH_LARGE_REPS (default 5),
// BENCH_STOCK_LARGE_TIMEOUT_MS (default 20000), BENCH_VOICE_WINDOW_MS (default 10000),
// BENCH_VOICE_SIZES (default 2,4,6), BENCH_APP_DIR (a checkout to run the product from;
// default this one), CHROMIUM_PATH (default /usr/bin/chromium).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanup, launchBrowser, sleep, summarize } from './harness.mjs';
import { openPair, startProviderRig } from './providers.mjs';
import { buildIfStale, joinOnce, openGuest, openSession, startProduct } from './product.mjs';
import { measureFanout } from './fanout.mjs';
import { joinLarge, prepareLargeSession } from './large-session.mjs';
import { measureVoice, printVoiceTable, voiceReserveMs } from './voice.mjs';
import { measureMediaSlots } from './media-slots.mjs';
import { measureQueueScale, printQueueTable, queueReserveMs } from './queue-scale.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const appDir = process.env.BENCH_APP_DIR ?? root;
const REPS = Number(process.env.BENCH_REPS ?? 15);
const FANOUT_MESSAGES = Number(process.env.BENCH_FANOUT_MESSAGES ?? 100);
const LARGE_REPS = Number(process.env.BENCH_LARGE_REPS ?? 5);
const SESSION_REPS = Number(process.env.BENCH_SESSION_REPS ?? 3);
const STOCK_LARGE_TIMEOUT_MS = Number(process.env.BENCH_STOCK_LARGE_TIMEOUT_MS ?? 20_000);
const SMALL = { entries: 1, entryChars: 40, timeoutMs: 15_000 };
/** 1,000 chat messages of 4,000 characters (C1's cap): about 4 MB as one Yjs update. */
const LARGE = { entries: Number(process.env.BENCH_LARGE_ENTRIES ?? 1000), entryChars: 4000 };
/** What the voice part (f) needs at the very end: 150 s with the default sizes and window. */
const VOICE_RESERVE_MS = voiceReserveMs();
/** Part g, the media slots: about 15 s on this machine. */
const SLOTS_RESERVE_MS = 30_000;
/** Part h, the queue at scale: about 40 s here (server start, set-up, the 30 s window, settling); 90 s reserved. */
const QUEUE_RESERVE_MS = queueReserveMs();
/** Hard limit for the whole run, build included (480 s before f, plus f's, g's and h's reserves). */
const BUDGET_MS = 480_000 + VOICE_RESERVE_MS + SLOTS_RESERVE_MS + QUEUE_RESERVE_MS;
/** What the fan-out, large-document, large-session, voice, slots and queue runs (stock's timeout included) and cleanup need at the end. */
const LARGE_RESERVE_MS = 235_000 + VOICE_RESERVE_MS + SLOTS_RESERVE_MS + QUEUE_RESERVE_MS;

const started = Date.now();
/** Leave this much of the budget for the large-document runs and cleanup. */
const timeShort = (reserveMs) => Date.now() - started > BUDGET_MS - reserveMs;
const log = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${msg}`);

const watchdog = setTimeout(() => {
  console.error(`bench: over the ${BUDGET_MS / 1000} s budget, giving up`);
  void cleanup().finally(() => process.exit(1));
}, BUDGET_MS);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => void cleanup().finally(() => process.exit(130)));
}
for (const event of ['unhandledRejection', 'uncaughtException']) {
  process.on(event, (err) => {
    console.error(`bench failed (${event}): ${err?.stack ?? err}`);
    void cleanup().finally(() => process.exit(1));
  });
}

async function main() {
  const results = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, loadavgAtStart: loadavg().map((x) => Math.round(x * 100) / 100), node: process.version },
    config: { reps: REPS, largeReps: LARGE_REPS, stockLargeTimeoutMs: STOCK_LARGE_TIMEOUT_MS, small: SMALL, large: LARGE },
  };

  const buildMs = buildIfStale(appDir, log);
  results.productBuildMs = buildMs;
  if (buildMs !== null) log(`product: built in ${(buildMs / 1000).toFixed(1)} s`);

  const [browser, rig, product] = await Promise.all([launchBrowser(), startProviderRig(root), startProduct(appDir)]);
  results.machine.chromium = browser.version();
  log(`chromium ${browser.version()}; product on ${product.base}; stock signaling ${rig.stockSignaling}; relay ${rig.base}`);

  // Round-robin: every round opens one joining party's /join page and one fresh B page per provider
  // (all loaded before anything is timed), then measures a product join, stock and ours with B cold,
  // stock and ours with B warm. If the machine is slow, every scenario ends with the same count.
  const session = await openSession(browser, product);
  const pairs = { stock: await openPair(browser, rig, 'stock'), ours: await openPair(browser, rig, 'ours') };
  log('agent and customer in a session, provider pages open; warming up (not counted)');
  const productWarmup = await joinOnce(browser, product, session, 0);
  await pairs.stock.measure(SMALL);
  await pairs.ours.measure(SMALL);

  const joins = [];
  const cold = { stock: [], ours: [] };
  const warm = { stock: [], ours: [] };
  const failure = (err) => ({ error: String(err?.message ?? err).split('\n')[0] });
  let rounds = 0;
  for (let i = 1; i <= REPS; i++) {
    if (timeShort(LARGE_RESERVE_MS)) {
      log(`time is short: stopping after ${rounds} of ${REPS} rounds`);
      break;
    }
    const [guest, freshStock, freshOurs] = await Promise.allSettled([
      openGuest(browser, product, i),
      pairs.stock.freshB(),
      pairs.ours.freshB(),
    ]);
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
    rounds = i;
    if (i % 5 === 0) log(`round ${i}/${REPS}`);
  }
  results.rounds = rounds;
  if (session.errors.length) log(`product: page errors: ${session.errors.slice(0, 3).join(' | ')}`);
  await session.close();

  results.product = {
    what: 'real server and pages; a guest joins a live session with the agent and the customer online (2 peers to dial)',
    warmup: productWarmup,
    clickToTranscriptMs: summarize(joins.map((j) => j.clickToTranscriptMs)),
    clickToAttachMs: summarize(joins.map((j) => j.clickToAttachMs)),
    attachToSyncedMs: summarize(joins.map((j) => j.attachToSyncedMs)),
    clickToSyncedMs: summarize(joins.map((j) => j.clickToSyncedMs)),
    breakdownMs: Object.fromEntries(
      ['clickToRouteFetchMs', 'routeLoadMs', 'clickToNewSocketMs', 'socketOpenMs', 'socketOpenToAttachMs'].map((k) => [
        k,
        summarize(joins.map((j) => j.breakdown?.[k])),
      ]),
    ),
    samples: joins,
  };
  const joinErrors = joins.filter((j) => j.error).map((j) => j.error);
  if (joinErrors.length) log(`product: failed joins: ${[...new Set(joinErrors)].join(' | ')}`);

  const ok = (r) => (r.error || r.timedOut ? null : r);
  const providerSummary = (runs) => ({
    stock: {
      syncedMs: summarize(runs.stock.map((r) => ok(r)?.syncedMs)),
      contentMs: summarize(runs.stock.map((r) => ok(r)?.contentMs)),
      samples: runs.stock,
    },
    ours: {
      syncedMs: summarize(runs.ours.map((r) => ok(r)?.syncedMs)),
      contentMs: summarize(runs.ours.map((r) => ok(r)?.contentMs)),
      startToSyncedMs: summarize(runs.ours.map((r) => ok(r)?.startToSyncedMs)),
      samples: runs.ours,
    },
  });
  results.small = {
    what: 'two Chromium contexts; A holds one transcript entry; B starts (timer starts before its signaling connection opens)',
    cold: providerSummary(cold),
    warm: providerSummary(warm),
  };

  // d. Fan-out in a session of six (before c: the large runs leave heavy pages behind).
  log(`providers: fan-out, six peers, ${FANOUT_MESSAGES} messages, full mesh then one pair blocked`);
  const fanFull = await measureFanout(browser, rig, { messages: FANOUT_MESSAGES });
  const fanBlocked = await measureFanout(browser, rig, { messages: FANOUT_MESSAGES, block: true });
  results.fanout = {
    what: 'six Chromium contexts, our MeshProvider; one chat message written → arrived at all five others (in-page clocks)',
    fullMesh: { reachMs: summarize(fanFull.reachMs) },
    onePairBlocked: {
      reachMs: summarize(fanBlocked.reachMs),
      fromBlockedPairMs: summarize(fanBlocked.blockedPairMs),
    },
  };

  // c. A late joiner to a large document. Stock goes first: its one big message fails at once, and
  // its pages then sit idle until the timeout while ours is measured.
  const large = { ours: [], stock: [] };
  log(`providers: large document; stock runs alongside, up to ${STOCK_LARGE_TIMEOUT_MS / 1000} s`);
  const joinStock = await pairs.stock.prepare(LARGE);
  const stockDone = joinStock({ timeoutMs: STOCK_LARGE_TIMEOUT_MS });
  const quietBy = Date.now() + 5000;
  while (Date.now() < quietBy && (await pairs.stock.senderStats()).maxMessageBytes < 256 * 1024) await sleep(100);
  for (let i = 0; i < LARGE_REPS; i++) {
    if (timeShort(125_000 + VOICE_RESERVE_MS + SLOTS_RESERVE_MS + QUEUE_RESERVE_MS)) {
      log(`providers: large document, time is short: ${i} of ${LARGE_REPS} repetitions of ours`);
      break;
    }
    large.ours.push(await pairs.ours.measure({ ...LARGE, timeoutMs: 30_000 }));
  }
  large.stock.push(await stockDone);
  await Promise.all([pairs.stock.close(), pairs.ours.close()]);
  const slim = (r) => ({
    timedOut: r.timedOut,
    syncedMs: r.syncedMs,
    contentMs: r.contentMs,
    updateBytes: r.updateBytes,
    received: r.received,
    sender: r.sender,
    errors: r.errors,
  });
  const transferMs = (r) => (r.received?.lastMessageMs ?? NaN) - (r.received?.firstMessageMs ?? NaN);
  results.large = {
    what: `two Chromium contexts; A holds ${LARGE.entries} transcript entries of ${LARGE.entryChars} characters; B starts late`,
    documentBytes: large.ours[0]?.updateBytes ?? large.stock[0]?.updateBytes,
    ours: {
      syncedMs: summarize(large.ours.map((r) => (r.timedOut ? null : r.syncedMs))),
      contentMs: summarize(large.ours.map((r) => (r.timedOut ? null : r.contentMs))),
      transferMs: summarize(large.ours.map(transferMs)),
      peakBufferedAmountBytes: Math.max(...large.ours.map((r) => r.sender.maxBufferedAmount)),
      largestMessageBytes: Math.max(...large.ours.map((r) => r.sender.maxMessageBytes)),
      samples: large.ours.map(slim),
    },
    stock: {
      synced: large.stock.filter((r) => !r.timedOut).length,
      attempts: large.stock.length,
      timeoutMs: STOCK_LARGE_TIMEOUT_MS,
      largestMessageBytes: Math.max(...large.stock.map((r) => r.sender.maxMessageBytes)),
      sendErrors: [...new Set(large.stock.flatMap((r) => r.sender.errors))],
      maxMessageSize: large.stock[0]?.sender.maxMessageSize ?? null,
      samples: large.stock.map(slim),
    },
  };
  // e. The product, a late joiner to a large session.
  log(`product: large session (long transcript + heavy drawing), ${SESSION_REPS} late joiners`);
  const bigSession = await prepareLargeSession(browser, product);
  const bigJoins = [];
  for (let i = 0; i < SESSION_REPS; i++) {
    if (timeShort(20_000 + VOICE_RESERVE_MS + SLOTS_RESERVE_MS + QUEUE_RESERVE_MS)) {
      log(`product: large session, time is short: ${i} of ${SESSION_REPS} joins`);
      break;
    }
    try {
      bigJoins.push(await joinLarge(browser, product, bigSession, i));
    } catch (err) {
      bigJoins.push(failure(err));
    }
  }
  await bigSession.session.close();
  results.largeSession = {
    what: `real server and pages; ${bigSession.seed.messages} transcript entries of ~3,900 characters and ${bigSession.seed.strokes} strokes of 300 points; a guest joins`,
    documentBytes: bigSession.seed.update.byteLength,
    clickToCompleteMs: summarize(bigJoins.map((j) => j.clickToCompleteMs)),
    firstProgressMs: summarize(bigJoins.map((j) => j.firstProgressMs)),
    progressUpdates: summarize(bigJoins.map((j) => j.progressUpdates)),
    longestTaskMs: summarize(bigJoins.map((j) => j.longestTaskMs)),
    longTasksTotalMs: summarize(bigJoins.map((j) => j.longTasksTotalMs)),
    samples: bigJoins,
  };

  // f. The product, voice in sessions of 2, 4 and 6 (its sizes are skipped if they no longer fit).
  log('product: voice, sessions of 2, 4 and 6, nobody then everyone in voice');
  results.voice = await measureVoice({ browser, product, log, deadline: started + BUDGET_MS - SLOTS_RESERVE_MS - QUEUE_RESERVE_MS - 10_000 });

  // g. What the media slots cost a connection (decision 0011).
  log('media slots: connection set-up with and without the slots in the first offer');
  results.mediaSlots = await measureMediaSlots({ reps: 20, log });

  // h. The queue at scale, on a server of its own (the browser and the other servers sit idle).
  log('queue at scale: 1,000 consoles, 1,000 waiting, 20 changes a second');
  try {
    results.queueScale = await measureQueueScale({ appDir, log });
  } catch (err) {
    log(`queue at scale failed: ${String(err?.message ?? err).split('\n')[0]}`);
    results.queueScale = { what: 'queue at scale', error: String(err?.message ?? err).split('\n')[0] };
  }

  results.machine.loadavgAtEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  results.durationMs = Date.now() - started;

  mkdirSync(join(root, '.bench'), { recursive: true });
  writeFileSync(join(root, '.bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(
    join(root, '.bench', 'voice.json'),
    `${JSON.stringify({ date: results.date, machine: results.machine, voice: results.voice }, null, 2)}\n`,
  );
  printTable(results);
  printVoiceTable(results.voice);
  printQueueTable(results.queueScale);
  console.log(`\nwrote .bench/results.json and .bench/voice.json (${(results.durationMs / 1000).toFixed(0)} s)`);

  const empty = [
    results.product.clickToTranscriptMs,
    results.small.cold.stock.syncedMs,
    results.small.cold.ours.syncedMs,
    results.small.warm.stock.syncedMs,
    results.small.warm.ours.syncedMs,
    results.large.ours.contentMs,
    results.fanout.fullMesh.reachMs,
    results.fanout.onePairBlocked.fromBlockedPairMs,
    results.largeSession.clickToCompleteMs,
  ].some((s) => s.n === 0) || !results.voice.runs.some((r) => r.voice) || !results.queueScale.agentLatencyMs?.n;
  if (empty) throw new Error('a scenario produced no successful sample; see .bench/results.json');
}

function printTable(r) {
  const rows = [];
  const row = (label, s, note = '') => rows.push([label, s.n === 0 ? `0/${s.failed}` : `${s.n}${s.failed ? `(+${s.failed} failed)` : ''}`, s.min, s.median, s.p90, s.max, note]);
  rows.push(['a. PRODUCT (real server + pages, guest joins agent + customer)']);
  row('   Join Us click → agent message on screen', r.product.clickToTranscriptMs);
  row('   Join Us click → attach ack', r.product.clickToAttachMs, 'handle login + navigation + socket + attach');
  const bd = r.product.breakdownMs;
  row('     click → session route requested', bd.clickToRouteFetchMs, 'handle:login round trip');
  row('     session route (RSC + chunks) loaded', bd.routeLoadMs);
  row('     click → new socket created', bd.clickToNewSocketMs, 'the /join socket closes; the view opens its own');
  row('     new socket open → attach ack', bd.socketOpenToAttachMs, 'socket.io connect + session:attach');
  row('   attach ack → mesh synced (provider start → synced)', r.product.attachToSyncedMs, 'performance marks');
  for (const [k, what] of [
    ['cold', "B's page never made a peer connection"],
    ['warm', "B's page made one before"],
  ]) {
    const x = r.small[k];
    rows.push([`b. PROVIDERS, two peers, small document, B ${k} (${what})`]);
    row('   stock y-webrtc: construct → synced event', x.stock.syncedMs, 'reference signaling server');
    row('   stock y-webrtc: construct → content in doc', x.stock.contentMs);
    row('   ours: connect + start → synced', x.ours.syncedMs, 'bench socket.io relay');
    row('   ours: MeshProvider.start() → synced', x.ours.startToSyncedMs);
  }
  const mb = (b) => `${(b / 1e6).toFixed(2)} MB`;
  rows.push([`c. LATE JOINER, ${mb(r.large.documentBytes)} document`]);
  row('   ours: connect + start → content in doc', r.large.ours.contentMs, `peak bufferedAmount ${mb(r.large.ours.peakBufferedAmountBytes)}`);
  row('   ours: first → last frame on the wire', r.large.ours.transferMs, `frames ≤ ${r.large.ours.largestMessageBytes} B`);
  const st = r.large.stock;
  rows.push([
    '   stock y-webrtc',
    `${st.synced}/${st.attempts} synced`,
    '',
    '',
    '',
    '',
    st.synced === 0 ? `did not sync in ${st.timeoutMs / 1000} s: ${st.sendErrors[0] ?? 'no send error seen'}` : '',
  ]);
  const p99 = (s) => `p99 ${s.p99}`;
  rows.push(['d. FAN-OUT, six peers: one chat message → all five others']);
  row('   full mesh', r.fanout.fullMesh.reachMs, p99(r.fanout.fullMesh.reachMs));
  row('   one pair blocked: every message', r.fanout.onePairBlocked.reachMs, p99(r.fanout.onePairBlocked.reachMs));
  row('   one pair blocked: from the blocked pair', r.fanout.onePairBlocked.fromBlockedPairMs, `${p99(r.fanout.onePairBlocked.fromBlockedPairMs)}; forwarded by the other four`);
  const ls = r.largeSession;
  rows.push([`e. PRODUCT, late joiner to a ${mb(ls.documentBytes)} session (transcript + drawing)`]);
  row('   Join Us click → last entry and every stroke on screen', ls.clickToCompleteMs);
  row('   Join Us click → first "receiving … MB" shown', ls.firstProgressMs, `progress updates: median ${ls.progressUpdates.median}`);
  row('   longest main-thread task meanwhile', ls.longestTaskMs, `all long tasks: median ${ls.longTasksTotalMs.median} ms`);
  const head = ['ms', 'n', 'min', 'median', 'p90', 'max', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.filter((x) => x.length > 1).map((x) => String(x[i] ?? '').length)));
  widths[6] = 0;
  const fmt = (x) => x.map((c, i) => (i === 0 ? String(c ?? '').padEnd(widths[0]) : String(c ?? '').padStart(widths[i]))).join('  ');
  console.log(`\nJoin Us peer-sync benchmark, ${r.date} (${r.machine.cpus} CPUs, load ${r.machine.loadavgAtStart.join(' ')}, Chromium ${r.machine.chromium})`);
  console.log(fmt(head));
  for (const x of rows) console.log(x.length === 1 ? x[0] : fmt(x));
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
