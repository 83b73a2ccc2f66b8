/** The agent console: signing in, the shared queue (S1), several sessions (S6). */
import { agentPassword } from './support/env';
import {
  Text,
  acceptCustomer,
  alertWith,
  expect,
  expectEveryoneSees,
  expectLive,
  requestHelp,
  say,
  sessionTabs,
  signInAgent,
  startSession,
  statusWith,
  test,
  transcript,
  uid,
  waitingEntry,
} from './support/app';

test('a wrong agent password is refused with an alert', async ({ open }) => {
  const page = await open('agent');
  await page.goto('/agent');
  await page.getByRole('textbox', { name: 'Username' }).fill('kim');
  await page.getByRole('textbox', { name: 'Password' }).fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(alertWith(page, Text.signInFailed)).toBeVisible();
  await expect(page.getByRole('list', { name: 'Waiting customers' })).toHaveCount(0);
  // An unknown user gets the same answer.
  await page.getByRole('textbox', { name: 'Username' }).fill('nobody-here');
  await page.getByRole('textbox', { name: 'Password' }).fill(agentPassword('kim'));
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(alertWith(page, Text.signInFailed)).toBeVisible();
  await expect(page.getByRole('button', { name: 'Sign in', exact: true })).toBeEnabled();
});

test('an agent stays signed in across a reload, and can sign out', async ({ open }) => {
  const page = await open('agent');
  await signInAgent(page, 'kim');
  await page.reload();
  await expect(statusWith(page, 'Signed in as kim')).toBeVisible();
  await expect(page.getByRole('list', { name: 'Waiting customers' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Sign in', exact: true })).toHaveCount(0);

  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page.getByRole('button', { name: 'Sign in', exact: true })).toBeVisible();
  await page.reload();
  await expect(page.getByRole('button', { name: 'Sign in', exact: true })).toBeVisible();
});

test('[S1] two agents see the same waiting customer; one accepts and the other sees it gone', async ({ open }) => {
  const tag = uid();
  const customerName = `Sam ${tag}`;
  const hana = await open('agent hana');
  const ivan = await open('agent ivan');
  const customer = await open('customer');
  await signInAgent(hana, 'hana');
  await signInAgent(ivan, 'ivan');

  await requestHelp(customer, customerName, 'Where is my order?');
  for (const agent of [hana, ivan]) {
    await expect(waitingEntry(agent, customerName)).toBeVisible();
    await expect(waitingEntry(agent, customerName)).toContainText('Where is my order?');
  }

  await acceptCustomer(hana, customerName);
  await expect(waitingEntry(ivan, customerName)).toHaveCount(0);
  await expect(waitingEntry(hana, customerName)).toHaveCount(0);
  await expect(customer).toHaveURL(/\/session\/[^/]+$/);
  await expectLive(customer);
  await expect(ivan.getByRole('heading', { name: `Session with ${customerName}` })).toHaveCount(0);
  await say(hana, 'Hana: I have your order here.');
  await expectEveryoneSees([hana, customer], ['Hana: I have your order here.']);
});

test('[S1] a waiting customer sees the queue position, and a later one is behind', async ({ open }) => {
  const tag = uid();
  const first = await open('first customer');
  const second = await open('second customer');
  const agent = await open('agent');
  await signInAgent(agent, 'pat');
  await requestHelp(first, `Tess ${tag}`, 'first in line');
  await requestHelp(second, `Uma ${tag}`, 'second in line');
  const position = async (page: typeof first) => {
    const text = await statusWith(page, Text.queueStatus).innerText();
    return Number(/position (\d+)|number (\d+)/.exec(text)!.slice(1).find(Boolean));
  };
  // Other tests' customers may be waiting too: compare the two, read together.
  await expect.poll(async () => (await position(second)) - (await position(first))).toBeGreaterThan(0);
  const p2 = await position(second);

  // When the customer ahead is taken, the one behind moves up.
  await acceptCustomer(agent, `Tess ${tag}`);
  await expect.poll(() => position(second)).toBeLessThan(p2);
});

test('[S6] an agent holds two sessions and switches between them', async ({ open }) => {
  const tag = uid();
  const al = `Al ${tag}`;
  const bo = `Bo ${tag}`;
  const agent = await open('agent');
  const alPage = await open('customer al');
  const boPage = await open('customer bo');
  await signInAgent(agent, 'jo');
  await startSession(agent, alPage, al, 'Printer is offline');
  await say(agent, 'Jo to Al: let us restart the printer.');
  await startSession(agent, boPage, bo, 'Cannot log in');

  const alTab = sessionTabs(agent).filter({ hasText: al });
  const boTab = sessionTabs(agent).filter({ hasText: bo });
  await expect(boTab).toHaveAttribute('aria-current', 'true');
  await expect(alTab).not.toHaveAttribute('aria-current', 'true');
  await expect(agent.getByRole('heading', { name: `Session with ${bo}` })).toBeVisible();
  await say(agent, 'Jo to Bo: let us reset your password.');
  await expectEveryoneSees([boPage], ['Jo to Bo: let us reset your password.']);

  await alTab.click();
  await expect(alTab).toHaveAttribute('aria-current', 'true');
  await expect(boTab).not.toHaveAttribute('aria-current', 'true');
  await expect(agent.getByRole('heading', { name: `Session with ${al}` })).toBeVisible();
  await expect(transcript(agent)).toContainText('Jo to Al: let us restart the printer.');
  await expect(transcript(agent)).not.toContainText('Jo to Bo');
  await say(agent, 'Jo to Al: is it back?');
  await expectEveryoneSees([alPage], ['Jo to Al: let us restart the printer.', 'Jo to Al: is it back?']);
  await say(alPage, 'Al: yes, printing now.');
  await expect(transcript(agent)).toContainText('Al: yes, printing now.');

  await boTab.click();
  await expect(boTab).toHaveAttribute('aria-current', 'true');
  await expect(transcript(agent)).toContainText('Jo to Bo: let us reset your password.');
  await expect(transcript(agent)).not.toContainText('Al: yes, printing now.');
  // Each customer sees only its own session.
  await expect(transcript(boPage)).not.toContainText('Jo to Al');
  await expect(transcript(alPage)).not.toContainText('Jo to Bo');
});
