// How the product's front doors feel, from the pages themselves (part a of `npm run bench`, beside
// the join): each figure is taken in the page by the page's own clock (performance.timeOrigin +
// performance.now(); every page of one browser on one machine shares the wall clock to well under a
// millisecond), so Playwright's own round trips never count.
//
//   - a fresh browser context opens the Join Us page (and the help page): navigation start → the
//     form usable (hydrated, its connection to the server open: the product's `joinus:form-ready`
//     mark, lib/marks.ts), and → first contentful paint;
//   - a customer clicks "Start session" → the queue position shown on the help page;
//   - the agent clicks "Accept" → both transcripts show that both are in the session (each side's
//     "joined as …" line on both screens, i.e. the data channel is up and synced both ways).
import { randomBytes } from 'node:crypto';
import { signInAgent, watch } from './product.mjs';

/**
 * In a fresh context (no cache): navigation → the form on screen and hydrated (`joinus:form-ready`)
 * and → first contentful paint; then → the form's connection open (`joinus:connected`). The Join Us
 * page opens its connection only once someone starts on the form: there the connection is timed
 * from the first focus (the bench focuses the name field as soon as the form is ready).
 */
export async function openFormOnce(browser, product, path) {
  const ctx = await browser.newContext();
  try {
    const page = await ctx.newPage();
    await page.goto(`${product.base}${path}`);
    await page.waitForFunction(() => performance.getEntriesByName('joinus:form-ready').length > 0, null, { timeout: 20_000 });
    const focusedAt = await page.evaluate(() => {
      const input = document.querySelector('input');
      const at = performance.now();
      input?.focus();
      return at;
    });
    await page.waitForFunction(() => performance.getEntriesByName('joinus:connected').length > 0, null, { timeout: 20_000 });
    return await page.evaluate((focused) => {
      const at = (name) => performance.getEntriesByName(name)[0]?.startTime ?? null;
      const ready = at('joinus:form-ready');
      const connected = at('joinus:connected');
      return {
        formReadyMs: ready,
        firstPaintMs: at('first-contentful-paint'),
        connectedMs: connected,
        // Where the connection waits for a first focus, from that focus; elsewhere from navigation.
        focusToConnectedMs: connected > focused ? connected - focused : 0,
      };
    }, focusedAt);
  } finally {
    await ctx.close();
  }
}

async function stamped(page, key, timeoutMs = 20_000) {
  const h = await page.waitForFunction((k) => sessionStorage.getItem(k), key, { timeout: timeoutMs });
  return Number(await h.jsonValue());
}

const transcriptHas = (lines) =>
  `() => { const log = document.querySelector('[role="log"][aria-label="Session transcript"]'); return !!log && ${JSON.stringify(lines)}.every((l) => log.textContent.includes(l)); }`;

/**
 * One customer: "Start session" → queue position shown; then the agent's "Accept" → both
 * transcripts show both joined lines. The agent ends the session afterwards.
 */
export async function startAndAcceptOnce(browser, product, { agent, name: agentName }, i) {
  const ctx = await browser.newContext();
  try {
    const customer = await ctx.newPage();
    const name = `Customer ${i}-${randomBytes(2).toString('hex')}`;
    await customer.goto(`${product.base}/help`);
    await customer.waitForFunction(() => performance.getEntriesByName('joinus:connected').length > 0, null, { timeout: 20_000 });
    await customer.getByRole('textbox', { name: 'Your name' }).fill(name);
    await customer.getByRole('textbox', { name: 'How can we help?' }).fill('Bench: entry timing');
    await watch(customer, 'bench:queued', `() => /in the queue/.test(document.querySelector('p[role="status"]')?.textContent ?? '')`, 'Start session');
    await customer.getByRole('button', { name: 'Start session' }).click();
    const queuedAt = await stamped(customer, 'bench:queued');
    const startClick = Number(await customer.evaluate(() => sessionStorage.getItem('bench:queued:click')));

    const lines = [`${name} joined as customer`, `${agentName} joined as agent`];
    await watch(customer, 'bench:live', transcriptHas(lines));
    const row = agent.getByRole('listitem').filter({ hasText: name });
    await row.getByRole('button', { name: 'Accept' }).waitFor({ timeout: 20_000 });
    await watch(agent, 'bench:live', transcriptHas(lines), 'Accept');
    await row.getByRole('button', { name: 'Accept' }).click();
    const [customerLive, agentLive] = await Promise.all([stamped(customer, 'bench:live'), stamped(agent, 'bench:live')]);
    const acceptClick = Number(await agent.evaluate(() => sessionStorage.getItem('bench:live:click')));

    // Done with this one: the agent ends the session and closes its tab in the console.
    await agent.getByRole('combobox', { name: 'Options' }).selectOption({ label: 'End session' });
    await agent.getByRole('button', { name: 'Close' }).click();
    await agent.getByRole('combobox', { name: 'Options' }).waitFor({ state: 'detached', timeout: 10_000 }).catch(() => {});
    return {
      startToQueuedMs: queuedAt - startClick,
      acceptToCustomerMs: customerLive - acceptClick,
      acceptToAgentMs: agentLive - acceptClick,
      acceptToBothMs: Math.max(customerLive, agentLive) - acceptClick,
    };
  } finally {
    await ctx.close();
  }
}

/** An agent signed in on the console (`product.entryAgent`), waiting for customers. */
export async function openAgent(browser, product, account = product.entryAgent) {
  const ctx = await browser.newContext();
  const agent = await ctx.newPage();
  await signInAgent(agent, product, account);
  return { agent, name: account.username, close: () => ctx.close() };
}
