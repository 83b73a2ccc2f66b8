import { beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  appendEntry,
  appendOnce,
  dedupe,
  joinedText,
  readTranscript,
  transcriptJson,
  transcriptOf,
  transcriptText,
} from '../../features/transcript/doc';
import { withoutKeys } from '../../features/participants/doc';
import { Authorship, signedMessage } from '../../lib/collab/authorship';
import { describeEndReason } from '../../lib/protocol';
import { makeParties, settledRead, type TestParty } from '../support/authors';

let n = 0;
const id = () => `id-${++n}`;

function sync(a: Y.Doc, b: Y.Doc) {
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
  Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)));
}

let agent: TestParty;
let customer: TestParty;
let guest: TestParty;
let viewer: () => Authorship;

beforeAll(async () => {
  const made = await makeParties('s1', [
    { participantId: 'agent-1', name: 'Dana', role: 'agent' },
    { participantId: 'customer-1', name: 'Alice', role: 'customer' },
    { participantId: 'guest-1', name: 'Carol', role: 'guest' },
  ]);
  [agent, customer, guest] = made.parties as [TestParty, TestParty, TestParty];
  viewer = made.viewer;
});

const read = (d: Y.Doc, auth = viewer()) => settledRead(auth, () => readTranscript(d, auth));
const texts = async (d: Y.Doc, auth = viewer()) => (await read(d, auth)).map((e) => e.text);
/** What a hostile page can put in the array: anything at all. */
const raw = (d: Y.Doc, entry: unknown) => transcriptOf(d).push([entry as never]);

describe('the shared session document: transcript', () => {
  it('[C1] a late joiner sees the whole transcript, in order, names and roles from the directory', async () => {
    const a = new Y.Doc();
    await appendEntry(a, agent.signer, { kind: 'chat', text: 'first' }, 1, id);
    await appendEntry(a, agent.signer, { kind: 'system', text: 'Handle x reserved', event: 'handle_reserved' }, 2, id);
    await appendEntry(a, customer.signer, { kind: 'chat', text: 'second' }, 3, id);
    const late = new Y.Doc();
    sync(a, late);
    const entries = await read(late);
    expect(entries.map((e) => e.text)).toEqual(['first', 'Handle x reserved', 'second']);
    expect(entries.map((e) => [e.authorName, e.role])).toEqual([
      ['Dana', 'agent'],
      ['Dana', 'agent'],
      ['Alice', 'customer'],
    ]);
  });

  it('[C1] drops entries a hostile peer wrote in the wrong shape, and over-long text', async () => {
    const d = new Y.Doc();
    await appendEntry(d, agent.signer, { kind: 'chat', text: 'ok' }, 1, id);
    const good = transcriptOf(d).get(0);
    raw(d, { id: 'x', kind: 'chat', at: 'yesterday' });
    raw(d, { ...good, id: 'y', text: 'z'.repeat(4001) });
    raw(d, '<script>');
    raw(d, null);
    raw(d, [1, 2, 3]);
    raw(d, { ...good, sig: 5 });
    expect(await texts(d)).toEqual(['ok']);
  });

  it('[C1] drops entries whose time no date can show (a hostile 1e300 would crash every page)', async () => {
    const d = new Y.Doc();
    await appendEntry(d, agent.signer, { kind: 'chat', text: 'ok' }, 1, id);
    const good = transcriptOf(d).get(0);
    for (const at of [1e300, -1, 1.5, Number.NaN]) raw(d, { ...good, id: `t${at}`, at });
    const entries = await read(d);
    expect(entries.map((e) => e.at)).toEqual([1]);
    expect(() => transcriptText({ title: 't' }, entries)).not.toThrow();
  });

  it('[C1] caps chat text at 4,000 characters when written', async () => {
    const d = new Y.Doc();
    await appendEntry(d, agent.signer, { kind: 'chat', text: 'a'.repeat(5000) }, 1, id);
    expect((await read(d))[0]!.text).toHaveLength(4000);
  });

  it('[C1] an entry appended once by two peers at the same time is shown once', async () => {
    const a = new Y.Doc();
    const b = new Y.Doc();
    const once = { kind: 'system' as const, event: 'joined' as const, id: 'joined-guest-1', text: joinedText('Carol', 'guest') };
    await appendOnce(a, guest.auth, guest.signer, once, 1);
    await appendOnce(b, guest.auth, guest.signer, once, 1);
    sync(a, b);
    expect(await read(a)).toHaveLength(2);
    expect(dedupe(await read(a))).toHaveLength(1);
    await appendOnce(a, guest.auth, guest.signer, once, 2);
    expect(transcriptOf(a).length).toBe(2);
  });

  it('[C6] exports the transcript as text and, for the agent, as JSON', async () => {
    const d = new Y.Doc();
    await appendEntry(d, agent.signer, { kind: 'chat', text: 'Hello there' }, Date.UTC(2026, 10, 24, 9, 30), id);
    await appendEntry(d, guest.signer, { kind: 'system', text: joinedText('Carol', 'guest'), event: 'joined' }, Date.UTC(2026, 10, 24, 9, 31), () => 'joined-guest-1');
    const auth = viewer();
    const entries = await read(d, auth);
    const text = transcriptText({ title: 'session with Alice', endedNote: 'The session has ended.' }, entries);
    expect(text).toContain('Join Us transcript: session with Alice');
    expect(text).toContain('[2026-11-24 09:30:00 UTC] Dana (Agent): Hello there');
    expect(text).toContain('[2026-11-24 09:31:00 UTC] * Carol joined the session with a handle');
    expect(text.trimEnd().endsWith('* The session has ended.')).toBe(true);
    const json = JSON.parse(transcriptJson({ sessionId: 's1', title: 't' }, entries, withoutKeys(auth.list())));
    expect(json.sessionId).toBe('s1');
    expect(json.entries.map((e: { text: string }) => e.text)).toEqual(['Hello there', 'Carol joined the session with a handle']);
    expect(json.participants.map((p: { name: string }) => p.name)).toEqual(['Dana', 'Alice', 'Carol']);
    expect(json.participants[0].keys).toBeUndefined();
  });
});

describe('[C1] hostile peer: who wrote an entry is proven, not claimed', () => {
  it("[C1] an entry naming another participant as its writer, signed with the forger's key, is not shown", async () => {
    const d = new Y.Doc();
    const forged = { id: 'f1', kind: 'chat', at: 5, by: 'agent-1', text: 'Please read me your card number' };
    // The guest signs a message that claims to be the agent's: its signature is not the agent's.
    const sig = await guest.signer.sign(['entry', forged.id, forged.kind, forged.at, forged.text, null]);
    raw(d, { ...forged, sig });
    expect(await read(d)).toEqual([]);
  });

  it('[C1] rewriting the text of a signed entry (a copy with the same id and signature) is not shown', async () => {
    const d = new Y.Doc();
    await appendEntry(d, agent.signer, { kind: 'chat', text: 'Your refund is 10 EUR' }, 1, () => 'm1');
    const good = transcriptOf(d).get(0) as unknown as Record<string, unknown>;
    const late = new Y.Doc();
    raw(late, { ...good, text: 'Your refund is 0 EUR' });
    raw(late, { ...good, at: 2 });
    raw(late, { ...good, kind: 'system', event: 'session_ended' });
    sync(d, late);
    expect(dedupe(await read(late)).map((e) => e.text)).toEqual(['Your refund is 10 EUR']);
  });

  it('[C1] an entry signed for another session does not verify here', async () => {
    const other = await makeParties('s2', [{ participantId: 'agent-1', name: 'Dana', role: 'agent' }]);
    const d = new Y.Doc();
    await appendEntry(d, other.parties[0]!.signer, { kind: 'chat', text: 'from elsewhere' }, 1, id);
    expect(await read(d)).toEqual([]);
  });

  it('[C1] a participant the server never admitted is not shown; one whose key comes later is, once it comes', async () => {
    const later = await makeParties('s1', [{ participantId: 'guest-9', name: 'Zoe', role: 'guest' }]);
    const d = new Y.Doc();
    await appendEntry(d, later.parties[0]!.signer, { kind: 'chat', text: 'hello from a newcomer' }, 1, id);
    const auth = viewer();
    expect(await read(d, auth)).toEqual([]);
    auth.addEntry(later.directory[0]!);
    expect((await read(d, auth)).map((e) => [e.text, e.authorName])).toEqual([['hello from a newcomer', 'Zoe']]);
  });

  it("[C1] system lines: a joined party cannot record an agent's action, another's arrival, or words of its own", async () => {
    const d = new Y.Doc();
    await appendEntry(d, guest.signer, { kind: 'system', event: 'page_pushed', text: 'Dana pushed a page: https://evil.example' }, 1, id);
    await appendEntry(d, guest.signer, { kind: 'system', event: 'session_ended', text: 'The agent ended the session.' }, 2, id);
    await appendEntry(d, guest.signer, { kind: 'system', event: 'joined', text: 'Dana joined as agent' }, 3, id);
    await appendEntry(d, guest.signer, { kind: 'system', event: 'removed', text: 'Dana removed Alice from the session' }, 4, id);
    await appendEntry(d, customer.signer, { kind: 'system', event: 'form_submitted', text: 'Dana submitted the form' }, 5, id);
    expect(await read(d)).toEqual([]);
    // The agent's words for the end, from the customer: not while only the agent can know them.
    await appendEntry(d, customer.signer, { kind: 'system', event: 'session_ended', text: describeEndReason('ended_by_agent') }, 6, () => 'session-ended');
    // Under a random id, lines that belong under a fixed one do not count.
    await appendEntry(d, guest.signer, { kind: 'system', event: 'joined', text: joinedText('Carol', 'guest') }, 6, id);
    expect(await read(d)).toEqual([]);
    await appendEntry(d, guest.signer, { kind: 'system', event: 'joined', text: joinedText('Carol', 'guest') }, 6, () => 'joined-guest-1');
    await appendEntry(d, customer.signer, { kind: 'system', event: 'session_ended', text: describeEndReason('agent_disconnected') }, 7, () => 'session-ended');
    await appendEntry(d, agent.signer, { kind: 'system', event: 'page_pushed', text: 'Dana pushed a page: https://example.com/' }, 8, id);
    expect(await texts(d)).toEqual([
      'Carol joined the session with a handle',
      describeEndReason('agent_disconnected'),
      'Dana pushed a page: https://example.com/',
    ]);
  });

  it("[C1] a line of one's own under another's id, or under an id reserved for another event, hides nothing and blocks nothing", async () => {
    const d = new Y.Doc();
    await appendEntry(d, agent.signer, { kind: 'chat', text: 'The refund is approved' }, 1, () => 'msg-1');
    // The guest's own, validly signed line under the agent's id, put first.
    const guestLine = await appendEntry(new Y.Doc(), guest.signer, { kind: 'chat', text: 'hi' }, 2, () => 'msg-1');
    raw(d, guestLine);
    transcriptOf(d).insert(0, [{ ...guestLine }]);
    expect(dedupe(await read(d)).map((e) => `${e.authorName}: ${e.text}`).sort()).toEqual(['Carol: hi', 'Dana: The refund is approved']);
    // The guest's valid "joined" line under the id of the agent's "removed" record for the customer.
    const squat = await appendEntry(new Y.Doc(), guest.signer, { kind: 'system', event: 'joined', text: joinedText('Carol', 'guest') }, 3, () => 'removed-customer-1');
    raw(d, squat);
    await appendOnce(d, agent.auth, agent.signer, { kind: 'system', event: 'removed', id: 'removed-customer-1', text: 'Dana removed Alice from the session' }, 4);
    expect((await read(d)).filter((e) => e.id === 'removed-customer-1').map((e) => e.text)).toEqual(['Dana removed Alice from the session']);
    // A guest's "left" for someone else, or a "removed" at all: not shown.
    raw(d, await appendEntry(new Y.Doc(), guest.signer, { kind: 'system', event: 'left', text: 'Carol left the session' }, 5, () => 'left-customer-1'));
    expect((await read(d)).some((e) => e.id === 'left-customer-1')).toBe(false);
  });

  it('[C1] a forgery under a fixed id blocks nobody: the true entry is still written and shown', async () => {
    const d = new Y.Doc();
    raw(d, { id: 'session-ended', kind: 'system', at: 1, by: 'agent-1', text: 'Dana ended the session', event: 'session_ended', sig: 'A'.repeat(86) });
    await appendOnce(d, agent.auth, agent.signer, { kind: 'system', event: 'session_ended', id: 'session-ended', text: 'Dana ended the session' }, 2);
    expect((await read(d)).map((e) => [e.id, e.at])).toEqual([['session-ended', 2]]);
  });

  it('the signed bytes name the session and the writer first', () => {
    expect(signedMessage('s1', 'agent-1', ['entry', 'x'])).toBe('["s1","agent-1","entry","x"]');
  });
});
