/**
 * Every browser (the house rule): the customer and the joined party on Firefox (Debian's Firefox
 * ESR through WebDriver BiDi, support/firefox.ts), the agent on Chromium. The whole Join Us flow
 * across the two engines, the shared state over data channels between them (chat, drawing), a
 * reload on Firefox, voice (C7), page push (C3) and shared forms (C4).
 */
import {
  connectionStatus,
  enter,
  expect,
  expectEveryoneSees,
  expectLive,
  expectMeshComplete,
  expectOnline,
  joinWithHandle,
  openJoinUs,
  participant,
  reserveHandle,
  say,
  signInAgent,
  startSession,
  test,
  transcript,
  uid,
} from './support/app';
import {
  drawingRegion,
  expectFramed,
  expectRefusedFraming,
  formField,
  openPushPage,
  shareForm,
  sharedForm,
  startSite,
  strokeBoxes,
  strokes,
  trace,
  typeAndPush,
  visibleContent,
  type Site,
} from './support/collab';
import { expectMediaSlots, hearing, micStates, receivedVoice, recordMedia } from './support/media';
import { instrumentRtc } from './support/network';
import { shoot } from './support/screens';
import type { Page } from '@playwright/test';

const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });
/**
 * Decoded audio energy a second (inbound-rtp totalAudioEnergy: the sum of squared samples × their
 * duration). Chromium's fake microphone, which beeps about once a second, gives about 0.35; a muted
 * one sends digital silence, 0.
 */
const SOUND_ENERGY = 0.01;
const SILENCE_ENERGY = 0.0001;
const CARD = '5555 5555 5555 4444';
const MASKED = '•••• •••• •••• 4444';

let site: Site;
test.beforeAll(async () => {
  site = await startSite();
});
test.afterAll(async () => {
  await site?.close();
});

test('[S1][H2][C1][C2][C5][S3] a customer and a joined party on Firefox: help asked, accepted, a handle used, chat and drawing among three over direct data channels, a reload', async ({ open }) => {
  const tag = uid();
  const customerName = `Noor ${tag}`;
  const agent = await open('agent');
  const customer = await open('customer', { browser: 'firefox' });
  const guest = await open('guest', { browser: 'firefox' });
  expect(customer.context().browser()?.browserType().name()).toBe('firefox');

  await signInAgent(agent, 'kai');
  await customer.goto('/help');
  await expect(customer.getByRole('textbox', { name: 'Your name' })).toBeEditable();
  await shoot(customer, '50-firefox-help-form');
  await startSession(agent, customer, customerName);
  await say(customer, `${customerName}: hello from Firefox.`);
  await say(agent, 'Kai: hello from Chromium.');
  await expectEveryoneSees([agent, customer], [`${customerName}: hello from Firefox.`, 'Kai: hello from Chromium.']);

  await openJoinUs(agent);
  const handle = await reserveHandle(agent, `ruth-${tag}`);
  await joinWithHandle(guest, 'Ruth', handle);
  // The late joiner on Firefox gets what was said before it came, from its peers.
  await expectEveryoneSees([guest], [`${customerName}: hello from Firefox.`, 'Kai: hello from Chromium.', 'Ruth joined the session with a handle']);
  // Every pair linked directly (no " · through others"), Firefox to Firefox included, and in sync.
  for (const page of [agent, customer, guest]) {
    await expect(connectionStatus(page)).toHaveText(/^Connected to 2 of 2 participants$/);
  }
  await say(guest, 'Ruth: and from a second Firefox.');
  await expectEveryoneSees([agent, customer, guest], ['Ruth: and from a second Firefox.']);
  for (const page of [agent, customer, guest]) {
    await expect(transcript(page).getByText('Ruth: and from a second Firefox.')).toHaveCount(1);
  }
  await expectOnline(guest, ['kai', customerName]);
  await expectOnline(customer, ['kai', 'Ruth']);
  await expectOnline(agent, [customerName, 'Ruth']);

  // [C5] Ruth draws with Firefox's pointer events: the stroke, where she drew it, on every page.
  const draw = drawingRegion(guest).getByRole('button', { name: 'Draw', exact: true });
  await draw.click();
  await expect(draw).toHaveAttribute('aria-pressed', 'true');
  await trace(guest, [[0.2, 0.3], [0.5, 0.3], [0.8, 0.3]], true);
  for (const page of [agent, customer, guest]) {
    await expect(strokes(page)).toHaveCount(1);
    const [box] = await strokeBoxes(page);
    expect(box!.x0).toBeCloseTo(0.2, 1);
    expect(box!.x1).toBeCloseTo(0.8, 1);
    expect(box!.y0).toBeCloseTo(0.3, 1);
  }
  await shoot(guest, '51-firefox-guest-session');

  // [S3] Ruth reloads on Firefox: the same session, the whole transcript, no second arrival, the
  // stroke still there, and she is heard again.
  const url = guest.url();
  await guest.reload();
  await expect(guest).toHaveURL(url);
  await expectLive(guest);
  await expectEveryoneSees([guest], [`${customerName}: hello from Firefox.`, 'Kai: hello from Chromium.', 'Ruth: and from a second Firefox.']);
  await expect(transcript(agent).getByText('Ruth joined the session with a handle')).toHaveCount(1);
  await expect(strokes(guest)).toHaveCount(1);
  await expect(connectionStatus(guest)).toHaveText(/^Connected to 2 of 2 participants$/);
  await say(guest, 'Ruth: back after a reload.');
  await expectEveryoneSees([agent, customer, guest], ['Ruth: back after a reload.']);
});

test('[C7] voice between Chromium and Firefox: each hears the other with sound, mute silences, leaving releases the microphone', async ({ open }) => {
  const customerName = `Tomas ${uid()}`;
  const agent = await open('agent');
  const customer = await open('customer', { browser: 'firefox' });
  for (const page of [agent, customer]) {
    await recordMedia(page.context());
    await instrumentRtc(page.context());
  }
  await signInAgent(agent, 'lou');
  await startSession(agent, customer, customerName);
  await expectMeshComplete(customer, 1);
  for (const page of [agent, customer]) await expectMediaSlots(page, 1);

  for (const page of [agent, customer]) {
    await button(page, 'Join voice').click();
    await expect(button(page, 'Mute')).toBeVisible();
  }
  await expect(participant(agent, customerName)).toContainText('in voice');
  await expect(participant(customer, 'lou')).toContainText('in voice');
  // Firefox's fake microphone plays a steady tone, Chromium's beeps: each hears the other.
  await expect.poll(async () => (await hearing(agent)).loud, { timeout: 30_000 }).toEqual([customerName]);
  // Firefox has no sound device here: what it decodes and plays, in place of listening (support/media.ts).
  const firefoxHears = async () => {
    const { playing, energyPerSecond } = await receivedVoice(customer);
    return { playing, sound: energyPerSecond > SOUND_ENERGY, silence: energyPerSecond < SILENCE_ENERGY };
  };
  await expect.poll(firefoxHears, { timeout: 30_000 }).toEqual({ playing: ['lou'], sound: true, silence: false });
  await expect(participant(agent, customerName)).toContainText('speaking');
  await shoot(customer, '52-firefox-voice-customer');

  // Each mutes in turn: the other receives silence.
  await button(customer, 'Mute').click();
  await expect(participant(agent, customerName)).toContainText('muted');
  await expect.poll(async () => (await hearing(agent)).silent, { timeout: 30_000 }).toEqual([customerName]);
  await button(agent, 'Mute').click();
  await expect(participant(customer, 'lou')).toContainText('muted');
  await expect.poll(firefoxHears, { timeout: 30_000 }).toEqual({ playing: ['lou'], sound: false, silence: true });

  await button(customer, 'Leave voice').click();
  await expect(button(customer, 'Join voice')).toBeVisible();
  await expect.poll(() => micStates(customer)).toEqual(['ended']);
  await expect(participant(agent, customerName)).not.toContainText('in voice');
  // Chat still flows on the same connection.
  await say(customer, `${customerName}: still here.`);
  await expectEveryoneSees([agent, customer], [`${customerName}: still here.`]);
});

test('[C3][C4] page push and shared forms with the customer on Firefox: the page framed or its fallback, a form typed together, the card number masked by the Firefox page', async ({ open }) => {
  const tag = uid();
  const customerName = `Ines ${tag}`;
  const agent = await open('agent');
  const customer = await open('customer', { browser: 'firefox' });
  await signInAgent(agent, 'mia');
  await startSession(agent, customer, customerName);

  // [C3] A page that may be framed shows in Firefox's sandboxed frame; one that refuses, the fallback.
  await openPushPage(agent);
  const guide = site.url(`/open/Setup%20guide%20${tag}`);
  await typeAndPush(agent, guide);
  for (const page of [agent, customer]) await expectFramed(page, `Setup guide ${tag}`);
  const denied = site.url(`/deny/Account%20${tag}`);
  await typeAndPush(agent, denied);
  for (const page of [agent, customer]) await expectRefusedFraming(page, denied);

  // [C4] The customer types on Firefox, the agent sees it as typed; the agent's typing reaches Firefox.
  await shareForm(agent, 'Contact details');
  await formField(customer, 'Full name').click();
  await enter(formField(customer, 'Full name'), `Ines Example ${tag}`);
  await expect(formField(agent, 'Full name')).toHaveValue(`Ines Example ${tag}`);
  await expect(sharedForm(agent)).toContainText(`${customerName} is typing here`);
  await enter(formField(agent, 'Email'), `ines.${tag}@example.com`);
  await expect(formField(customer, 'Email')).toHaveValue(`ines.${tag}@example.com`);
  await agent.getByRole('button', { name: 'Submit form', exact: true }).click();
  await expectEveryoneSees([agent, customer], [`mia submitted the form Contact details: Full name: Ines Example ${tag}; Email: ines.${tag}@example.com; Phone: (empty)`]);

  // The card number is masked by the customer's Firefox page: the agent never has the clear digits.
  await shareForm(agent, 'Payment details');
  await formField(customer, 'Card number').click();
  await enter(formField(customer, 'Card number'), CARD);
  // While typed: bullets only; once the customer moves on, the last four digits.
  await expect(formField(agent, 'Card number')).toHaveValue(/^[• ]+$/);
  await enter(formField(customer, 'Expiry (MM/YY)'), '12/29');
  await expect(formField(customer, 'Card number')).toHaveValue(CARD);
  await expect(formField(agent, 'Card number')).toHaveValue(MASKED);
  await expect(formField(agent, 'Expiry (MM/YY)')).toHaveValue('12/29');
  // Nowhere on the agent's page, spaced or not, are the first twelve digits.
  expect((await visibleContent(agent)).replace(/\s/g, '')).not.toContain(CARD.replace(/\s/g, '').slice(0, 12));
  await shoot(customer, '53-firefox-customer-payment-form');
});
