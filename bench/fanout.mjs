// Fan-out: one participant's chat message reaching every other in a session of six, each peer in its
// own Chromium context with our MeshProvider (bench/pages/ours-entry.mjs), signaling through the
// bench relay. Times are taken in the pages (performance.timeOrigin + now(): one machine, one clock):
// from the sender's write to the last of the five arrivals. The bench reads the arrivals only after
// a quiet window (`quietMs`): polling five pages through Playwright while the message travels (CDP
// commands through the browser process, which carries every data-channel packet too) added itself to
// the figures, about +2 ms median and +10 ms p99 to the provider and the raw floor alike (6.3/17.8 →
// 4.4/7.7 ms, raw 3.8/13.9 → 2.6/4.4 ms in back-to-back runs). Run with the mesh fully connected, and
// with one pair that can never connect (the relay drops their signals), whose messages to each other
// travel through the other four (C9 forwarding).
//
// The floors (fully connected runs only): the same six pages also hold a full mesh of plain
// RTCPeerConnections with one ordered, reliable data channel each, signaled by the bench before any
// timing. Each measured provider message is paired with a raw one of about a chat update's size, from
// the same sender, through the same page clocks and the same polling, and with the same bare message
// sent on the provider's own channels and taken off before the provider reads it (the tap,
// bench/pages/ours-entry.mjs): what those connections cost without Yjs and the mesh's code. The order
// of the three turns every round of six, so none always follows another's traffic. Every message
// waits `settleMs` first: receivers acknowledge an update 20 ms after it arrives (MeshProvider
// ackDelayMs), and back to back those acknowledgements of one message land in the next one's window
// (measured: ~+1 ms on the provider's median, and on a raw message that follows a provider one).
// The sender's page also notes, in the write's own task, when Yjs handed the update over and when
// the first and the last of the five sends went.
import { randomUUID } from 'node:crypto';

async function waitUntil(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`fan-out: timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A full mesh of raw data channels between `pages`, through the bench (nothing here is timed). */
export async function connectRaw(pages, timeoutMs) {
  const pairs = [];
  for (let i = 0; i < pages.length; i++) for (let j = i + 1; j < pages.length; j++) pairs.push([i, j]);
  await Promise.all(
    pairs.map(async ([i, j]) => {
      const offer = await pages[i].evaluate((to) => window.JB.rawOffer(to), `p${j}`);
      const answer = await pages[j].evaluate((x) => window.JB.rawAnswer(x), { from: `p${i}`, offer });
      await pages[i].evaluate((x) => window.JB.rawAccept(x), { to: `p${j}`, answer });
    }),
  );
  await waitUntil(
    `every page has ${pages.length - 1} raw channels open`,
    async () => (await Promise.all(pages.map((p) => p.evaluate(() => window.JB.rawOpen())))).every((n) => n === pages.length - 1),
    timeoutMs,
  );
}

/**
 * @returns {{ reachMs: number[], rawReachMs: number[] | null, tapReachMs: number[] | null, sender: { updateMs: number[], firstSendMs: number[], lastSendMs: number[] }, blockedPairMs: number[] }}
 * per message, from write to the last arrival; `rawReachMs` and `tapReachMs`: the raw data-channel
 * floor and the bare message on the provider's own channels (fully connected runs; null with a
 * blocked pair); `sender`: write → the update from Yjs, → the first and the last send;
 * `blockedPairMs`: messages from one of the blocked pair (they reach the other only through the rest).
 */
export async function measureFanout(browser, rig, { peers = 6, messages = 60, block = false, settleMs = 30, quietMs = 25, timeoutMs = 20_000 } = {}) {
  const names = Array.from({ length: peers }, (_, i) => `p${i}`);
  const pair = block ? ['p0', 'p1'] : [];
  const contexts = [];
  try {
    const pages = [];
    for (let i = 0; i < peers; i++) {
      const ctx = await browser.newContext();
      contexts.push(ctx);
      const page = await ctx.newPage();
      await page.goto(`${rig.base}/ours.html`);
      pages.push(page);
    }
    const room = `fanout-${randomUUID()}`;
    await Promise.all(
      pages.map((page, i) =>
        page.evaluate((p) => window.JB.fanJoin(p), {
          url: rig.base,
          room,
          name: names[i],
          block: names[i] === pair[0] ? [pair[1]] : [],
        }),
      ),
    );
    await waitUntil(
      `every peer reaches ${peers - 1} others`,
      async () => (await Promise.all(pages.map((p) => p.evaluate(() => window.JB.fanReached())))).every((n) => n === peers - 1),
      timeoutMs,
    );
    const withRaw = !block;
    if (withRaw) await connectRaw(pages, timeoutMs);
    /** Sends one message from `sender`; resolves with the time from the write to the last arrival. */
    const reach = async (kind, sender, id) => {
      await new Promise((r) => setTimeout(r, settleMs));
      const [say, arrival] = { raw: ['rawSay', 'rawArrival'], tap: ['tapSay', 'tapArrival'], provider: ['fanSay', 'fanArrival'] }[kind];
      const sentAt = await pages[sender].evaluate(([f, x]) => window.JB[f](x), [say, id]);
      // Nothing from the bench reaches the pages while the message travels: polling from five pages
      // at once (CDP commands through the browser process, which also carries every data-channel
      // packet) would be part of what is measured.
      await new Promise((r) => setTimeout(r, quietMs));
      const arrived = await Promise.all(
        pages
          .filter((_, j) => j !== sender)
          .map(async (page) => {
            const handle = await page.waitForFunction(([f, x]) => window.JB[f](x), [arrival, id], { timeout: timeoutMs });
            return handle.jsonValue();
          }),
      );
      return Math.max(...arrived) - sentAt;
    };
    const reachMs = [];
    const rawReachMs = withRaw ? [] : null;
    const tapReachMs = withRaw ? [] : null;
    const sender = { updateMs: [], firstSendMs: [], lastSendMs: [] };
    const blockedPairMs = [];
    const warmup = 5;
    const kinds = withRaw ? ['provider', 'raw', 'tap'] : ['provider'];
    for (let i = 0; i < warmup + messages; i++) {
      const from = i % peers;
      const turn = Math.floor(i / peers) % kinds.length;
      const ms = {};
      for (const kind of [...kinds.slice(turn), ...kinds.slice(0, turn)]) ms[kind] = await reach(kind, from, `${kind[0]}${i}`);
      if (i < warmup) continue;
      reachMs.push(ms.provider);
      if (withRaw) {
        rawReachMs.push(ms.raw);
        tapReachMs.push(ms.tap);
      }
      const times = await pages[from].evaluate((id) => window.JB.fanSender(id), `p${i}`);
      for (const k of Object.keys(sender)) sender[k].push(times?.[k] ?? null);
      if (pair.includes(names[from])) blockedPairMs.push(ms.provider);
    }
    if (withRaw) await Promise.all(pages.map((p) => p.evaluate(() => window.JB.rawStop())));
    return { reachMs, rawReachMs, tapReachMs, sender, blockedPairMs };
  } finally {
    await Promise.allSettled(contexts.map((c) => c.close()));
  }
}
