// Fan-out: one participant's chat message reaching every other in a session of six, each peer in its
// own Chromium context with our MeshProvider (bench/pages/ours-entry.mjs), signaling through the
// bench relay. Times are taken in the pages (performance.timeOrigin + now(): one machine, one clock):
// from the sender's write to the last of the five arrivals. Run with the mesh fully connected, and
// with one pair that can never connect (the relay drops their signals), whose messages to each other
// travel through the other four (C9 forwarding).
import { randomUUID } from 'node:crypto';

async function waitUntil(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`fan-out: timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * @returns {{ reachMs: number[], blockedPairMs: number[] }} per message, from write to the last
 * arrival; `blockedPairMs`: messages from one of the blocked pair (they reach the other only through
 * the rest).
 */
export async function measureFanout(browser, rig, { peers = 6, messages = 60, block = false, timeoutMs = 20_000 } = {}) {
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
    const reachMs = [];
    const blockedPairMs = [];
    const warmup = 5;
    for (let i = 0; i < warmup + messages; i++) {
      const sender = i % peers;
      const id = `f${i}`;
      const sentAt = await pages[sender].evaluate((x) => window.JB.fanSay(x), id);
      const arrived = await Promise.all(
        pages
          .filter((_, j) => j !== sender)
          .map(async (page) => {
            const handle = await page.waitForFunction((x) => window.JB.fanArrival(x), id, { timeout: timeoutMs });
            return handle.jsonValue();
          }),
      );
      if (i < warmup) continue;
      const ms = Math.max(...arrived) - sentAt;
      reachMs.push(ms);
      if (pair.includes(names[sender])) blockedPairMs.push(ms);
    }
    return { reachMs, blockedPairMs };
  } finally {
    await Promise.allSettled(contexts.map((c) => c.close()));
  }
}
