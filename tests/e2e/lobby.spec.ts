/**
 * Admission lobby and invite link (PRODUCT.md): with "Ask before admitting" on, a party that logs in
 * with a handle waits, sees nothing of the session, and gets in only when the agent admits it. The
 * invite link carries the handle to the Join Us page without leaking it.
 */
import {
  alertWith,
  expect,
  expectEveryoneSees,
  joinWithHandle,
  openJoinUs,
  participants,
  reserveHandle,
  signInAgent,
  startSession,
  statusWith,
  test,
  transcript,
  uid,
} from './support/app';
import { shoot } from './support/screens';

const waitingList = (agent: import('@playwright/test').Page) => agent.getByRole('list', { name: 'Waiting to join' });
const waitingEntry = (agent: import('@playwright/test').Page, name: string) => waitingList(agent).getByRole('listitem').filter({ hasText: name });

test('ask before admitting: the party waits, sees nothing, and gets in when admitted; a declined one is told; the invite link fills the handle', async ({ open }) => {
  const tag = uid();
  const agent = await open('agent');
  const customer = await open('customer');
  const nora = await open('Nora');
  const mallory = await open('Mallory');
  await agent.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await signInAgent(agent, 'bea');
  await startSession(agent, customer, `Otto ${tag}`);
  await openJoinUs(agent);
  await agent.getByRole('checkbox', { name: 'Ask before admitting' }).check();
  await expect(agent.getByRole('checkbox', { name: 'Ask before admitting' })).toBeChecked();

  await test.step('Copy invite link gives a /join address with the handle in the fragment', async () => {
    const handle = await reserveHandle(agent, `invite-${tag}`);
    await agent.getByRole('button', { name: 'Copy invite link', exact: true }).click();
    await expect(statusWith(agent, 'Invite link copied')).toBeVisible();
    await shoot(agent, '31-agent-invite-link');
    const link = await agent.evaluate(() => navigator.clipboard.readText());
    expect(link).toMatch(new RegExp(`/join#handle=${handle}$`));

    await nora.goto(link);
    await expect(nora.getByRole('textbox', { name: 'Handle' })).toHaveValue(handle);
    // Read, then taken out of the address bar (and so out of the history and any later Referer).
    await expect.poll(() => nora.url()).not.toContain('#');
    await nora.getByRole('textbox', { name: 'Your name' }).fill('Nora');
    await nora.getByRole('button', { name: 'Join Us', exact: true }).click();
  });

  await test.step('the party waits and sees nothing of the session; the agent sees who waits', async () => {
    await expect(statusWith(nora, 'Waiting for the agent to let you in')).toBeVisible();
    await expect(waitingEntry(agent, 'Nora')).toBeVisible();
    await shoot(nora, '32-guest-waiting-in-lobby');
    await shoot(agent, '33-agent-lobby');
    await expect(transcript(nora)).toHaveCount(0);
    await expect(participants(nora)).toHaveCount(0);
    // The others do not list a party that is not in.
    await expect(participants(customer)).not.toContainText('Nora');
    // A reload keeps its place in the lobby.
    await nora.reload();
    await expect(statusWith(nora, 'Waiting for the agent to let you in')).toBeVisible();
  });

  await test.step('Decline: the party is told, and the handle is spent', async () => {
    const handle = await reserveHandle(agent, `declined-${tag}`);
    await mallory.goto('/join');
    await mallory.getByRole('textbox', { name: 'Your name' }).fill('Mallory');
    await mallory.getByRole('textbox', { name: 'Handle' }).fill(handle);
    await mallory.getByRole('button', { name: 'Join Us', exact: true }).click();
    await expect(statusWith(mallory, 'Waiting for the agent to let you in')).toBeVisible();
    await waitingEntry(agent, 'Mallory').getByRole('button', { name: 'Decline', exact: true }).click();
    await expect(alertWith(mallory, 'The agent did not let you in.')).toBeVisible();
    await shoot(mallory, '34-guest-declined');
    await expect(waitingEntry(agent, 'Mallory')).toHaveCount(0);
    await expect(transcript(agent)).toContainText('Mallory asked to join and was not let in');
  });

  await test.step('Admit: the party lands in the session with the whole transcript', async () => {
    await waitingEntry(agent, 'Nora').getByRole('button', { name: 'Admit', exact: true }).click();
    await expect(transcript(nora)).toBeVisible();
    await expectEveryoneSees([agent, customer, nora], ['Nora joined the session with a handle', 'Mallory asked to join and was not let in']);
    await expect(waitingList(agent)).toHaveCount(0);
  });

  await test.step('Off again: the next party goes straight in', async () => {
    await agent.getByRole('checkbox', { name: 'Ask before admitting' }).uncheck();
    const late = await open('Lars');
    await joinWithHandle(late, 'Lars', await reserveHandle(agent, `straight-${tag}`));
    await expectEveryoneSees([agent, late], ['Lars joined the session with a handle']);
  });
});
