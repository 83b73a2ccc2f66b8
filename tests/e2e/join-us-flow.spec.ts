/**
 * The Join Us feature end to end (PRODUCT.md "What it is", steps 1–5): an agent, a customer and two
 * joined parties, each in its own browser, synced peer to peer.
 */
import {
  Text,
  alertWith,
  downloadTranscript,
  expect,
  expectEveryoneSees,
  expectJoinRefused,
  expectOnline,
  expectReserveRefused,
  chooseOption,
  joinWithHandle,
  openJoinUs,
  participant,
  reserveHandle,
  say,
  sessionEndedAlert,
  signInAgent,
  startSession,
  statusWith,
  suggestHandle,
  test,
  transcript,
  uid,
  withdrawButton,
} from './support/app';

test('[H1][H3][H7][H9][C1][C2] agent, customer and two joined parties: reserve, join, chat, presence, late joiner', async ({ open }) => {
  test.slow(); // the longest walks: three times the default timeout
  const tag = uid();
  const customerName = `Alice ${tag}`;
  const agent = await open('agent');
  const customer = await open('customer');
  const carol = await open('carol');
  // Dave first tries a used handle: a failed log-in, so he comes from his own address (H8 limit).
  const dave = await open('dave', { ownAddress: true });

  await test.step('agent and customer start a session and chat', async () => {
    await signInAgent(agent, 'ava');
    await startSession(agent, customer, customerName);
    await say(agent, `Hello ${customerName}, how can I help?`);
    await say(customer, 'Hi, my router keeps dropping the connection.');
    await expectEveryoneSees([agent, customer], [`Hello ${customerName}, how can I help?`, 'Hi, my router keeps dropping']);
  });

  const typed = `carol-${tag}`;
  let suggested = '';
  await test.step('[H7][H9] the agent reserves a suggested handle and a typed one', async () => {
    await openJoinUs(agent);
    suggested = await suggestHandle(agent);
    await agent.getByRole('button', { name: 'OK', exact: true }).click();
    await expect(statusWith(agent, `Handle ${suggested} is reserved.`)).toBeVisible();
    // [H1] trimmed and case-insensitive: stored lower-case.
    await reserveHandle(agent, `  ${typed.toUpperCase()} `);
    await expect(withdrawButton(agent, suggested)).toBeVisible();
    await expect(withdrawButton(agent, typed)).toBeVisible();
    // The customer sees the handle in the transcript too (step 3).
    await expect(transcript(customer)).toContainText(`Handle ${typed} reserved for a third party`);
  });

  await test.step('[C1] the first joined party logs in with the typed handle and sees the whole transcript', async () => {
    await joinWithHandle(carol, 'Carol', typed.toUpperCase());
    await expect(transcript(carol)).toContainText(`Hello ${customerName}, how can I help?`);
    await expect(transcript(carol)).toContainText('Hi, my router keeps dropping the connection.');
    await expect(transcript(carol)).toContainText(`Handle ${typed} reserved for a third party`);
    await expectEveryoneSees([agent, customer, carol], ['Carol joined the session with a handle']);
    await say(carol, 'Hi all, Carol here from the network team.');
    await expectEveryoneSees([agent, customer, carol], ['Hi all, Carol here from the network team.']);
  });

  await test.step('[H3][H8] a used handle is refused on the Join Us page with the uniform message', async () => {
    await expect(withdrawButton(agent, typed)).toHaveCount(0);
    await expect(withdrawButton(agent, suggested)).toBeVisible();
    const shown = await expectJoinRefused(dave, 'Dave', typed);
    expect(shown).toBe(Text.handleUnusable);
  });

  await test.step('[H3] the freed handle, reserved again, admits a new party who sees the whole transcript', async () => {
    await reserveHandle(agent, typed);
    // Dave is still on the Join Us page with the handle in the box: he tries again.
    await dave.getByRole('button', { name: 'Join Us', exact: true }).click();
    await expect(dave).toHaveURL(/\/session\/[^/]+$/);
    for (const line of [
      `Hello ${customerName}, how can I help?`,
      'Hi, my router keeps dropping the connection.',
      'Carol joined the session with a handle',
      'Hi all, Carol here from the network team.',
    ]) {
      await expect(transcript(dave)).toContainText(line);
    }
    await expectEveryoneSees([agent, customer, carol, dave], ['Dave joined the session with a handle']);
  });

  const everyone = [agent, customer, carol, dave];
  await test.step('four-way chat: every line reaches everyone', async () => {
    const lines = ['Agent: can everyone read this?', 'Customer: yes, reading you.', 'Carol: loud and clear.', 'Dave: same here.'];
    await say(agent, lines[0]!);
    await say(customer, lines[1]!);
    await say(carol, lines[2]!);
    await say(dave, lines[3]!);
    await expectEveryoneSees(everyone, lines);
  });

  await test.step('[C2] everyone is listed online on every page, and typing shows', async () => {
    for (const page of everyone) await expectOnline(page, ['ava', customerName, 'Carol', 'Dave']);
    await expect(participant(agent, 'Carol')).toContainText('Invited');
    await expect(participant(agent, customerName)).toContainText('Customer');
    await carol.getByRole('textbox', { name: 'Message' }).fill('Let me check the logs');
    await Promise.all([agent, customer, dave].map((p) => expect(p.getByText('Carol is typing…')).toBeVisible()));
    await carol.getByRole('button', { name: 'Send', exact: true }).click();
    await Promise.all([agent, customer, dave].map((p) => expect(p.getByText('Carol is typing…')).toHaveCount(0)));
    await expectEveryoneSees(everyone, ['Let me check the logs']);
  });
});

test('[H2][H4][S4][C6] a handle in use is refused in another session; when the session ends it is freed and everyone can still download the transcript', async ({ open }) => {
  test.slow(); // the longest walks: three times the default timeout
  const tag = uid();
  const bea = `Bea ${tag}`;
  const cal = `Cal ${tag}`;
  const ben = await open('agent ben');
  const beaPage = await open('customer bea');
  const gil = await open('guest gil');
  const cleo = await open('agent cleo');
  const calPage = await open('customer cal');

  await signInAgent(ben, 'ben');
  await signInAgent(cleo, 'cleo');
  await startSession(ben, beaPage, bea, 'I was charged twice');
  await startSession(cleo, calPage, cal, 'I need a new password');

  let held = '';
  await test.step('ben reserves a suggested handle and invites Gil with another', async () => {
    await openJoinUs(ben);
    held = await suggestHandle(ben);
    await ben.getByRole('button', { name: 'OK', exact: true }).click();
    await expect(statusWith(ben, `Handle ${held} is reserved.`)).toBeVisible();
    const forGil = await reserveHandle(ben, `gil-${tag}`);
    await joinWithHandle(gil, 'Gil', forGil);
    await say(ben, 'Ben here: I see two charges on your card.');
    await say(beaPage, 'Bea: yes, both on Monday.');
    await say(gil, 'Gil from billing: I will refund one.');
    await expectEveryoneSees([ben, beaPage, gil], [
      'Ben here: I see two charges on your card.',
      'Bea: yes, both on Monday.',
      'Gil from billing: I will refund one.',
    ]);
  });

  await test.step('[H2] another session cannot reserve a handle that is in use', async () => {
    await openJoinUs(cleo);
    await expectReserveRefused(cleo, held, Text.handleInUse);
    await expect(withdrawButton(cleo, held)).toHaveCount(0);
  });

  await test.step('[S4] the agent ends the session: everyone is told', async () => {
    await chooseOption(ben, 'End session');
    for (const page of [ben, beaPage, gil]) await expect(sessionEndedAlert(page)).toBeVisible();
    await expect(alertWith(beaPage, 'The agent ended the session.')).toBeVisible();
    await expect(beaPage.getByRole('button', { name: 'End session', exact: true })).toHaveCount(0);
    await expect(gil.getByRole('button', { name: 'Leave', exact: true })).toHaveCount(0);
    await expect(beaPage.getByRole('textbox', { name: 'Message' })).toBeDisabled();
  });

  await test.step('[C6][S4] every participant can still download the transcript it holds', async () => {
    for (const page of [ben, beaPage, gil]) {
      const text = await downloadTranscript(page);
      expect(text).toContain('ben (Agent): Ben here: I see two charges on your card.');
      expect(text).toContain(`${bea} (Customer): Bea: yes, both on Monday.`);
      expect(text).toContain('Gil (Invited): Gil from billing: I will refund one.');
      expect(text).toContain(Text.sessionEnded);
    }
  });

  await test.step('[H4] the ended session\'s reserved handle is free again for another session', async () => {
    await cleo.getByRole('button', { name: 'OK', exact: true }).click();
    await expect(statusWith(cleo, `Handle ${held} is reserved.`)).toBeVisible();
    await expect(withdrawButton(cleo, held)).toBeVisible();
  });
});

test('[C1] the Join Us page fetches the session\'s code once the form is used, marked to be compiled whole as it loads (decision 0021)', async ({ open }) => {
  const page = await open('visitor');
  const isScript = (url: string) => new URL(url).pathname.endsWith('.js');
  // Every script this page fetched: whether the form was in use by then, and what it holds.
  const fetched = new Map<string, { onUse: boolean; body: Promise<string> | null }>();
  let inUse = false;
  page.on('request', (r) => {
    if (isScript(r.url()) && !fetched.has(r.url())) fetched.set(r.url(), { onUse: inUse, body: null });
  });
  page.on('requestfinished', (r) => {
    const f = fetched.get(r.url());
    if (f && !f.body) f.body = r.response().then((res) => res?.text() ?? '');
  });
  // Once the network is quiet, the page's own code (and what its links prefetch) is all here.
  await page.goto('/join', { waitUntil: 'networkidle' });
  await page.waitForFunction(() => performance.getEntriesByName('joinus:form-ready').length > 0);
  inUse = true;
  await page.getByRole('textbox', { name: 'Your name' }).fill('Vic');
  await page.getByRole('textbox', { name: 'Handle' }).fill('amber-otter-48213');
  // Enabled once connected: the socket.io client came; the session view's code was asked for at focus.
  await expect(page.getByRole('button', { name: 'Join Us' })).toBeEnabled();
  await expect.poll(() => [...fetched.values()].every((f) => f.body !== null)).toBe(true);
  const hint = '//# allFunctionsCalledOnLoad\n';
  const page0 = [...fetched].filter(([, f]) => !f.onUse);
  const onUse = [...fetched].filter(([, f]) => f.onUse);
  expect(page0.length).toBeGreaterThan(0);
  expect(onUse.length).toBeGreaterThanOrEqual(2);
  for (const [url, f] of page0) expect(`${url}: ${(await f.body)!.startsWith(hint)}`).toBe(`${url}: false`);
  for (const [url, f] of onUse) expect(`${url}: ${(await f.body)!.startsWith(hint)}`).toBe(`${url}: true`);
});
