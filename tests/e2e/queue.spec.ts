/**
 * S1 with a long queue (issue 9): the console shows the first waiting customers and how many wait,
 * shows more when asked, and follows each change; a waiting customer's place moves as those ahead
 * are taken. A server of its own, so that its queue does not push other tests' customers out of view.
 */
import { io, type Socket } from 'socket.io-client';
import { Text, acceptCustomer, expect, requestHelp, signInAgent, statusWith, test, waitingCustomers, waitingEntry } from './support/app';
import { startProductServer, type ProductServer } from './support/product-server';
import { shoot } from './support/screens';

let server: ProductServer;
const sockets: Socket[] = [];

test.beforeAll(async () => {
  server = await startProductServer({});
});
test.afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.stop();
});

/** A customer asking for help from outside a browser (the queue's length is the subject here). */
async function waitingCustomer(name: string): Promise<{ requestId: string; requestToken: string; socket: Socket }> {
  const socket = io(server.origin, { transports: ['websocket'] });
  sockets.push(socket);
  const ack = (await socket.timeout(10_000).emitWithAck('customer:request', { name, topic: 'In line' })) as {
    ok: boolean;
    requestId: string;
    requestToken: string;
  };
  expect(ack.ok).toBe(true);
  return { ...ack, socket };
}

const names = Array.from({ length: 24 }, (_, i) => `Waiting ${String(i + 1).padStart(2, '0')}`);
const shownNames = async (page: import('@playwright/test').Page) =>
  (await waitingCustomers(page).getByRole('listitem').locator('.person-name').allInnerTexts()).map((t) => t.trim());

test('[S1] a long queue: the first ten and the count, more on request, every change followed', async ({ open }) => {
  const opts = { origin: server.origin };
  const customers = [];
  for (const name of names) customers.push(await waitingCustomer(name));
  const agent = await open('agent', opts);
  const other = await open('second agent', opts);
  const late = await open('late customer', opts);
  await signInAgent(agent, 'ida');
  await signInAgent(other, 'jay');

  await expect(agent.getByText('24 customers waiting · showing the first 10')).toBeVisible();
  expect(await shownNames(agent)).toEqual(names.slice(0, 10));
  await shoot(agent, 'agent-long-queue');

  await agent.getByRole('button', { name: 'Show more', exact: true }).click();
  await expect(agent.getByText('24 customers waiting · showing the first 20')).toBeVisible();
  expect(await shownNames(agent)).toEqual(names.slice(0, 20));
  await agent.getByRole('button', { name: 'Show more', exact: true }).click();
  await expect(agent.getByText('24 customers waiting', { exact: true })).toBeVisible();
  expect(await shownNames(agent)).toEqual(names);
  await expect(agent.getByRole('button', { name: 'Show more', exact: true })).toHaveCount(0);

  // A customer joins the end from a browser: the console holding the whole queue shows them, the
  // one showing ten counts them; the newcomer sees its place.
  await requestHelp(late, 'Late Lou', 'At the end');
  await expect(statusWith(late, 'You are number 25 in the queue.')).toBeVisible();
  await expect(waitingEntry(agent, 'Late Lou')).toBeVisible();
  await expect(other.getByText('25 customers waiting · showing the first 10')).toBeVisible();

  // The second console shows twenty: it holds exactly what its sign-in gave it, the first twenty.
  await other.getByRole('button', { name: 'Show more', exact: true }).click();
  await expect(other.getByText('25 customers waiting · showing the first 20')).toBeVisible();
  expect(await shownNames(other)).toEqual(names.slice(0, 20));

  // Someone ahead leaves and another is taken: both consoles follow; the second shows the next in
  // line (Waiting 21 and 22 were not in its sign-in: each removal brought the one moving up into
  // the head it holds); the late customer moves up.
  customers[3]!.socket.emit('customer:cancel', { requestToken: customers[3]!.requestToken }, () => {});
  await expect(waitingEntry(other, names[3]!)).toHaveCount(0);
  await acceptCustomer(agent, names[0]!);
  await expect(other.getByText('23 customers waiting · showing the first 20')).toBeVisible();
  await expect.poll(() => shownNames(other)).toEqual([...names.slice(1, 3), ...names.slice(4, 22)]);
  await expect(waitingEntry(agent, names[0]!)).toHaveCount(0);
  await expect(statusWith(late, 'You are number 23 in the queue.')).toBeVisible();
  await expect(statusWith(late, Text.queueStatus)).toBeVisible();
});
