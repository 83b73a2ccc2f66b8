/**
 * The peer network in real Chromium (issue 5): two joined parties that cannot connect to each other
 * (C9), a participant whose signaling drops while people chat (S3), and one whose network goes
 * offline and comes back (C9). Peer connections are real WebRTC between browser contexts; what is
 * made to fail is done from outside the product (support/network.ts).
 */
import {
  connectionStatus,
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
import { SignalingRoutes, instrumentRtc, rtcSummary } from './support/network';
import { startProductServer, type ProductServer } from './support/product-server';
import { shoot } from './support/screens';

/**
 * A server of these tests' own, with a grace period long enough that a participant away from
 * signaling for the length of a test step on a loaded machine is still "away", not retired (the
 * suite's main server drops sessions after 8 s for the S4 tests).
 */
let server: ProductServer;
test.beforeAll(async () => {
  test.setTimeout(120_000);
  server = await startProductServer({ JOINUS_GRACE_MS: '60000' });
});
test.afterAll(async () => {
  await server?.stop();
});

test('[C9] two joined parties who cannot connect directly chat through the others, see each other online, and the later one gets the whole transcript', async ({ open }) => {
  const tag = uid();
  const customerName = `Hugo ${tag}`;
  const routes = new SignalingRoutes();
  routes.block('nina', 'omar');
  const agent = await open('agent', { origin: server.origin });
  const customer = await open('customer', { origin: server.origin });
  const nina = await open('nina', { origin: server.origin });
  const omar = await open('omar', { origin: server.origin });
  await routes.route(nina.context(), 'nina');
  await routes.route(omar.context(), 'omar');

  await signInAgent(agent, 'quinn');
  await startSession(agent, customer, customerName);
  await openJoinUs(agent);
  await joinWithHandle(nina, 'Nina', await reserveHandle(agent, `nina-${tag}`));
  const early = ['Quinn: before Omar came.', `${customerName}: me too.`, 'Nina: and me.'];
  await say(agent, early[0]!);
  await say(customer, early[1]!);
  await say(nina, early[2]!);
  await expectEveryoneSees([agent, customer, nina], early);

  // Omar joins later; his direct connection to Nina never opens.
  await joinWithHandle(omar, 'Omar', await reserveHandle(agent, `omar-${tag}`));
  await expectEveryoneSees([omar], [...early, 'Nina joined the session with a handle', 'Omar joined the session with a handle']);
  for (const page of [nina, omar]) {
    await expect(connectionStatus(page)).toHaveText(/^Connected to 3 of 3 participants · 1 through others/);
  }
  await expectMeshComplete(agent, 3);
  await expectMeshComplete(customer, 3);
  await shoot(omar, '16-guest-reached-through-others');

  await say(nina, 'Nina: Omar, can you read me?');
  await say(omar, 'Omar: loud and clear, Nina.');
  await expectEveryoneSees([agent, customer, nina, omar], ['Nina: Omar, can you read me?', 'Omar: loud and clear, Nina.']);
  await expectOnline(nina, ['Omar', 'quinn', customerName]);
  await expectOnline(omar, ['Nina', 'quinn', customerName]);
  // Each message once, everywhere.
  for (const page of [agent, customer, nina, omar]) {
    await expect(transcript(page).getByText('Omar: loud and clear, Nina.')).toHaveCount(1);
  }
  expect(routes.dropped, 'the block dropped their signals').toBeGreaterThan(0);
});

test('[S3] a participant whose signaling drops keeps chatting over its data channels; when it is back no channel was closed and nothing is lost', async ({ open }) => {
  const tag = uid();
  const customerName = `Iris ${tag}`;
  const routes = new SignalingRoutes();
  const agent = await open('agent', { origin: server.origin });
  const customer = await open('customer', { origin: server.origin });
  const guest = await open('guest', { origin: server.origin });
  for (const page of [agent, customer, guest]) await instrumentRtc(page.context());
  await routes.route(guest.context(), 'guest');

  await signInAgent(agent, 'rosa');
  await startSession(agent, customer, customerName);
  await openJoinUs(agent);
  await joinWithHandle(guest, 'Pia', await reserveHandle(agent, `pia-${tag}`));
  for (const page of [agent, customer, guest]) await expectMeshComplete(page, 2);
  const before = await Promise.all([agent, customer, guest].map(rtcSummary));
  for (const s of before) expect(s.connected).toBe(2);

  await routes.cut('guest');
  await expect(connectionStatus(guest)).toHaveText(/^Reconnecting to the service · still connected to 2 of 2 participants/);
  await say(guest, 'Pia: typed while my signaling is down.');
  await say(agent, 'Rosa: and this reaches you all the same.');
  await expectEveryoneSees([agent, customer, guest], ['Pia: typed while my signaling is down.', 'Rosa: and this reaches you all the same.']);
  await expectOnline(agent, ['Pia']);
  await shoot(guest, '17-guest-signaling-down');

  routes.restore('guest');
  await expectMeshComplete(guest, 2);
  await say(guest, 'Pia: back.');
  await expectEveryoneSees([agent, customer, guest], ['Pia: back.']);
  const after = await Promise.all([agent, customer, guest].map(rtcSummary));
  for (const [i, s] of after.entries()) {
    expect(s.created, 'no new peer connection').toBe(before[i]!.created);
    expect(s.connected, 'every peer connection still connected').toBe(2);
  }
  for (const page of [agent, customer, guest]) {
    await expect(transcript(page).getByText('Pia: typed while my signaling is down.')).toHaveCount(1);
  }
});

test('[C9] what a participant types while offline is kept, shown as waiting, and reaches everyone once when it is back', async ({ open }) => {
  const tag = uid();
  const customerName = `Jack ${tag}`;
  const agent = await open('agent', { origin: server.origin });
  const customer = await open('customer', { origin: server.origin });
  const guest = await open('guest', { origin: server.origin });

  await signInAgent(agent, 'sam');
  await startSession(agent, customer, customerName);
  await openJoinUs(agent);
  await joinWithHandle(guest, 'Quentin', await reserveHandle(agent, `quentin-${tag}`));
  for (const page of [agent, customer, guest]) await expectMeshComplete(page, 2);

  await guest.context().setOffline(true);
  await expect(connectionStatus(guest)).toHaveText(/^Offline.*What you type is kept and sent when you are back/);
  // The others see Quentin go: his connections are closed.
  await expect(participant(agent, 'Quentin')).toContainText(/· offline/);
  // Quentin cannot know whether the others are there: not "offline" on a guess; and he is not "online".
  await expect(participant(guest, 'sam')).toContainText('· not known while you are offline');
  await expect(participant(guest, 'Quentin')).toContainText(/· offline/);
  await say(guest, 'Quentin: typed while offline.');
  const mine = transcript(guest).locator('.msg', { hasText: 'Quentin: typed while offline.' });
  await expect(mine).toContainText('Waiting to be sent…');
  await expect(connectionStatus(guest)).toContainText('1 message waiting to be sent.');
  await expect(transcript(agent)).not.toContainText('Quentin: typed while offline.');
  await shoot(guest, '18-guest-offline-message-waiting');

  await guest.context().setOffline(false);
  await expectMeshComplete(guest, 2);
  await expectEveryoneSees([agent, customer], ['Quentin: typed while offline.']);
  await expect(mine).not.toContainText('Waiting to be sent…');
  for (const page of [agent, customer, guest]) {
    await expect(transcript(page).getByText('Quentin: typed while offline.')).toHaveCount(1);
  }
  await expectOnline(agent, ['Quentin']);
  await expectOnline(guest, ['sam', customerName, 'Quentin']);
  await expectLive(guest);
});
