/**
 * A hostile peer (docs/threat-model.md, decision 0010): a joined party whose page writes raw frames on
 * its data channels. Mallory cannot reach the customer directly (the two never connect), so whatever
 * she sends the customer gets only as the agent's page passes it on: forwarded, as the issue asks.
 * Her forgeries, unauthorised agent actions, replays and deletes change nothing anyone sees, and
 * garbage (a deflated bomb too) crashes no page; a genuine line of hers sent after them arrives, so they did arrive too.
 */
import {
  expect,
  expectEveryoneSees,
  joinWithHandle,
  openJoinUs,
  reserveHandle,
  say,
  signInAgent,
  startSession,
  test,
  transcript,
  uid,
  connectionStatus,
} from './support/app';
import { expectFramed, formsRegion, openPushPage, pushedPage, sharedForm, startSite, strokes, typeAndPush, type Site } from './support/collab';
import { deflatedFrames } from '../../lib/p2p/framing';
import { awarenessMessage, catchChannels, closedChannels, hostileKit, openChannels, sendRaw, updateMessage } from './support/hostile';
import { SignalingRoutes } from './support/network';
import { newId } from '../../lib/collab/ids';
import { signedPart, type SystemEvent } from '../../features/transcript/doc';

let site: Site;
test.beforeAll(async () => {
  site = await startSite();
});
test.afterAll(async () => {
  await site?.close();
});

test('[C1][C3][C4][C5] hostile peer: forged, replayed and unauthorised records and deletes sent as raw frames change nothing, even forwarded; garbage crashes no page', async ({ open }) => {
  const tag = uid();
  const customerName = `Iris ${tag}`;
  const routes = new SignalingRoutes();
  routes.block('mallory', 'customer');
  const agent = await open('agent');
  const customer = await open('customer');
  const mallory = await open('mallory');
  await routes.route(agent.context(), 'agent');
  await routes.route(mallory.context(), 'mallory');
  await routes.route(customer.context(), 'customer');
  await catchChannels(mallory.context());

  await signInAgent(agent, 'dee');
  await startSession(agent, customer, customerName);
  const sessionId = new URL(customer.url()).pathname.split('/').at(-1)!;
  // The agent pushes two pages (the second is current) and says something.
  await openPushPage(agent);
  await typeAndPush(agent, site.url('/open/First%20page'));
  await expectFramed(customer, 'First page');
  await typeAndPush(agent, site.url('/open/Second%20page'));
  await expectFramed(customer, 'Second page');
  const real = `Dee: your refund is 10 EUR (${tag})`;
  await say(agent, real);
  await openJoinUs(agent);
  await joinWithHandle(mallory, 'Mallory', await reserveHandle(agent, `mallory-${tag}`));
  await expect(connectionStatus(mallory)).toHaveText(/^Connected to 2 of 2 participants · 1 through others/);
  await expectEveryoneSees([mallory], [real]);

  const kit = await hostileKit(mallory, sessionId);
  const { agent: agentId, self } = kit.ids;
  const transcriptRecords = kit.doc.getArray<Record<string, unknown>>('transcript');
  const pushes = kit.doc.getArray<Record<string, unknown>>('pages').toArray();
  const genuineEntry = transcriptRecords.toArray().find((e) => e.text === real)!;
  const firstPush = pushes.find((p) => String(p.url).includes('First'))!;
  expect(genuineEntry.by).toBe(agentId);

  // Signed with Mallory's own key, as the modified page would.
  const entry = async (by: string, text: string, kind: 'chat' | 'system' = 'chat', event?: string) => {
    const e = { id: newId(), kind, at: Date.now(), by, text, ...(event ? { event: event as SystemEvent } : {}) };
    return { ...e, sig: await kit.signer.sign(signedPart(e)) };
  };
  const forged = [
    // A chat line in the agent's name (Mallory's signature is not the agent's).
    await entry(agentId, `FORGED: the agent says pay to IBAN XX00 (${tag})`),
    // The agent's genuine line, copied with its words changed.
    { ...genuineEntry, id: newId(), text: `Dee: your refund is 0 EUR (${tag})` },
    { ...genuineEntry, text: `Dee: your refund is 0 EUR (${tag})` },
    // Agent-only system lines and arrivals of others, in her own name.
    await entry(self, `Dee ended the session (${tag} FORGED)`, 'system', 'session_ended'),
    await entry(self, `Dee pushed a page: https://evil.example/ (${tag} FORGED)`, 'system', 'page_pushed'),
  ];
  const evilPush = { id: newId(), url: 'https://evil.example/', at: Date.now(), seq: 1_000_000, framing: 'allowed', by: self };
  const evilPushSigned = { ...evilPush, sig: await kit.signer.sign(['push', evilPush.id, evilPush.url, evilPush.at, evilPush.seq, evilPush.framing]) };
  const share = { kind: 'shared', id: newId(), instanceId: newId(), formId: 'contact', title: 'Contact details', at: Date.now(), by: self };
  const shareSigned = { ...share, sig: await kit.signer.sign(['form-shared', share.id, share.instanceId, share.formId, share.title, share.at]) };
  // A stroke of her own (allowed), then a clear of the drawing (the agent's alone).
  const pts = [1000, 1000, 9000, 6000];
  const colour = '#1a8a4a';
  const stroke = { t: 'stroke', id: newId(), by: self, colour, width: 60, pts, at: Date.now() };
  const strokeSigned = { ...stroke, sig: await kit.signer.sign(['stroke', stroke.id, stroke.colour, stroke.width, stroke.pts, stroke.at]) };
  const upTo: [string, number][] = [[self, Number.MAX_SAFE_INTEGER]];
  const clear = { t: 'clear', id: newId(), upTo, by: self };
  const clearSigned = { ...clear, sig: await kit.signer.sign(['clear', clear.id, clear.upTo]) };
  const clearAsAgent = { ...clear, id: newId(), by: agentId, sig: clearSigned.sig };
  const control = await entry(self, `Mallory: control line ${tag}`);

  const updates = [
    kit.craft((d) => d.getArray('transcript').push(forged)),
    kit.craft((d) => d.getArray('pages').push([evilPushSigned, { ...firstPush }])),
    kit.craft((d) => d.getArray('pages').insert(0, [{ ...firstPush, seq: 99 }])),
    kit.craft((d) => d.getArray('form-events').push([shareSigned])),
    kit.craft((d) => d.getArray('strokes').push([strokeSigned])),
    kit.craft((d) => d.getArray('strokes').push([clearSigned, clearAsAgent])),
    kit.craft((d) => d.getArray('transcript').push([control])),
  ];
  // Mallory reaches the customer only through the agent (her channels all go to the agent).
  await expect(connectionStatus(customer)).toHaveText(/^Connected to 2 of 2 participants · 1 through others/);
  expect(await sendRaw(mallory, updates.map(updateMessage))).toBeGreaterThan(0);

  // Her genuine line arrives everywhere, through the agent for the customer: so did all before it.
  await expectEveryoneSees([agent, customer], [`Mallory: control line ${tag}`]);
  await expect(strokes(customer)).toHaveCount(1);
  for (const page of [agent, customer]) {
    await expect(transcript(page)).not.toContainText('FORGED');
    await expect(transcript(page)).not.toContainText('refund is 0 EUR');
    await expect(transcript(page).getByText(real)).toHaveCount(1);
    await expectFramed(page, 'Second page');
    await expect(pushedPage(page).getByText('evil.example')).toHaveCount(0);
    await expect(sharedForm(page)).toHaveCount(0);
    await expect(formsRegion(page)).not.toContainText('Contact details');
    await expect(strokes(page)).toHaveCount(1);
  }

  // Presence: a state claiming to be the agent, typing, under a client id of Mallory's making (with
  // the agent's peer id, which the customer reaches: without the signature check it would show it).
  const [agentPeer] = routes.peersOf('agent');
  expect(agentPeer).toBeTruthy();
  const forgedPresence = { participantId: agentId, presenceSig: 'A'.repeat(86), typing: true, mesh: { peerId: agentPeer, links: [] } };
  await sendRaw(mallory, [awarenessMessage([{ clientId: 424242, clock: 1, state: forgedPresence }])]);
  // A delete of the agent's line: refused by the agent's page (and never passed on), which cuts her off.
  const deleteReal = kit.craft((d) => {
    const arr = d.getArray<Record<string, unknown>>('transcript');
    const at = arr.toArray().findIndex((e) => e.text === real);
    arr.delete(at, 1);
  });
  const closedBefore = await closedChannels(mallory);
  await sendRaw(mallory, [updateMessage(deleteReal)]);
  await expect.poll(() => closedChannels(mallory)).toBeGreaterThan(closedBefore);
  for (const page of [agent, customer]) {
    await expect(transcript(page).getByText(real)).toHaveCount(1);
    await expect(page.getByText(/dee is typing/)).toHaveCount(0);
  }

  // She comes back (her page dials again) and sends garbage: malformed frames and messages.
  await expect.poll(() => openChannels(mallory), { timeout: 30_000 }).toBeGreaterThan(0);
  const garbage: Uint8Array[] = [
    Uint8Array.of(7, 1, 2, 3), // not a frame flag
    Uint8Array.of(0, 9), // unknown message type
    Uint8Array.of(0, 0, 2, 200, 200, 200, 200, 200), // a length far past the message
    Uint8Array.of(0, 0, 2, 5, 1, 2, 3, 4, 5), // a Yjs update that is not one
    Uint8Array.of(0, 1, 3, 1, 2, 3), // awareness that is not
    Uint8Array.of(0, 0, 9), // unknown sync step
  ];
  const closedBeforeGarbage = await closedChannels(mallory);
  await sendRaw(mallory, garbage, { framed: false });
  await sendRaw(mallory, [awarenessMessage([{ clientId: 7, clock: 1, state: '{{{' }])]);
  await expect.poll(() => closedChannels(mallory)).toBeGreaterThan(closedBeforeGarbage);

  // Back once more, she sends a deflated message that would inflate past the cap: 100 MB of zeros in
  // about 100 KB. The browser's own inflater (decision 0018) stops at the cap and cuts her off.
  await expect.poll(() => openChannels(mallory), { timeout: 30_000 }).toBeGreaterThan(0);
  const closedBeforeBomb = await closedChannels(mallory);
  const bomb = [...deflatedFrames(new Uint8Array(100 << 20), 16 * 1024)];
  expect(bomb.reduce((n, f) => n + f.byteLength, 0)).toBeLessThan(200_000);
  await sendRaw(mallory, bomb, { framed: false });
  await expect.poll(() => closedChannels(mallory)).toBeGreaterThan(closedBeforeBomb);

  // Nobody's page broke (the fixture fails the test on any uncaught exception): the session goes on.
  await say(agent, `Dee: still here (${tag})`);
  await say(customer, `${customerName}: me too`);
  await expectEveryoneSees([agent, customer], [`Dee: still here (${tag})`, `${customerName}: me too`]);
  await expect(transcript(agent).getByText(real)).toHaveCount(1);
  expect(routes.dropped, 'the block between Mallory and the customer dropped their signals').toBeGreaterThan(0);
});
