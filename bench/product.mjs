// The real product: build if stale (the rule of scripts/start.mjs), serve it on a free port, and drive
// its pages the way people do. An agent signs in, a customer starts a session, the agent accepts and
// writes; then, per repetition, the agent reserves a handle and a fresh browser context joins with it
// (joinOnce), or joins and stays (addGuest, for sessions of more than two).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { buildState } from '../scripts/build-stale.mjs';
import { serverArgs } from '../scripts/server-bundle.mjs';
import { freePort, startChild, waitHttp } from './harness.mjs';

/** `next build` when there is no build or a source is newer than it. Returns the build time or null. */
export function buildIfStale(appDir, log) {
  const { builtMs: built, stale } = buildState(appDir);
  if (!stale) return null;
  log(built ? 'product: sources changed since the last build, running next build…' : 'product: no build yet, running next build…');
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [join(appDir, 'node_modules', 'next', 'dist', 'bin', 'next'), 'build'], {
    cwd: appDir,
    encoding: 'utf8',
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    timeout: 180_000,
  });
  if (r.status !== 0) throw new Error(`next build failed (${r.status ?? r.signal}):\n${(r.stdout ?? '') + (r.stderr ?? '')}`.slice(-6000));
  return Date.now() - t0;
}

/** The product's server (server.ts) on a free port; `distDir`: serve that build instead of `.next`. */
export async function startProduct(appDir, { distDir } = {}) {
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const server = startChild(distDir ? `product server (${distDir})` : 'product server', process.execPath, await serverArgs(appDir, 'server'), {
    cwd: appDir,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      NEXT_TELEMETRY_DISABLED: '1',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      // Two accounts: one for the session the joins go into, one for the entry runs (bench/entry.mjs).
      JOINUS_AGENTS: `bench:${password},entry:${password}`,
      JOINUS_ICE_SERVERS: '[]',
      ...(distDir ? { JOINUS_NEXT_DIST_DIR: distDir } : {}),
    },
  });
  const base = `http://127.0.0.1:${port}`;
  await waitHttp(`${base}/`, { timeoutMs: 60_000, child: server });
  return {
    base,
    server,
    distDir: join(appDir, distDir ?? '.next'),
    agent: { username: 'bench', password },
    entryAgent: { username: 'entry', password },
  };
}

const AGENT_MESSAGE = 'Bench: hello from the agent';
/** What follows a joined party's name in its arrival line (features/transcript/doc.ts, joinedText). */
const ARRIVED = 'joined the session with a handle';
/**
 * A key a person types in the handle every so often (60 ms: a quick typist). With a handle pasted
 * and "Join Us" clicked in the same instant, 22 of 120 joins on the reference machine waited 42-116 ms
 * more, for the session's code still being fetched (docs/benchmarks.md).
 */
const HANDLE_KEY_DELAY_MS = 60;

/** The agent console on `page`, signed in as `account`, waiting for customers. */
export async function signInAgent(page, product, account) {
  await page.goto(`${product.base}/agent`);
  await page.getByRole('textbox', { name: 'Username' }).fill(account.username);
  await page.getByRole('textbox', { name: 'Password' }).fill(account.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('list', { name: 'Waiting customers' }).waitFor();
}

/**
 * Agent and customer in a live session, the agent's message seen by the customer.
 * `prepareContext(ctx)`, if given, runs on each new context before its page opens (init scripts).
 */
export async function openSession(browser, product, { prepareContext } = {}) {
  const { base } = product;
  const errors = [];
  const page = async (name) => {
    const ctx = await browser.newContext();
    await prepareContext?.(ctx);
    const p = await ctx.newPage();
    p.on('pageerror', (e) => errors.push(`${name}: ${e.message}`));
    return p;
  };
  const agent = await page('agent');
  const customer = await page('customer');
  await signInAgent(agent, product, product.agent);
  await customer.goto(`${base}/help`);
  await customer.getByRole('textbox', { name: 'Your name' }).fill('Alice');
  await customer.getByRole('textbox', { name: 'How can we help?' }).fill('Benchmark session');
  await customer.getByRole('button', { name: 'Start session' }).click();
  await agent.getByRole('button', { name: 'Accept' }).click();
  await customer.getByRole('log', { name: 'Session transcript' }).waitFor();
  await agent.getByRole('log', { name: 'Session transcript' }).waitFor();
  await agent.getByRole('textbox', { name: 'Message' }).fill(AGENT_MESSAGE);
  await agent.getByRole('button', { name: 'Send' }).click();
  await customer.getByRole('log', { name: 'Session transcript' }).getByText(AGENT_MESSAGE).waitFor({ timeout: 15_000 });
  return {
    agent,
    customer,
    errors,
    close: () => Promise.allSettled([agent.context().close(), customer.context().close()]),
  };
}

/**
 * A fresh browser context on /join with the name filled in: the joining party, before the handle.
 * `prepareContext(ctx)` as for openSession.
 */
export async function openGuest(browser, product, i, { prepareContext } = {}) {
  const ctx = await browser.newContext();
  await prepareContext?.(ctx);
  // Socket.io captures the WebSocket constructor when it loads: record every socket's creation and
  // open times from the start, for the breakdown of a join.
  await ctx.addInitScript(() => {
    const Native = window.WebSocket;
    const stamp = () => performance.timeOrigin + performance.now();
    window.__benchSockets = [];
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        const rec = { created: stamp(), open: null };
        window.__benchSockets.push(rec);
        this.addEventListener('open', () => {
          rec.open = stamp();
        });
      }
    };
  });
  // On every page load of this context: when (ms after navigation start) the transcript first shows
  // the agent's message: for the reload figure (S3).
  await ctx.addInitScript((text) => {
    const observer = new MutationObserver(() => {
      const log = document.querySelector('[role="log"][aria-label="Session transcript"]');
      if (log && log.textContent.includes(text)) {
        window.__benchShownMs = performance.now();
        observer.disconnect();
      }
    });
    observer.observe(document, { subtree: true, childList: true, characterData: true });
  }, AGENT_MESSAGE);
  const errors = [];
  const guest = await ctx.newPage();
  guest.on('pageerror', (e) => errors.push(e.message));
  await guest.goto(`${product.base}/join`);
  await guest.getByRole('textbox', { name: 'Your name' }).fill(`Guest ${i}`);
  return { ctx, guest, errors };
}

/** The agent reserves `handle` for a joining party (Options → Join Us). */
async function reserveHandle(agent, handle) {
  await agent.getByRole('combobox', { name: 'Options' }).selectOption({ label: 'Join Us' });
  await agent.getByRole('textbox', { name: 'Handle' }).fill(handle);
  await agent.getByRole('button', { name: 'OK' }).click();
  await agent.getByText(`Handle ${handle} is reserved`).waitFor({ timeout: 10_000 });
}

/**
 * A guest who joins the session with a handle and stays in it (joinOnce times one join and leaves):
 * for sessions of more than two. Returns its page once its transcript shows the agent's message;
 * closing `ctx` is the caller's.
 */
export async function addGuest(browser, product, session, i, options) {
  const handle = `guest-${i}-${randomBytes(3).toString('hex')}`;
  await reserveHandle(session.agent, handle);
  const { ctx, guest, errors } = await openGuest(browser, product, i, options);
  try {
    await guest.getByRole('textbox', { name: 'Handle' }).fill(handle);
    await guest.getByRole('button', { name: 'Join Us' }).click();
    await guest.getByRole('log', { name: 'Session transcript' }).getByText(AGENT_MESSAGE).waitFor({ timeout: 20_000 });
    return { ctx, guest, errors };
  } catch (err) {
    await ctx.close();
    throw err;
  }
}

/** For `watch`: the source of a check that the element at `selector` holds `text`. */
const logIncludes = (selector, text) => `() => document.querySelector(${JSON.stringify(selector)})?.textContent.includes(${JSON.stringify(text)}) ?? false`;

/**
 * Watch the page for `check()` becoming true (on every DOM change) and store the time it first did
 * under `key` in sessionStorage; with `clickText`, also store the time of the first click on a
 * button with that text under `${key}:click`.
 */
export async function watch(page, key, source, clickText = null) {
  await page.evaluate(
    ({ key, source, clickText }) => {
      const stamp = () => performance.timeOrigin + performance.now();
      const check = new Function(`return (${source})()`);
      sessionStorage.removeItem(key);
      if (clickText) {
        sessionStorage.removeItem(`${key}:click`);
        document.addEventListener(
          'click',
          (e) => {
            if (e.target instanceof Element && e.target.closest('button')?.textContent === clickText && !sessionStorage.getItem(`${key}:click`)) {
              sessionStorage.setItem(`${key}:click`, String(stamp()));
            }
          },
          { capture: true },
        );
      }
      const observer = new MutationObserver(() => {
        if (check()) {
          sessionStorage.setItem(key, String(stamp()));
          observer.disconnect();
        }
      });
      observer.observe(document.documentElement, { subtree: true, childList: true, characterData: true });
    },
    { key, source, clickText },
  );
}

/**
 * One join: the agent reserves a handle; a fresh context opens /join, fills it in and clicks Join Us.
 * Times come from the joining page itself (performance.timeOrigin + performance.now(), so they hold
 * across a navigation): the click (capture-phase listener), the transcript log first containing the
 * agent's message (checked on every DOM mutation), and the product's two performance marks
 * (lib/client/session-connection.ts: `joinus:attach` when the attach ack arrives and the mesh
 * starts, `joinus:synced` when the mesh first reports synced). The agent's and the customer's pages
 * time when their transcripts first show the newcomer's arrival line (same machine, one clock).
 */
export async function joinOnce(browser, product, session, i, prepared) {
  const { agent } = session;
  const guestReady = prepared ?? openGuest(browser, product, i);
  const handle = `bench-${i}-${randomBytes(3).toString('hex')}`;
  await reserveHandle(agent, handle);

  const { ctx, guest, errors } = await guestReady;
  try {
    // Typed as a person types it, not pasted in the same millisecond as the click: the page fetches
    // the session's code while the form is filled in (decision 0014), as it does for a person.
    await guest.getByRole('textbox', { name: 'Handle' }).pressSequentially(handle, { delay: HANDLE_KEY_DELAY_MS });
    const button = guest.getByRole('button', { name: 'Join Us' });
    await button.waitFor();
    await guest.waitForFunction(() => {
      const b = [...document.querySelectorAll('button')].find((x) => x.textContent === 'Join Us');
      return b && !b.disabled;
    });
    // The app opens the session in place, so this document (and this observer) lives on into the session view.
    await watch(guest, 'bench:shown', logIncludes('[role="log"]', AGENT_MESSAGE), 'Join Us');
    // The others see the newcomer arrive: its own signed line, verified, in their transcripts.
    const arrived = logIncludes('[role="log"][aria-label="Session transcript"]', `Guest ${i} ${ARRIVED}`);
    await Promise.all([watch(agent, 'bench:arrived', arrived), watch(session.customer, 'bench:arrived', arrived)]);
    await button.click();
    // Normally the observer has the time; after a full page load it is gone, and the first animation
    // frame that sees the message is the (coarser) fallback.
    const shown = await (
      await guest.waitForFunction(
        (text) => {
          const at = sessionStorage.getItem('bench:shown');
          if (at) return { at: Number(at), by: 'mutation' };
          const log = document.querySelector('[role="log"]');
          return log && log.textContent.includes(text) ? { at: performance.timeOrigin + performance.now(), by: 'raf' } : false;
        },
        AGENT_MESSAGE,
        { polling: 'raf', timeout: 20_000 },
      )
    ).jsonValue();
    const shownAt = shown.at;
    await guest.waitForFunction(() => performance.getEntriesByName('joinus:synced').length > 0, null, { timeout: 10_000 });
    const t = await guest.evaluate(() => {
      const at = (name) => {
        const e = performance.getEntriesByName(name)[0];
        return e ? performance.timeOrigin + e.startTime : null;
      };
      return {
        click: Number(sessionStorage.getItem('bench:shown:click')),
        attach: at('joinus:attach'),
        synced: at('joinus:synced'),
        marks: Object.fromEntries(
          performance
            .getEntriesByType('mark')
            .filter((m) => m.name.startsWith('joinus:'))
            .map((m) => [m.name.slice('joinus:'.length), performance.timeOrigin + m.startTime]),
        ),
        url: location.pathname,
        resources: performance
          .getEntriesByType('resource')
          .map((e) => ({ name: e.name, start: performance.timeOrigin + e.startTime, end: performance.timeOrigin + e.responseEnd })),
        sockets: window.__benchSockets ?? [],
      };
    });
    if (!t.click) throw new Error('the click on "Join Us" was not recorded');
    const arrivedAt = (page) => page.waitForFunction(() => Number(sessionStorage.getItem('bench:arrived')) || false, null, { timeout: 20_000 }).then((h) => h.jsonValue());
    const [agentSeesAt, customerSeesAt] = await Promise.all([arrivedAt(agent), arrivedAt(session.customer)]);
    // Where the time between the click and the attach ack goes (all from the joining page's clock).
    const socket = t.sockets.find((x) => x.created > t.click);
    const route = t.resources.filter((x) => x.start > t.click && (!socket || x.start < socket.created) && !x.name.includes('/socket.io/'));
    const routeFetch = route.find((x) => x.name.includes('/session/'));
    const breakdown = {
      clickToRouteFetchMs: routeFetch ? routeFetch.start - t.click : null,
      routeLoadMs: routeFetch ? Math.max(...route.map((x) => x.end)) - routeFetch.start : null,
      routeRequests: route.length,
      clickToNewSocketMs: socket ? socket.created - t.click : null,
      socketOpenMs: socket?.open ? socket.open - socket.created : null,
      socketOpenToAttachMs: socket?.open ? t.attach - socket.open : null,
    };
    // S3: the party reloads; the session route shows the transcript again (from the tab's local copy).
    await guest.reload();
    const reloadToTranscriptMs = await (
      await guest.waitForFunction(() => window.__benchShownMs ?? false, null, { polling: 'raf', timeout: 20_000 })
    ).jsonValue();
    return {
      clickToTranscriptMs: shownAt - t.click,
      reloadToTranscriptMs,
      clickToAttachMs: t.attach - t.click,
      attachToSyncedMs: t.synced - t.attach,
      clickToSyncedMs: t.synced - t.click,
      clickToAgentSeesMs: agentSeesAt - t.click,
      clickToCustomerSeesMs: customerSeesAt - t.click,
      breakdown,
      // Every product mark (lib/marks.ts) as ms after the click, and the transcript on screen.
      steps: { ...Object.fromEntries(Object.entries(t.marks).map(([k, v]) => [k, v - t.click])), shown: shownAt - t.click },
      landedOn: t.url,
      shownBy: shown.by,
      errors,
    };
  } finally {
    await ctx.close();
  }
}
