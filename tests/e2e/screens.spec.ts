/**
 * Not a visual-regression test: walks through every page and state once and saves a full-page
 * screenshot of each at desktop (1280×860) and phone (390×844) width into test-results/screens/,
 * for a person to look at.
 */
import { mkdir } from 'node:fs/promises';
import type { Page } from '@playwright/test';
import {
  Text,
  chooseOption,
  expect,
  expectJoinRefused,
  joinWithHandle,
  openJoinUs,
  requestHelp,
  reserveHandle,
  say,
  sessionEndedAlert,
  signInAgent,
  test,
  uid,
  waitingEntry,
} from './support/app';
import { screensDir as dir, shoot } from './support/screens';

test('screens: every page at desktop and phone width', async ({ open }) => {
  test.slow(); // the longest walks: three times the default timeout
  await mkdir(dir, { recursive: true });
  const tag = uid();
  const customerName = `Alice ${tag}`;
  const visitor = await open('visitor');
  const agent = await open('agent');
  const customer = await open('customer');
  const guest = await open('guest', { ownAddress: true });

  await visitor.goto('/');
  await expect(visitor.getByRole('link', { name: 'Join Us' })).toBeVisible();
  await shoot(visitor, '01-landing');

  await agent.goto('/agent');
  await expect(agent.getByRole('button', { name: 'Sign in', exact: true })).toBeEnabled();
  await shoot(agent, '02-agent-sign-in');
  await agent.getByRole('textbox', { name: 'Username' }).fill('oli');
  await agent.getByRole('textbox', { name: 'Password' }).fill('wrong');
  await agent.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(agent.getByRole('alert').filter({ hasText: Text.signInFailed })).toBeVisible();
  await shoot(agent, '03-agent-sign-in-error');
  await signInAgent(agent, 'oli');
  await shoot(agent, '04-agent-console-empty');

  await customer.goto('/help');
  await customer.getByRole('textbox', { name: 'Your name' }).fill(customerName);
  await customer.getByRole('textbox', { name: 'How can we help?' }).fill('My router keeps dropping the connection');
  await expect(customer.getByRole('button', { name: 'Start session', exact: true })).toBeEnabled();
  await shoot(customer, '05-help-form');
  await requestHelp(customer, customerName, 'My router keeps dropping the connection');
  await shoot(customer, '06-help-waiting');
  await expect(waitingEntry(agent, customerName)).toBeVisible();
  await shoot(agent, '07-agent-console-waiting');

  await waitingEntry(agent, customerName).getByRole('button', { name: 'Accept', exact: true }).click();
  await startSessionAccepted(agent, customer, customerName);
  await say(agent, `Hello ${customerName}, how can I help?`);
  await say(customer, 'Hi, my router keeps dropping the connection.');
  await expect(customer.getByRole('log', { name: 'Session transcript' })).toContainText('Hello');
  await shoot(customer, '08-customer-session');

  await openJoinUs(agent);
  await shoot(agent, '09-agent-join-us-open');
  const handle = await reserveHandle(agent, `screens-${tag}`);
  await shoot(agent, '10-agent-handle-reserved');

  await guest.goto('/join');
  await guest.getByRole('textbox', { name: 'Your name' }).fill('Carol');
  await guest.getByRole('textbox', { name: 'Handle' }).fill(handle);
  await shoot(guest, '11-join-form');
  await expectJoinRefused(guest, 'Carol', `not-${handle}`);
  await shoot(guest, '12-join-unusable-handle');
  await joinWithHandle(guest, 'Carol', handle);
  await say(guest, 'Hi all, Carol here from the network team.');
  await guest.getByRole('textbox', { name: 'Message' }).fill('Checking the line now');
  await expect(customer.getByText('Carol is typing…')).toBeVisible();
  await shoot(customer, '13-customer-session-typing');
  await shoot(guest, '14-guest-session');
  await shoot(agent, '15-agent-session-three-way');

  await chooseOption(agent, 'End session');
  for (const p of [agent, customer, guest]) await expect(sessionEndedAlert(p)).toBeVisible();
  await shoot(customer, '16-customer-session-ended');
  await shoot(agent, '17-agent-session-ended');

  const stranger = await open('stranger');
  await stranger.goto('/session/0123456789abcdef');
  await expect(stranger.getByRole('alert').filter({ hasText: 'no access' })).toBeVisible();
  await shoot(stranger, '18-session-no-access');
});

async function startSessionAccepted(agent: Page, customer: Page, customerName: string) {
  await expect(agent.getByRole('heading', { name: `Session with ${customerName}` })).toBeVisible();
  await expect(customer).toHaveURL(/\/session\//);
  await expect(customer.getByRole('textbox', { name: 'Message' })).toBeEnabled();
}
