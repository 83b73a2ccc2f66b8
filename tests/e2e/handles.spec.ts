/** Handles in the browser: what the agent may type (H1), cancel and expiry (H5), the Join Us page's answers (H8). */
import { SHORT_HANDLE_TTL_MS } from './support/env';
import {
  Text,
  alertWith,
  expect,
  expectJoinRefused,
  expectReserveRefused,
  handleBox,
  joinWithHandle,
  openJoinUs,
  reserveHandle,
  reservedHandles,
  signInAgent,
  startSession,
  statusWith,
  test,
  transcript,
  uid,
  withdrawButton,
} from './support/app';
import { shoot } from './support/screens';

test('[H1] a handle that breaks the rules is refused with a message that says why', async ({ open }) => {
  const tag = uid();
  const agent = await open('agent');
  const customer = await open('customer');
  await signInAgent(agent, 'lea');
  await startSession(agent, customer, `Vic ${tag}`);
  await openJoinUs(agent);

  await expectReserveRefused(agent, 'ab', 'A handle needs at least 4 characters.');
  await expectReserveRefused(agent, 'two words', 'A handle can contain only the letters a to z, digits and hyphens.');
  await expectReserveRefused(agent, 'ünïcode-handle', 'A handle can contain only the letters a to z, digits and hyphens.');
  await expectReserveRefused(agent, 'a'.repeat(33), 'A handle can have at most 32 characters.');
  await expect(reservedHandles(agent)).toHaveCount(0);
  // OK is not offered for an empty box.
  await handleBox(agent).fill('   ');
  await expect(agent.getByRole('button', { name: 'OK', exact: true })).toBeDisabled();

  // At the limits, and with upper case and spaces around: accepted, stored lower-case.
  await reserveHandle(agent, `  Desk-${tag.toUpperCase()}  `);
  await reserveHandle(agent, `${'b'.repeat(26)}-${tag}`);
  await reserveHandle(agent, `x${tag.slice(0, 3)}`);
  await expect(reservedHandles(agent).getByRole('listitem')).toHaveCount(3);
  await expect(reservedHandles(agent)).toContainText(/expires in \d+ min/);
});

test('[H5][H8] cancelled, withdrawn, used and unknown handles all get the same answer on the Join Us page', async ({ open }) => {
  const tag = uid();
  const agent = await open('agent');
  const customer = await open('customer');
  const first = await open('first guest');
  const prober = await open('prober', { ownAddress: true });
  await signInAgent(agent, 'max');
  await startSession(agent, customer, `Wes ${tag}`);
  await openJoinUs(agent);

  const used = await reserveHandle(agent, `used-${tag}`);
  const withdrawn = await reserveHandle(agent, `withdrawn-${tag}`);
  const cancelled = await reserveHandle(agent, `cancelled-${tag}`);

  await test.step('[H5] Cancel withdraws the reserved handle in the box', async () => {
    await expect(handleBox(agent)).toHaveValue(cancelled);
    await agent.getByRole('button', { name: 'Cancel', exact: true }).click();
    await expect(statusWith(agent, `Handle ${cancelled} is cancelled and can no longer be used.`)).toBeVisible();
    await expect(withdrawButton(agent, cancelled)).toHaveCount(0);
    await expect(handleBox(agent)).toHaveValue('');
  });

  await test.step('[H5] Withdraw in the list withdraws that handle', async () => {
    await withdrawButton(agent, withdrawn).click();
    await expect(statusWith(agent, `Handle ${withdrawn} is cancelled and can no longer be used.`)).toBeVisible();
    await expect(withdrawButton(agent, withdrawn)).toHaveCount(0);
    await expect(transcript(customer)).toContainText(`Handle ${withdrawn} was cancelled`);
  });

  await joinWithHandle(first, 'Xena', used);

  await test.step('[H8] one message for every unusable handle', async () => {
    const answers: string[] = [];
    for (const handle of [used, withdrawn, cancelled, `never-reserved-${tag}`]) {
      answers.push(await expectJoinRefused(prober, 'Yann', handle));
    }
    expect(answers).toEqual(Array(4).fill(Text.handleUnusable));
    await expect(prober).toHaveURL(/\/join$/);
  });

  await test.step('Cancel with no reserved handle in the box closes the Join Us controls', async () => {
    await handleBox(agent).fill('');
    await agent.getByRole('button', { name: 'Cancel', exact: true }).click();
    await expect(handleBox(agent)).toHaveCount(0);
  });
});

test('[H8] past 5 failures from one address each attempt starts with a short check, and a valid handle still gets in', async ({ open }) => {
  const tag = uid();
  const agent = await open('agent');
  const customer = await open('customer');
  const page = await open('prober', { ownAddress: true });
  await signInAgent(agent, 'zack');
  await startSession(agent, customer, `Quentin ${tag}`);
  await openJoinUs(agent);
  const handle = await reserveHandle(agent, `valid-${tag}`);

  for (let i = 1; i <= 5; i++) {
    await expectJoinRefused(page, 'Zed', `guess-${tag}-${i}`);
    await expect(alertWith(page, Text.handleUnusable)).toContainText(
      i === 5 ? 'From now on each attempt starts with a short check' : `${5 - i} attempt${5 - i === 1 ? '' : 's'} left before each one needs a short check`,
    );
  }

  // The check is shown while the browser does it (a real proof of work, about a second): watched by
  // an observer, since it may come and go between two looks.
  await page.evaluate(() => {
    const w = window as unknown as { sawCheck: string | null };
    w.sawCheck = null;
    new MutationObserver(() => {
      const status = [...document.querySelectorAll('[role=status]')].find((e) => e.textContent?.includes('Checking your browser'));
      if (status) w.sawCheck = status.textContent;
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await expectJoinRefused(page, 'Zed', `guess-${tag}-6`);
  await shoot(page, '35-join-after-check');
  const sawCheck = await page.evaluate(() => (window as unknown as { sawCheck: string | null }).sawCheck);
  expect(sawCheck).toContain('Too many failed attempts from your connection (more than 5 a minute)');
  await expect(alertWith(page, Text.handleUnusable)).toContainText('From now on each attempt starts with a short check');

  // Nobody is shut out: the valid handle, from the same address, gets in after its check.
  await joinWithHandle(page, 'Zed', handle);
  await expect(transcript(agent)).toContainText('Zed joined');

  // Another address is not affected.
  const other = await open('someone else', { ownAddress: true });
  await expectJoinRefused(other, 'Ada', `guess-${tag}-other`);
  await expect(alertWith(other, Text.handleUnusable)).toContainText('4 attempts left');
});

test('[H5] a reservation expires after the configured time and the handle no longer works', async ({ open }) => {
  const tag = uid();
  const agent = await open('agent', { server: 'aux' });
  const customer = await open('customer', { server: 'aux' });
  const late = await open('late guest', { server: 'aux', ownAddress: true });
  await signInAgent(agent, 'nia');
  await startSession(agent, customer, `Yusuf ${tag}`);
  await openJoinUs(agent);
  const handle = await reserveHandle(agent, `soon-gone-${tag}`);
  await expect(reservedHandles(agent)).toContainText(/expires in \d+ s/);

  await expect(withdrawButton(agent, handle)).toHaveCount(0, { timeout: SHORT_HANDLE_TTL_MS + 10_000 });
  await expectJoinRefused(late, 'Zoe', handle);

  // Expired is free: the agent can reserve it again, and now it works.
  await reserveHandle(agent, handle);
  await late.getByRole('button', { name: 'Join Us', exact: true }).click();
  await expect(late).toHaveURL(/\/session\/[^/]+$/);
  await expect(transcript(late)).toContainText(`Handle ${handle} reserved for a third party`);
});
