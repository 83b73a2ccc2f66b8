/**
 * Browser-test fixtures and the steps most tests share, written the way a person uses the product:
 * by role and accessible name (PRODUCT.md "Roles and pages"). Every participant gets its own browser
 * context (ENGINEERING.md: one context shares a BroadcastChannel and would skip WebRTC). Every wait
 * is on a condition; nothing sleeps.
 */
import { readFile } from 'node:fs/promises';
import { test as base, expect, type Browser, type BrowserContext, type Locator, type Page } from '@playwright/test';
import { startRelay, type Relay } from './address';
import { launchFirefox } from './firefox';
import { agentPassword, auxPort, mainPort, type AgentName } from './env';

export { expect };

export const Text = {
  handleInUse: 'That handle is in use. Choose another.',
  handleUnusable: "That handle can't be used. Check it with the person who gave it to you, or ask them for a new one.",
  sessionEnded: 'The session has ended',
  removed: 'The agent removed you from the session.',
  signInFailed: 'Wrong username or password. Check them and try again.',
  queueStatus: /You are (next in the queue \(position 1\)|number \d+ in the queue)\./,
  suggestedHandle: /^[a-z]+-[a-z]+-\d{5}$/,
} as const;

/** A short random tag that keeps names and handles of one test (and one retry) apart from the rest. */
export const uid = () => Math.random().toString(36).slice(2, 7);

export interface OpenOptions {
  /** Which server under test: the main one, or the one whose handles expire within seconds (H5). */
  server?: 'main' | 'aux';
  /**
   * Reach the server from a client address of this participant's own (support/address.ts). For
   * anyone who makes failed handle log-ins: H8 limits them per address.
   */
  ownAddress?: boolean;
  viewport?: { width: number; height: number };
  /** A server of the test's own (support/product-server.ts) instead of `server`. */
  origin?: string;
  /** The test provokes Content-Security-Policy violations on purpose (the CSP test itself). */
  provokesCsp?: boolean;
  /** This participant's browser: the suite's Chromium (default), or Debian's Firefox ESR (./firefox.ts). */
  browser?: 'chromium' | 'firefox';
}

export interface Fixtures {
  /** A fresh browser context and page for one participant; closed when the test ends. */
  open: (label: string, options?: OpenOptions) => Promise<Page>;
}

export interface WorkerFixtures {
  /** The worker's Firefox, launched the first time a test asks for it, closed with the worker. */
  firefox: () => Promise<Browser>;
}

export const test = base.extend<Fixtures, WorkerFixtures>({
  firefox: [
    async ({}, provide) => {
      let launched: Promise<Browser> | undefined;
      await provide(() => (launched ??= launchFirefox()));
      const firefox = await launched?.catch(() => undefined);
      await firefox?.close();
    },
    { scope: 'worker' },
  ],
  open: async ({ browser, firefox }, provide, testInfo) => {
    const contexts: BrowserContext[] = [];
    const relays: Relay[] = [];
    const problems: string[] = [];
    const uncaught: string[] = [];
    /** Anything our pages' Content-Security-Policy blocked: a page that needs it is broken. */
    const cspViolations: string[] = [];
    const open = async (label: string, options: OpenOptions = {}) => {
      const port = options.server === 'aux' ? auxPort() : mainPort();
      let origin = options.origin ?? `http://127.0.0.1:${port}`;
      if (options.ownAddress) {
        const relay = await startRelay(port);
        relays.push(relay);
        origin = relay.origin;
      }
      const context = await newContext(options.browser === 'firefox' ? await firefox() : browser, origin, options.viewport);
      contexts.push(context);
      const page = await context.newPage();
      page.on('pageerror', (err) => uncaught.push(`[${label}] ${err.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(`[${label}] console.error: ${m.text()} (${m.location().url})`);
        // (A pushed site refusing to be framed is its own policy, seen by the C3 tests, not ours.)
        const ours = !options.provokesCsp && !/frame-ancestors|X-Frame-Options/.test(m.text());
        if (ours && /Content Security Policy/.test(m.text())) {
          cspViolations.push(`[${label}] ${m.text()}`);
        }
      });
      return page;
    };
    await provide(open);
    // A page that throws is a product bug even when the test got what it looked for.
    expect.soft(uncaught, 'uncaught exceptions in the pages').toEqual([]);
    expect.soft(cspViolations, 'Content-Security-Policy violations in the pages').toEqual([]);
    for (const c of contexts) await c.close().catch(() => {});
    for (const r of relays) await r.close();
    if (problems.length > 0) {
      await testInfo.attach('browser-console-errors.txt', { body: problems.join('\n'), contentType: 'text/plain' });
    }
  },
});

async function newContext(browser: Browser, baseURL: string, viewport?: { width: number; height: number }) {
  const context = await browser.newContext({ baseURL, viewport: viewport ?? { width: 1280, height: 860 }, acceptDownloads: true });
  // Not every blocked action is logged to the console (a caught eval is not): report each one there.
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`Content Security Policy violation: ${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  return context;
}

// ------------------------------------------------------------------------------------------ typing

/**
 * Types `text` into a field as a person does. Chromium: `fill`. Firefox: key by key, because
 * Playwright's `fill` (and `insertText`) over WebDriver BiDi sets the value with an untrusted input
 * event that React's controlled fields do not take in, so the page never sees the text.
 */
export async function enter(field: Locator, text: string): Promise<void> {
  if (field.page().context().browser()?.browserType().name() !== 'firefox') return field.fill(text);
  if ((await field.inputValue()) !== '') {
    await field.selectText();
    await field.press('Backspace');
  }
  await field.pressSequentially(text);
}

// ------------------------------------------------------------------------------------------ locators

export const transcript = (page: Page) => page.getByRole('log', { name: 'Session transcript' });
export const participants = (page: Page) => page.getByRole('list', { name: 'Participants' });
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** One entry of "Participants", by the person's exact name ("(you)" marks one's own entry). */
export const participant = (page: Page, name: string) =>
  participants(page)
    .getByRole('listitem')
    .filter({ has: page.getByText(new RegExp(`^${escapeRegExp(name)}( \\(you\\))?$`)) });
/** Alerts with text: Next's route announcer is an empty role=alert on every page. */
export const alerts = (page: Page) => page.getByRole('alert').filter({ hasText: /\S/ });
export const alertWith = (page: Page, text: string | RegExp) => page.getByRole('alert').filter({ hasText: text });
export const statusWith = (page: Page, text: string | RegExp) => page.getByRole('status').filter({ hasText: text });
export const waitingCustomers = (page: Page) => page.getByRole('list', { name: 'Waiting customers' });
export const waitingEntry = (page: Page, customerName: string) =>
  waitingCustomers(page).getByRole('listitem').filter({ hasText: customerName });
export const sessionTabs = (page: Page) => page.getByRole('list', { name: 'Your sessions' }).getByRole('button');
export const handleBox = (page: Page) => page.getByRole('textbox', { name: 'Handle' });
export const reservedHandles = (page: Page) => page.getByRole('list', { name: 'Reserved handles' });
export const withdrawButton = (page: Page, handle: string) => page.getByRole('button', { name: `Withdraw ${handle}`, exact: true });

// ------------------------------------------------------------------------------------------ agent

export async function signInAgent(page: Page, name: AgentName, password = agentPassword(name)): Promise<void> {
  await page.goto('/agent');
  await enter(page.getByRole('textbox', { name: 'Username' }), name);
  await enter(page.getByRole('textbox', { name: 'Password' }), password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(waitingCustomers(page)).toBeVisible();
  await expect(statusWith(page, `Signed in as ${name}`)).toBeVisible();
}

/** Accepts the named customer; the accepted session becomes the active one. */
export async function acceptCustomer(agent: Page, customerName: string): Promise<void> {
  await waitingEntry(agent, customerName).getByRole('button', { name: 'Accept', exact: true }).click();
  await expect(agent.getByRole('heading', { name: `Session with ${customerName}` })).toBeVisible();
  await expect(sessionTabs(agent).filter({ hasText: customerName })).toHaveAttribute('aria-current', 'true');
}

export async function chooseOption(agent: Page, option: 'Join Us' | 'Push page' | 'End session'): Promise<void> {
  await agent.getByRole('combobox', { name: 'Options' }).selectOption({ label: option });
}

export async function openJoinUs(agent: Page): Promise<void> {
  await chooseOption(agent, 'Join Us');
  await expect(handleBox(agent)).toBeVisible();
  // Step 1: the help text appears in the transcript window.
  await expect(transcript(agent)).toContainText('Join Us: type a handle');
}

/** Types a handle, presses OK and waits for the confirmation; returns the handle as stored. */
export async function reserveHandle(agent: Page, typed: string): Promise<string> {
  const stored = typed.trim().toLowerCase();
  await enter(handleBox(agent), typed);
  await agent.getByRole('button', { name: 'OK', exact: true }).click();
  await expect(statusWith(agent, `Handle ${stored} is reserved.`)).toBeVisible();
  await expect(withdrawButton(agent, stored)).toBeVisible();
  return stored;
}

/** Presses Suggest and returns the proposed handle (not yet reserved). */
export async function suggestHandle(agent: Page): Promise<string> {
  const before = await handleBox(agent).inputValue();
  await agent.getByRole('button', { name: 'Suggest', exact: true }).click();
  await expect(handleBox(agent)).toHaveValue(Text.suggestedHandle);
  await expect(handleBox(agent)).not.toHaveValue(before);
  return handleBox(agent).inputValue();
}

/** Presses OK on what is in the box and expects the refusal shown as an alert. */
export async function expectReserveRefused(agent: Page, typed: string, message: string | RegExp): Promise<void> {
  await enter(handleBox(agent), typed);
  await agent.getByRole('button', { name: 'OK', exact: true }).click();
  await expect(alertWith(agent, message)).toBeVisible();
}

// ------------------------------------------------------------------------------------------ customer

export async function requestHelp(page: Page, name: string, topic: string): Promise<void> {
  await page.goto('/help');
  await enter(page.getByRole('textbox', { name: 'Your name' }), name);
  await enter(page.getByRole('textbox', { name: 'How can we help?' }), topic);
  await page.getByRole('button', { name: 'Start session', exact: true }).click();
  await expect(statusWith(page, Text.queueStatus)).toBeVisible();
}

/** Agent (signed in) and customer meet: help request, accept, both in the session view. */
export async function startSession(
  agent: Page,
  customer: Page,
  customerName: string,
  topic = 'My router keeps dropping the connection',
  opts: { expectConnected?: boolean } = {},
): Promise<void> {
  await requestHelp(customer, customerName, topic);
  await expect(waitingEntry(agent, customerName)).toBeVisible();
  await acceptCustomer(agent, customerName);
  await expect(customer).toHaveURL(/\/session\/[^/]+$/);
  if (opts.expectConnected === false) {
    // Admitted (the composer works), whether or not the peers can reach each other.
    await expect(transcript(customer)).toBeVisible();
    await expect(customer.getByRole('textbox', { name: 'Message' })).toBeEnabled();
    return;
  }
  await expectLive(customer);
  await expect(participant(agent, customerName)).toContainText('online');
}

// ------------------------------------------------------------------------------------------ joined party

/** Fills the Join Us page and presses the button; the caller checks where that led. */
export async function attemptJoin(page: Page, name: string, handle: string): Promise<void> {
  if (!/\/join$/.test(new URL(page.url(), 'http://x').pathname)) await page.goto('/join');
  await enter(page.getByRole('textbox', { name: 'Your name' }), name);
  await enter(page.getByRole('textbox', { name: 'Handle' }), handle);
  await page.getByRole('button', { name: 'Join Us', exact: true }).click();
}

export async function joinWithHandle(page: Page, name: string, handle: string): Promise<void> {
  await attemptJoin(page, name, handle);
  await expect(page).toHaveURL(/\/session\/[^/]+$/);
  await expectLive(page);
}

/** Tries a handle that must not work, and returns the alert text shown. */
export async function expectJoinRefused(page: Page, name: string, handle: string, message: string | RegExp = Text.handleUnusable): Promise<string> {
  await attemptJoin(page, name, handle);
  const alert = alertWith(page, message);
  await expect(alert).toBeVisible();
  await expect(page).toHaveURL(/\/join$/);
  await expect(page.getByRole('button', { name: 'Join Us', exact: true })).not.toHaveText('Joining…');
  return (await alert.innerText()).split('\n')[0]!;
}

// ------------------------------------------------------------------------------------------ collaboration

/** The connection status every session view shows (a polite live region named "Connection"). */
export const connectionStatus = (page: Page) => page.getByRole('status', { name: 'Connection' });

/** The session view is attached (the composer is usable once the participant is admitted). */
export async function expectLive(page: Page): Promise<void> {
  await expect(transcript(page)).toBeVisible();
  await expect(page.getByRole('textbox', { name: 'Message' })).toBeEnabled();
  await expect(connectionStatus(page)).toHaveText(/^Connected/);
}

/** Connected directly or through others to every one of `n` other participants. */
export async function expectMeshComplete(page: Page, n: number): Promise<void> {
  await expect(connectionStatus(page)).toHaveText(new RegExp(`^Connected to ${n} of ${n} participants?`));
}

export async function say(page: Page, text: string): Promise<void> {
  await enter(page.getByRole('textbox', { name: 'Message' }), text);
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(page.getByRole('textbox', { name: 'Message' })).toHaveValue('');
}

/** Every page shows every line in its transcript. */
export async function expectEveryoneSees(pages: Page[], lines: string[]): Promise<void> {
  await Promise.all(pages.flatMap((p) => lines.map((l) => expect(transcript(p)).toContainText(l))));
}

export async function expectOnline(page: Page, names: string[]): Promise<void> {
  for (const n of names) await expect(participant(page, n)).toContainText(/· online/);
}

/** Clicks "Download transcript" and returns the downloaded file's text. */
export async function downloadTranscript(page: Page): Promise<string> {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download transcript', exact: true }).click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^join-us-transcript-.+\.txt$/);
  return readFile((await download.path())!, 'utf8');
}

export function sessionEndedAlert(page: Page): Locator {
  return alertWith(page, Text.sessionEnded);
}
