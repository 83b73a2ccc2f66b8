// e. The product with a large session (issue 6): a late joiner to a session holding a long transcript
// and a heavy drawing, about 5 MB together. The customer's local copy is given the session
// (tests/e2e/support/large-session.ts, the browser's own IndexedDB: no hook in the product), the
// customer reloads, the mesh carries it to the agent; then a fresh context joins with a handle, and
// its page records, on its own clock: the click, when the last entry and every stroke are on screen,
// every "receiving … MB" the status showed, and the long tasks (> 50 ms) the main thread had meanwhile.
import { randomBytes } from 'node:crypto';
import { addToLocalCopy, largeSession, pageSigner } from '../tests/e2e/support/large-session.ts';
import { openGuest, openSession } from './product.mjs';

const END = 'The end of the seeded history.';

export async function prepareLargeSession(browser, product) {
  const session = await openSession(browser, product);
  const sessionId = new URL(session.customer.url()).pathname.split('/').at(-1);
  const seed = await largeSession(await pageSigner(session.customer, sessionId));
  await addToLocalCopy(session.customer, sessionId, seed.update);
  await session.customer.reload();
  await session.customer.getByRole('log', { name: 'Session transcript' }).getByText(END).waitFor({ timeout: 60_000 });
  await session.agent.getByRole('log', { name: 'Session transcript' }).getByText(END).waitFor({ timeout: 60_000 });
  return { session, seed };
}

export async function joinLarge(browser, product, { session, seed }, i) {
  const { agent } = session;
  const handle = `large-${i}-${randomBytes(3).toString('hex')}`;
  await agent.getByRole('combobox', { name: 'Options' }).selectOption({ label: 'Join Us' });
  await agent.getByRole('textbox', { name: 'Handle' }).fill(handle);
  await agent.getByRole('button', { name: 'OK' }).click();
  await agent.getByText(`Handle ${handle} is reserved`).waitFor({ timeout: 10_000 });
  const { ctx, guest, errors } = await openGuest(browser, product, `L${i}`);
  try {
    await guest.getByRole('textbox', { name: 'Handle' }).fill(handle);
    await guest.evaluate(
      ({ end, strokes }) => {
        const stamp = () => performance.timeOrigin + performance.now();
        const rec = { click: null, complete: null, progress: [], longTasks: [] };
        window.__large = rec;
        new PerformanceObserver((list) => {
          for (const e of list.getEntries()) rec.longTasks.push({ at: performance.timeOrigin + e.startTime, ms: e.duration });
        }).observe({ type: 'longtask', buffered: true });
        document.addEventListener(
          'click',
          (e) => {
            if (e.target instanceof Element && e.target.closest('button')?.textContent === 'Join Us') rec.click = stamp();
          },
          { capture: true, once: true },
        );
        const check = () => {
          const status = document.querySelector('[role="status"][aria-label="Connection"]')?.textContent ?? '';
          const m = /receiving the session, ([\d.]+) MB/.exec(status);
          if (m && rec.progress.at(-1)?.mb !== Number(m[1])) rec.progress.push({ at: stamp(), mb: Number(m[1]) });
          if (rec.complete) return;
          const log = document.querySelector('[role="log"]');
          const paths = document.querySelectorAll('[aria-label^="Drawing: "] path').length;
          if (log?.textContent.includes(end) && paths >= strokes) rec.complete = stamp();
          else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
      },
      { end: END, strokes: seed.strokes },
    );
    await guest.getByRole('button', { name: 'Join Us' }).click();
    await guest.waitForFunction(() => window.__large?.complete, null, { timeout: 90_000, polling: 250 });
    const r = await guest.evaluate(() => window.__large);
    const during = r.longTasks.filter((t) => t.at >= r.click && t.at <= r.complete);
    return {
      clickToCompleteMs: r.complete - r.click,
      progressUpdates: r.progress.length,
      firstProgressMs: r.progress[0] ? r.progress[0].at - r.click : null,
      longestTaskMs: during.length ? Math.max(...during.map((t) => t.ms)) : 0,
      longTasksTotalMs: during.reduce((s, t) => s + t.ms, 0),
      errors,
    };
  } finally {
    await ctx.close();
  }
}
