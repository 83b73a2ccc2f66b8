/** Session lifecycle in the browser: reloads (S3), the grace period (S4), leaving and removal (S5). */
import { GRACE_MS } from './support/env';
import {
  Text,
  alertWith,
  expect,
  expectEveryoneSees,
  expectLive,
  expectOnline,
  joinWithHandle,
  openJoinUs,
  participant,
  reserveHandle,
  say,
  sessionEndedAlert,
  signInAgent,
  startSession,
  test,
  transcript,
  uid,
} from './support/app';

test('[S3] a joined party reloads and comes back with the whole transcript, without a new handle', async ({ open }) => {
  const tag = uid();
  const customerName = `Carla ${tag}`;
  const agent = await open('agent');
  const customer = await open('customer');
  const guest = await open('guest');

  await signInAgent(agent, 'dan');
  await startSession(agent, customer, customerName);
  await openJoinUs(agent);
  const handle = await reserveHandle(agent, `reload-${tag}`);
  await joinWithHandle(guest, 'Nina', handle);
  const before = ['Dan: first line before the reload.', 'Carla: second line.', 'Nina: third line, mine.'];
  await say(agent, before[0]!);
  await say(customer, before[1]!);
  await say(guest, before[2]!);
  await expectEveryoneSees([agent, customer, guest], before);

  const url = guest.url();
  await guest.reload();
  await expect(guest).toHaveURL(url);
  await expectLive(guest);
  for (const line of [...before, 'Nina joined the session with a handle']) await expect(transcript(guest)).toContainText(line);
  // Joined once: the reload does not announce a second arrival.
  await expect(transcript(agent).getByText('Nina joined the session with a handle')).toHaveCount(1);
  await expectOnline(agent, ['Nina']);
  await expectOnline(guest, ['dan', customerName]);

  await say(guest, 'Nina: back after the reload.');
  await say(agent, 'Dan: welcome back.');
  await expectEveryoneSees([agent, customer, guest], ['Nina: back after the reload.', 'Dan: welcome back.']);
});

test('[S3] the customer and the agent reload and stay in the same session', async ({ open }) => {
  const tag = uid();
  const customerName = `Omar ${tag}`;
  const agent = await open('agent');
  const customer = await open('customer');

  await signInAgent(agent, 'eve');
  await startSession(agent, customer, customerName);
  await say(agent, 'Eve: hello, what can I do for you?');
  await say(customer, 'Omar: my parcel never arrived.');
  await expectEveryoneSees([agent, customer], ['Eve: hello, what can I do for you?', 'Omar: my parcel never arrived.']);

  await test.step('the customer reloads', async () => {
    const url = customer.url();
    await customer.reload();
    await expect(customer).toHaveURL(url);
    await expectLive(customer);
    await expectEveryoneSees([customer], ['Eve: hello, what can I do for you?', 'Omar: my parcel never arrived.']);
    await expect(customer.getByRole('button', { name: 'End session', exact: true })).toBeVisible();
    await expectOnline(agent, [customerName]);
    await say(customer, 'Omar: still here after the reload.');
    await expectEveryoneSees([agent, customer], ['Omar: still here after the reload.']);
  });

  await test.step('the agent reloads the console', async () => {
    await agent.reload();
    await expect(agent.getByRole('heading', { name: `Session with ${customerName}` })).toBeVisible();
    await expectLive(agent);
    await expectEveryoneSees([agent], ['Eve: hello, what can I do for you?', 'Omar: still here after the reload.']);
    await expectOnline(customer, ['eve']);
    await say(agent, 'Eve: I reloaded my console, still with you.');
    await expectEveryoneSees([agent, customer], ['Eve: I reloaded my console, still with you.']);
  });

  await expect(sessionEndedAlert(customer)).toHaveCount(0);
  await expect(sessionEndedAlert(agent)).toHaveCount(0);
});

test('[S4] the session drops when the customer stays away longer than the grace period', async ({ open }) => {
  const tag = uid();
  const customerName = `Pia ${tag}`;
  const agent = await open('agent');
  const customer = await open('customer');
  const guest = await open('guest');

  await signInAgent(agent, 'finn');
  await startSession(agent, customer, customerName);
  await openJoinUs(agent);
  const handle = await reserveHandle(agent, `grace-${tag}`);
  await joinWithHandle(guest, 'Quinn', handle);
  await say(guest, 'Quinn: here.');
  await expectEveryoneSees([agent, customer, guest], ['Quinn: here.']);

  // The customer's browser goes away for good.
  await customer.context().close();
  await expect(participant(agent, customerName)).toContainText('offline');

  for (const page of [agent, guest]) {
    await expect(sessionEndedAlert(page)).toBeVisible({ timeout: GRACE_MS + 10_000 });
    await expect(alertWith(page, 'The customer lost the connection and did not come back in time.')).toBeVisible();
  }
  await expect(guest.getByRole('textbox', { name: 'Message' })).toBeDisabled();
  await expect(agent.getByRole('combobox', { name: 'Options' })).toHaveCount(0);
  await expect(transcript(guest)).toContainText('Quinn: here.');
});

test('[S5] a joined party leaving does not end the session; the agent removes another and it is cut off', async ({ open }) => {
  const tag = uid();
  const customerName = `Rosa ${tag}`;
  const agent = await open('agent');
  const customer = await open('customer');
  const liv = await open('guest liv');
  const ray = await open('guest ray');

  await signInAgent(agent, 'gus');
  await startSession(agent, customer, customerName);
  await openJoinUs(agent);
  const forLiv = await reserveHandle(agent, `liv-${tag}`);
  const forRay = await reserveHandle(agent, `ray-${tag}`);
  await joinWithHandle(liv, 'Liv', forLiv);
  await joinWithHandle(ray, 'Ray', forRay);
  await say(ray, 'Ray: hello everyone.');
  await expectEveryoneSees([agent, customer, liv, ray], ['Ray: hello everyone.']);

  await test.step('Liv leaves; the session goes on', async () => {
    await liv.getByRole('button', { name: 'Leave', exact: true }).click();
    await expect(alertWith(liv, 'You left the session.')).toBeVisible();
    await expect(liv.getByRole('textbox', { name: 'Message' })).toBeDisabled();
    // The leaver writes its "left" mark and note into the shared document just before it tells the
    // server; every other participant must end up with both.
    for (const page of [agent, customer, ray]) {
      await expect(participant(page, 'Liv'), 'Liv is shown as left on every page').toContainText('left');
    }
    await expectEveryoneSees([agent, customer, ray], ['Liv left the session']);
    for (const page of [agent, customer, ray, liv]) await expect(sessionEndedAlert(page)).toHaveCount(0);
    await say(customer, 'Rosa: still talking after Liv left.');
    await expectEveryoneSees([agent, customer, ray], ['Rosa: still talking after Liv left.']);
    await expect(participant(agent, 'Liv').getByRole('button', { name: 'Remove', exact: true })).toHaveCount(0);

    // Coming back to the page after leaving: still out, and told so (not that the session ended).
    await liv.reload();
    await expect(alertWith(liv, 'You left')).toBeVisible();
    await expect(sessionEndedAlert(liv)).toHaveCount(0);
    await expect(liv.getByRole('textbox', { name: 'Message' })).toBeDisabled();
    await expect(participant(agent, 'Liv')).toContainText('left');
  });

  await test.step('the agent removes Ray', async () => {
    await participant(agent, 'Ray').getByRole('button', { name: 'Remove', exact: true }).click();
    await expect(alertWith(ray, Text.removed)).toBeVisible();
    await expect(ray.getByRole('textbox', { name: 'Message' })).toBeDisabled();
    await expect(ray.getByRole('button', { name: 'Leave', exact: true })).toHaveCount(0);
    for (const page of [agent, customer]) await expect(participant(page, 'Ray')).toContainText('removed');
    await expectEveryoneSees([agent, customer], ['gus removed Ray from the session']);

    // The session goes on between the others, and the removed party no longer receives anything.
    await say(agent, 'Gus: just the two of us now.');
    await expectEveryoneSees([customer], ['Gus: just the two of us now.']);
    await expect(transcript(ray)).not.toContainText('Gus: just the two of us now.');
    await expect(sessionEndedAlert(customer)).toHaveCount(0);
    await expect(customer.getByRole('button', { name: 'End session', exact: true })).toBeVisible();
  });

  await test.step('a removed party who reloads stays out', async () => {
    await ray.reload();
    await expect(alertWith(ray, /removed/)).toBeVisible();
    await expect(ray.getByRole('textbox', { name: 'Message' })).toBeDisabled();
  });
});
