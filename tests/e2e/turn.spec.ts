/**
 * TURN for every network (issue 5), with a real relay: the tests' own coturn (tests/support/coturn.ts)
 * and product servers of their own in relay-only mode (JOINUS_ICE_TRANSPORT_POLICY=relay), one with the
 * relay's secret and one with a wrong one.
 */
import { startCoturn, type Coturn } from '../support/coturn';
import {
  connectionStatus,
  expect,
  expectEveryoneSees,
  expectMeshComplete,
  joinWithHandle,
  openJoinUs,
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
import { hearing, screenFrames } from './support/media';

let coturn: Coturn;
let relayed: ProductServer;
let refused: ProductServer;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  coturn = await startCoturn();
  const relayEnv = (secret: string) => ({
    JOINUS_TURN_URLS: coturn.urls.join(','),
    JOINUS_TURN_SECRET: secret,
    JOINUS_ICE_TRANSPORT_POLICY: 'relay',
  });
  [relayed, refused] = await Promise.all([
    startProductServer(relayEnv(coturn.secret)),
    startProductServer(relayEnv('not-the-secret-of-this-relay')),
  ]);
});

test.afterAll(async () => {
  await Promise.all([relayed?.stop(), refused?.stop()]);
  await coturn?.stop();
});

test('[TURN] relay-only: agent, customer and a joined party connect and chat through the relay, and learn no one’s address', async ({ open }) => {
  const tag = uid();
  const customerName = `Kai ${tag}`;
  const routes = new SignalingRoutes();
  const agent = await open('agent', { origin: relayed.origin });
  const customer = await open('customer', { origin: relayed.origin });
  const guest = await open('guest', { origin: relayed.origin });
  for (const [page, label] of [[agent, 'agent'], [customer, 'customer'], [guest, 'guest']] as const) {
    await instrumentRtc(page.context());
    await routes.route(page.context(), label);
  }

  await signInAgent(agent, 'tara');
  await startSession(agent, customer, customerName);
  await openJoinUs(agent);
  await joinWithHandle(guest, 'Lena', await reserveHandle(agent, `lena-${tag}`));
  for (const page of [agent, customer, guest]) await expectMeshComplete(page, 2);
  await say(guest, 'Lena: through the relay.');
  await say(customer, `${customerName}: me too.`);
  await expectEveryoneSees([agent, customer, guest], ['Lena: through the relay.', `${customerName}: me too.`]);

  for (const page of [agent, customer, guest]) {
    const rtc = await rtcSummary(page);
    expect(rtc.connected).toBe(2);
    expect(rtc.selected, 'every selected candidate pair goes through the relay').toEqual([
      { local: 'relay', remote: 'relay' },
      { local: 'relay', remote: 'relay' },
    ]);
  }
  // Privacy: the only addresses anyone was told are the relay's.
  for (const label of ['agent', 'customer', 'guest']) {
    const types = routes.candidateTypes.get(label) ?? [];
    expect(types.length, `${label} was told of candidates`).toBeGreaterThan(0);
    expect(new Set(types), `${label} learned only relay candidates`).toEqual(new Set(['relay']));
  }
});

test('[TURN][C7][C8] relay-only: voice and a shared screen travel through the relay too', async ({ open }) => {
  const tag = uid();
  const customerName = `Ines ${tag}`;
  const agent = await open('agent', { origin: relayed.origin });
  const customer = await open('customer', { origin: relayed.origin });
  for (const page of [agent, customer]) await instrumentRtc(page.context());
  await signInAgent(agent, 'hal');
  await startSession(agent, customer, customerName);
  for (const page of [agent, customer]) await expectMeshComplete(page, 1);

  for (const page of [agent, customer]) await page.getByRole('button', { name: 'Join voice', exact: true }).click();
  await expect.poll(async () => (await hearing(agent)).loud, { timeout: 30_000 }).toEqual([customerName]);
  await expect.poll(async () => (await hearing(customer)).loud, { timeout: 30_000 }).toEqual(['hal']);
  await customer.getByRole('button', { name: 'Share screen', exact: true }).click();
  await expect(agent.getByRole('region', { name: 'Shared screen', exact: true })).toContainText(`${customerName} is sharing a screen`);
  await expect.poll(async () => (await screenFrames(agent)).framesAdvanced, { timeout: 30_000 }).toBeGreaterThan(0);

  // The one connection each has, media included, goes through the relay.
  for (const page of [agent, customer]) {
    const rtc = await rtcSummary(page);
    expect(rtc.created).toBe(1);
    expect(rtc.selected).toEqual([{ local: 'relay', remote: 'relay' }]);
  }
});

test('[TURN] when the relay refuses the credentials, the pages say they cannot connect instead of spinning', async ({ open }) => {
  const tag = uid();
  const customerName = `Mona ${tag}`;
  const agent = await open('agent', { origin: refused.origin });
  const customer = await open('customer', { origin: refused.origin });

  await signInAgent(agent, 'uma');
  await startSession(agent, customer, customerName, 'The relay is misconfigured', { expectConnected: false });
  for (const page of [agent, customer]) {
    await expect(connectionStatus(page)).toHaveText(/^Cannot connect to the other participants/);
    await expect(connectionStatus(page)).toContainText('The relay server (TURN) refused the connection');
  }
  // Nothing typed is lost meanwhile: it is kept, and says so.
  await say(customer, `${customerName}: can anyone hear me?`);
  await expect(transcript(customer).locator('.msg', { hasText: 'can anyone hear me?' })).toContainText('Waiting to be sent…');
  await shoot(customer, '19-customer-relay-refused');
});
