/**
 * Issue 10 in the browser: the pages served apart from signaling (`next start` + `npm run
 * signaling`), participants on two signaling nodes sharing one Redis, a node restarting under a live
 * session, and what the embedded mode says when its restart forgets the sessions.
 */
import {
  Text,
  connectionStatus,
  expect,
  expectEveryoneSees,
  expectLive,
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
import { startPagesOnly, startProductServer, startSignalingOnly, type ProductServer } from './support/product-server';
import { freePort } from '../support/ports';
import { startRedis, uniquePrefix, type RedisServer } from '../support/redis';
import { SERVER_FORGOT } from '../../lib/client/session-connection';
import { shoot } from './support/screens';

const servers: ProductServer[] = [];
let redis: RedisServer | null = null;

test.afterEach(async () => {
  for (const s of servers.splice(0).reverse()) await s.stop();
  await redis?.stop();
  redis = null;
});

test('[S1][H2][C1] pages from `next start`, signaling from its own process: the whole Join Us flow', async ({ open }) => {
  const pagesPort = await freePort();
  const signaling = await startSignalingOnly({ JOINUS_ALLOWED_ORIGINS: `http://127.0.0.1:${pagesPort}` });
  servers.push(signaling);
  const pages = await startPagesOnly({ JOINUS_SIGNALING_URL: signaling.origin }, pagesPort);
  servers.push(pages);
  // The pages' own origin has no signaling: a page that connects at all connects to the node.
  expect((await fetch(`${pages.origin}/socket.io/?EIO=4&transport=polling`)).status).toBe(404);

  const tag = uid();
  const customerName = `Nina ${tag}`;
  const agent = await open('agent', { origin: pages.origin });
  const customer = await open('customer', { origin: pages.origin });
  const guest = await open('guest', { origin: pages.origin });
  await signInAgent(agent, 'ava');
  await startSession(agent, customer, customerName);
  await say(agent, `Hello ${customerName}`);
  await openJoinUs(agent);
  const handle = await reserveHandle(agent, `apart-${tag}`);
  await joinWithHandle(guest, 'Omar', handle);
  await say(guest, 'Omar here, from pages served apart.');
  await expectEveryoneSees([agent, customer, guest], [`Hello ${customerName}`, 'Omar here, from pages served apart.']);
});

test('[C1][S3] two signaling nodes, one Redis: parties on different nodes collaborate, and a node restarting loses nothing', async ({ open }) => {
  test.slow();
  redis = await startRedis();
  const env = { REDIS_URL: redis.url, JOINUS_REDIS_PREFIX: uniquePrefix(), JOINUS_NODE_LEASE_MS: '1500' };
  const [one, two] = await Promise.all([startProductServer(env), startProductServer(env)]);
  servers.push(one!, two!);

  const tag = uid();
  const customerName = `Pia ${tag}`;
  const agent = await open('agent', { origin: one!.origin });
  const customer = await open('customer', { origin: one!.origin });
  const guest = await open('guest', { origin: two!.origin });
  await signInAgent(agent, 'ava');
  await startSession(agent, customer, customerName);
  await openJoinUs(agent);
  // Reserved through node one, consumed through node two (H2, H6 across nodes).
  const handle = await reserveHandle(agent, `nodes-${tag}`);
  await joinWithHandle(guest, 'Quinn', handle);
  await say(guest, 'Quinn on the second node.');
  await say(customer, 'Pia on the first node.');
  await expectEveryoneSees([agent, customer, guest], ['Quinn on the second node.', 'Pia on the first node.']);

  await test.step('[S3] node two goes down: its party keeps collaborating over the data channels', async () => {
    await two!.stop();
    await expect(connectionStatus(guest)).toHaveText(/Reconnecting to the service/);
    await say(guest, 'Still here while my node is down.');
    await expectEveryoneSees([agent, customer, guest], ['Still here while my node is down.']);
  });

  await test.step('[S3] node two is back: the party reconnects by itself and is admitted again', async () => {
    await two!.restart();
    await expectLive(guest);
    await say(agent, 'Welcome back, Quinn.');
    await expectEveryoneSees([agent, customer, guest], ['Welcome back, Quinn.']);
    // The session and its history are as before: nobody saw it end.
    for (const p of [agent, customer, guest]) await expect(transcript(p)).not.toContainText(Text.sessionEnded);
  });
});

test('[S4] embedded mode: a restart forgets the sessions, and every page in one says so', async ({ open }) => {
  const server = await startProductServer({});
  servers.push(server);
  const customerName = `Rosa ${uid()}`;
  const agent = await open('agent', { origin: server.origin });
  const customer = await open('customer', { origin: server.origin });
  await signInAgent(agent, 'ava');
  await startSession(agent, customer, customerName);
  await say(customer, 'Before the restart.');
  await expectEveryoneSees([agent, customer], ['Before the restart.']);

  await server.restart();
  await expect(customer.getByText(SERVER_FORGOT)).toBeVisible();
  // The conversation stays on screen, and the agent is asked to sign in again.
  await expect(transcript(customer)).toContainText('Before the restart.');
  await expect(agent.getByRole('button', { name: 'Sign in', exact: true })).toBeVisible();
  await shoot(customer, 'server-restarted');
  // A page reloaded after the restart says the same, not "this link is not valid".
  await customer.reload();
  await expect(customer.getByText(SERVER_FORGOT)).toBeVisible();
});
