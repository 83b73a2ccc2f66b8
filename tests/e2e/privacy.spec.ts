/**
 * Privacy at rest (docs/threat-model.md, "A person at a shared computer"): a participant's copy of a
 * session (IndexedDB) is deleted when it leaves or the session ends, once the transcript has been
 * offered; a copy left behind by a closed tab is deleted the next time a Join Us page opens.
 */
import type { Page } from '@playwright/test';
import {
  alertWith,
  chooseOption,
  downloadTranscript,
  expect,
  expectEveryoneSees,
  joinWithHandle,
  openJoinUs,
  reserveHandle,
  say,
  signInAgent,
  startSession,
  test,
  uid,
} from './support/app';

const localCopies = (page: Page) =>
  page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name ?? '').filter((n) => n.startsWith('joinus:')));
const sessionIdOf = (page: Page) => new URL(page.url()).pathname.split('/').pop()!;

test('a participant who leaves, and everyone when the session ends, keeps no copy; a closed tab’s copy goes on the next visit', async ({ open }) => {
  const tag = uid();
  const agent = await open('agent');
  const customer = await open('customer');
  const guest = await open('guest');
  await signInAgent(agent, 'cy');
  await startSession(agent, customer, `Paula ${tag}`);
  await openJoinUs(agent);
  await joinWithHandle(guest, 'Quinn', await reserveHandle(agent, `private-${tag}`));
  await say(customer, 'Paula: my account number is in this line.');
  await expectEveryoneSees([agent, customer, guest], ['Paula: my account number is in this line.']);
  const sessionId = sessionIdOf(customer);
  for (const page of [customer, guest]) await expect.poll(() => localCopies(page)).toContain(`joinus:${sessionId}`);

  await test.step('leaving deletes the copy, says so, and the transcript can still be downloaded', async () => {
    await guest.getByRole('button', { name: 'Leave', exact: true }).click();
    await expect(alertWith(guest, 'This browser no longer keeps a copy of the session')).toBeVisible();
    await expect.poll(() => localCopies(guest)).not.toContain(`joinus:${sessionId}`);
    expect(await downloadTranscript(guest)).toContain('Paula: my account number is in this line.');
  });

  await test.step('a copy held by an open tab is kept; once no tab holds it, the next Join Us page deletes it', async () => {
    // A second tab of the customer's browser opens the start page: the session tab is still open.
    const other = await customer.context().newPage();
    await other.goto('/');
    await expect(other.locator('html')).toHaveAttribute('data-local-copies', 'swept');
    expect(await localCopies(other)).toContain(`joinus:${sessionId}`);
    // The customer's session tab is closed mid-session (no Leave, no End): its copy stays behind...
    await customer.close();
    expect(await localCopies(other)).toContain(`joinus:${sessionId}`);
    // ...until the next Join Us page opens in that browser.
    await other.goto('/join');
    await expect(other.locator('html')).toHaveAttribute('data-local-copies', 'swept');
    expect(await localCopies(other)).not.toContain(`joinus:${sessionId}`);
  });

  await test.step('the end of the session deletes the agent’s copy too', async () => {
    await expect.poll(() => localCopies(agent)).toContain(`joinus:${sessionId}`);
    await chooseOption(agent, 'End session');
    await expect(alertWith(agent, 'This browser no longer keeps a copy of the session')).toBeVisible();
    await expect.poll(() => localCopies(agent)).not.toContain(`joinus:${sessionId}`);
  });
});
