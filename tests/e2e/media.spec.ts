/**
 * C7 voice and C8 screen sharing in real Chromium with its fake microphone and screen: agent,
 * customer and a joined party, each in a browser context of its own. What a listener hears is
 * measured with a WebAudio analyser on the receiving page (support/media.ts), what a viewer sees from
 * the video's own frame counter. Media travels on the mesh's connections, in slots negotiated once a
 * moment after each opens: starting and stopping it then sends no signal at all and replaces no
 * connection (decision 0011).
 */
import { chromium } from '@playwright/test';
import {
  alertWith,
  chooseOption,
  expect,
  expectEveryoneSees,
  expectMeshComplete,
  joinWithHandle,
  openJoinUs,
  participant,
  reserveHandle,
  say,
  sessionEndedAlert,
  signInAgent,
  startSession,
  test,
  uid,
} from './support/app';
import { endScreenTrackAsBrowserWould, expectMediaSlots, hearing, micStates, recordMedia, screenFrames } from './support/media';
import { SignalingRoutes, instrumentRtc, rtcSummary } from './support/network';
import { shoot } from './support/screens';
import { mainPort, type AgentName } from './support/env';
import type { Page } from '@playwright/test';

const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });

/**
 * Agent, customer and a joined party in one session, each page recording its media and peer
 * connections and its signaling routed through `routes`; returns once every connection has its
 * media slots (so that what media does afterwards is all that signaling sees).
 */
async function threeInSession(open: (label: string) => Promise<Page>, agentName: AgentName, customerName: string, guestName: string) {
  const tag = uid();
  const routes = new SignalingRoutes();
  const agent = await open('agent');
  const customer = await open('customer');
  const guest = await open('guest');
  for (const [page, label] of [[agent, 'agent'], [customer, 'customer'], [guest, 'guest']] as const) {
    await recordMedia(page.context());
    await instrumentRtc(page.context());
    await routes.route(page.context(), label);
  }
  await signInAgent(agent, agentName);
  await startSession(agent, customer, customerName);
  await openJoinUs(agent);
  await joinWithHandle(guest, guestName, await reserveHandle(agent, `${guestName.toLowerCase()}-${tag}`));
  const all = [agent, customer, guest];
  for (const page of all) await expectMeshComplete(page, 2);
  await expectEveryoneSees(all, [`${guestName} joined the session with a handle`]);
  for (const page of all) await expectMediaSlots(page, 2);
  return { agent, customer, guest, all, routes, signalsBefore: new Map(routes.signalsReceived) };
}

test('[C7] voice among agent, customer and a joined party: heard with sound, mute silences, who is in voice and speaking is shown, leaving releases the microphone, no signal sent', async ({
  open,
}) => {
  const customerName = `Omar ${uid()}`;
  const { agent, customer, guest: lena, all, routes, signalsBefore } = await threeInSession(open, 'eli', customerName, 'Lena');

  // The agent joins voice first: its own line says so, and shows when its microphone picks up sound.
  await button(agent, 'Join voice').click();
  await expect(button(agent, 'Mute')).toBeVisible();
  await expect(participant(agent, 'eli')).toContainText('in voice');
  await expect(participant(agent, 'eli')).toContainText('speaking');
  await expect(participant(customer, 'eli')).toContainText('in voice');

  // The others join; everyone's list says who is in voice.
  for (const page of [customer, lena]) {
    await button(page, 'Join voice').click();
    await expect(button(page, 'Mute')).toBeVisible();
    await expect(button(page, 'Leave voice')).toBeVisible();
  }
  for (const [page, others] of [
    [agent, [customerName, 'Lena']],
    [customer, ['eli', 'Lena']],
    [lena, ['eli', customerName]],
  ] as const) {
    for (const name of others) await expect(participant(page, name)).toContainText('in voice');
  }

  // Chat goes on while voice starts: nothing lost.
  await say(customer, 'Can you all hear me?');
  await say(lena, 'Loud and clear.');
  await expectEveryoneSees(all, ['Can you all hear me?', 'Loud and clear.']);

  // Each hears the two others, with sound.
  await expect.poll(async () => (await hearing(agent)).loud, { timeout: 30_000 }).toEqual([customerName, 'Lena'].sort());
  await expect.poll(async () => (await hearing(customer)).loud, { timeout: 30_000 }).toEqual(['Lena', 'eli'].sort());
  await expect.poll(async () => (await hearing(lena)).loud, { timeout: 30_000 }).toEqual([customerName, 'eli'].sort());
  // Who is speaking shows in the list (the fake microphone beeps).
  await expect(participant(customer, 'Lena')).toContainText('speaking');
  await shoot(customer, '40-voice-customer');
  await shoot(agent, '41-voice-agent');

  // The agent mutes: the others hear silence from the agent, and still hear each other.
  await button(agent, 'Mute').click();
  await expect(button(agent, 'Unmute')).toBeVisible();
  for (const page of [customer, lena]) await expect(participant(page, 'eli')).toContainText('muted');
  await expect.poll(async () => (await hearing(customer)).silent, { timeout: 30_000 }).toEqual(['eli']);
  expect((await hearing(lena)).loud).toEqual([customerName]);
  await button(agent, 'Unmute').click();
  await expect(participant(customer, 'eli')).not.toContainText('muted');
  await expect.poll(async () => (await hearing(customer)).loud, { timeout: 30_000 }).toEqual(['Lena', 'eli'].sort());

  // The customer picks another microphone: the old one is released, the agent hears the new one.
  await customer.getByRole('combobox', { name: 'Microphone' }).selectOption({ label: 'Fake Audio Input 2' });
  await expect.poll(() => micStates(customer)).toEqual(['ended', 'live']);
  await expect.poll(async () => (await hearing(agent)).loud, { timeout: 30_000 }).toEqual([customerName, 'Lena'].sort());

  // Lena leaves voice: her microphone is released, nobody lists her in voice, she hears nobody.
  await button(lena, 'Leave voice').click();
  await expect(button(lena, 'Join voice')).toBeVisible();
  await expect.poll(() => micStates(lena)).toEqual(['ended']);
  for (const page of [agent, customer]) await expect(participant(page, 'Lena')).not.toContainText('in voice');
  await expect(lena.locator('audio[data-voice-from]')).toHaveCount(0);
  await expect(agent.locator('audio[data-voice-from]')).toHaveCount(1);

  // None of it took a signal or a new connection: the data channels were never touched.
  expect(new Map(routes.signalsReceived)).toEqual(signalsBefore);
  for (const page of all) {
    const rtc = await rtcSummary(page);
    expect(rtc.created, 'no connection replaced').toBe(2);
    expect(rtc.made - rtc.created, 'at most the one made ahead of need').toBeLessThanOrEqual(1);
    expect(rtc.connected).toBe(2);
  }
  await say(agent, 'Still with us after all that?');
  await expectEveryoneSees(all, ['Still with us after all that?']);

  // Leaving the session releases the microphone; so does the session ending.
  await button(lena, 'Join voice').click();
  await expect(button(lena, 'Mute')).toBeVisible();
  await expect.poll(() => micStates(lena)).toEqual(['ended', 'live']);
  await button(lena, 'Leave').click();
  await expect(alertWith(lena, 'You left the session')).toBeVisible();
  await expect.poll(() => micStates(lena)).toEqual(['ended', 'ended']);
  await expect(participant(agent, 'Lena')).not.toContainText('in voice');

  await chooseOption(agent, 'End session');
  await expect(sessionEndedAlert(customer)).toBeVisible();
  await expect.poll(() => micStates(customer)).toEqual(['ended', 'ended']);
  await expect.poll(() => micStates(agent)).toEqual(['ended']);
});

test('[C8] screen sharing: one share at a time, seen live by the others with the sharer’s name, enlarged, stopped by the button or by the browser', async ({ open }) => {
  const customerName = `Pia ${uid()}`;
  const { agent, customer, guest: marc, all, routes, signalsBefore } = await threeInSession(open, 'fay', customerName, 'Marc');

  // The customer shows the agent an error: the others see it live, with her name.
  await button(customer, 'Share screen').click();
  await expect(button(customer, 'Stop sharing')).toBeVisible();
  const own = customer.getByRole('region', { name: 'Your shared screen' });
  await expect(own).toContainText('Live');
  await expect(own).toContainText('You are sharing your screen');
  await expect(customer.getByRole('region', { name: 'Shared screen', exact: true })).toHaveCount(0);
  for (const page of [agent, marc]) {
    const region = page.getByRole('region', { name: 'Shared screen', exact: true });
    await expect(region).toContainText(`${customerName} is sharing a screen`);
    await expect.poll(async () => (await screenFrames(page)).framesAdvanced, { timeout: 30_000 }).toBeGreaterThan(0);
    const frames = await screenFrames(page);
    expect(frames.width).toBeGreaterThan(0);
    expect(frames.height).toBeGreaterThan(0);
  }
  await shoot(agent, '42-screen-agent');
  await shoot(customer, '43-screen-sharer');

  // Enlarge: the video fills the window; Shrink puts it back.
  const region = agent.getByRole('region', { name: 'Shared screen', exact: true });
  await region.getByRole('button', { name: 'Enlarge' }).click();
  await expect
    .poll(async () => {
      const box = await region.boundingBox();
      const vp = agent.viewportSize()!;
      return box ? box.width >= vp.width - 1 && box.height >= vp.height - 1 : false;
    })
    .toBe(true);
  await agent.screenshot({ path: 'test-results/screens/44-screen-enlarged-desktop.png' });
  await region.getByRole('button', { name: 'Shrink' }).click();
  await expect(region.getByRole('button', { name: 'Enlarge' })).toBeVisible();

  // One at a time: Marc is told who is sharing, and nothing is asked of his browser.
  await button(marc, 'Share screen').click();
  await expect(alertWith(marc, `${customerName} is sharing a screen. One screen at a time`)).toBeVisible();
  expect(await marc.evaluate(() => window.__media?.screenRequests)).toBe(0);

  // "Stop sharing" ends it for everyone.
  await button(customer, 'Stop sharing').click();
  for (const page of [agent, marc]) await expect(page.getByRole('region', { name: 'Shared screen', exact: true })).toHaveCount(0);
  await expect(own).toHaveCount(0);
  expect(await customer.evaluate(() => window.__media!.screens.map((t) => t.readyState))).toEqual(['ended']);

  // Now Marc shares; the browser's own "Stop sharing" ends it everywhere too.
  await button(marc, 'Share screen').click();
  await expect(button(marc, 'Stop sharing')).toBeVisible();
  for (const page of [agent, customer]) {
    await expect(page.getByRole('region', { name: 'Shared screen', exact: true })).toContainText('Marc is sharing a screen');
    await expect.poll(async () => (await screenFrames(page)).framesAdvanced, { timeout: 30_000 }).toBeGreaterThan(0);
  }
  await endScreenTrackAsBrowserWould(marc);
  await expect(button(marc, 'Share screen')).toBeVisible();
  for (const page of [agent, customer]) await expect(page.getByRole('region', { name: 'Shared screen', exact: true })).toHaveCount(0);

  // No signal, no new connection; the chat never noticed.
  expect(new Map(routes.signalsReceived)).toEqual(signalsBefore);
  for (const page of all) expect((await rtcSummary(page)).created).toBe(2);
  await say(marc, 'Back to the chat.');
  await expectEveryoneSees(all, ['Back to the chat.']);
});

test('[C7] no microphone, or the microphone refused: a clear message, and the session carries on', async ({ open }) => {
  const tag = uid();
  const customerName = `Rui ${tag}`;
  const agent = await open('agent');
  // The customer's browser has no microphone at all (no fake devices, and this machine has none);
  // the joined party's refuses it (no automatic "allow": headless Chromium then denies the request).
  const bare = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-features=WebRtcHideLocalIpsWithMdns'];
  const noMic = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...bare, '--use-fake-ui-for-media-stream'] });
  const denied = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...bare, '--use-fake-device-for-media-stream'] });
  try {
    const origin = `http://127.0.0.1:${mainPort()}`;
    const customer = await (await noMic.newContext({ baseURL: origin })).newPage();
    const nora = await (await denied.newContext({ baseURL: origin })).newPage();
    await signInAgent(agent, 'gil');
    await startSession(agent, customer, customerName);
    await openJoinUs(agent);
    await joinWithHandle(nora, 'Nora', await reserveHandle(agent, `nora-${tag}`));
    await expectMeshComplete(customer, 2);

    await button(customer, 'Join voice').click();
    await expect(alertWith(customer, 'No microphone was found')).toBeVisible();
    await expect(button(customer, 'Join voice')).toBeEnabled();
    await button(nora, 'Join voice').click();
    await expect(alertWith(nora, 'Microphone access was refused')).toBeVisible();
    await expect(button(nora, 'Join voice')).toBeEnabled();
    await shoot(nora, '45-voice-refused');

    // Nobody is listed in voice, and the session carries on.
    await expect(participant(agent, customerName)).not.toContainText('in voice');
    await expect(participant(agent, 'Nora')).not.toContainText('in voice');
    await say(customer, 'No microphone here, typing instead.');
    await say(nora, 'Same here.');
    await expectEveryoneSees([agent, customer, nora], ['No microphone here, typing instead.', 'Same here.']);
  } finally {
    await noMic.close();
    await denied.close();
  }
});
