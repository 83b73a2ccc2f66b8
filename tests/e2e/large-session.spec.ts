/**
 * Issue 6, large documents: a session with a long transcript and a heavy drawing (about 5 MB
 * together) reaches a late joiner completely, and the page says how much has arrived while it does.
 * (How long it takes is a benchmark figure, `npm run bench`, not asserted here.)
 */
import { expect, expectEveryoneSees, expectLive, joinWithHandle, openJoinUs, reserveHandle, signInAgent, startSession, test, transcript, uid } from './support/app';
import { strokes } from './support/collab';
import { addToLocalCopy, largeSession, pageSigner, recordStatusTexts, statusTexts } from './support/large-session';

test('[C1][C5] a late joiner gets a 5 MB session (long transcript, heavy drawing) completely, with progress shown', async ({ open }) => {
  test.slow();
  const tag = uid();
  const customerName = `Iris ${tag}`;
  const agent = await open('agent');
  const customer = await open('customer');
  await signInAgent(agent, 'yara');
  await startSession(agent, customer, customerName);
  const sessionId = new URL(customer.url()).pathname.split('/').at(-1)!;

  // The customer's own copy holds a long session; after a reload the mesh carries it to the agent.
  const seed = await largeSession(await pageSigner(customer, sessionId));
  expect(seed.update.byteLength).toBeGreaterThan(4.5e6);
  await addToLocalCopy(customer, sessionId, seed.update);
  await customer.reload();
  await expectLive(customer);
  await expectEveryoneSees([customer, agent], ['The end of the seeded history.']);
  await expect(strokes(agent)).toHaveCount(seed.strokes);

  // A late joiner receives all of it, and is told how much has come while it comes.
  const guest = await open('guest');
  await recordStatusTexts(guest);
  await openJoinUs(agent);
  await joinWithHandle(guest, 'Gia', await reserveHandle(agent, `gia-${tag}`));
  await expect(transcript(guest)).toContainText('The end of the seeded history.', { timeout: 60_000 });
  await expect(transcript(guest)).toContainText(seed.lastMessage);
  await expect(strokes(guest)).toHaveCount(seed.strokes);
  // The earliest entries are a click away rather than all in the page at once.
  const earlier = transcript(guest).getByRole('button', { name: /^Show 150 earlier entries/ });
  await expect(earlier).toBeVisible();
  await earlier.click();
  await expect(transcript(guest).getByRole('button', { name: /^Show \d+ earlier entries/ })).toBeVisible();
  const seen = await statusTexts(guest);
  expect(seen.some((t) => /receiving the session, \d+\.\d MB so far/.test(t)), seen.join(' | ')).toBe(true);
});
