import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { appendEntry, appendOnce, dedupe, readTranscript, transcriptJson, transcriptOf, transcriptText } from '../../features/transcript/doc';
import { markParticipantGone, participantsOf, readParticipants, registerParticipant } from '../../features/participants/doc';

const agent = { participantId: 'agent-1', name: 'Dana', role: 'agent' as const };
const guest = { participantId: 'guest-1', name: 'Carol', role: 'guest' as const };
let n = 0;
const id = () => `id-${++n}`;

function sync(a: Y.Doc, b: Y.Doc) {
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
  Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)));
}

describe('the shared session document', () => {
  it('[C1] a late joiner sees the whole transcript, in order', () => {
    const a = new Y.Doc();
    appendEntry(a, agent, { kind: 'chat', text: 'first' }, 1, id);
    appendEntry(a, agent, { kind: 'system', text: 'Handle x reserved', event: 'handle_reserved' }, 2, id);
    appendEntry(a, agent, { kind: 'chat', text: 'second' }, 3, id);
    const late = new Y.Doc();
    sync(a, late);
    expect(readTranscript(late).map((e) => e.text)).toEqual(['first', 'Handle x reserved', 'second']);
  });

  it('[C1] drops entries a hostile peer wrote in the wrong shape, and over-long text', () => {
    const d = new Y.Doc();
    appendEntry(d, agent, { kind: 'chat', text: 'ok' }, 1, id);
    transcriptOf(d).push([{ id: 'x', kind: 'chat', at: 'yesterday' } as never]);
    transcriptOf(d).push([{ ...readTranscript(d)[0]!, id: 'y', text: 'z'.repeat(4001) }]);
    transcriptOf(d).push(['<script>' as never]);
    expect(readTranscript(d).map((e) => e.text)).toEqual(['ok']);
  });

  it('[C1] drops entries whose time no date can show (a hostile 1e300 would crash every page)', () => {
    const d = new Y.Doc();
    appendEntry(d, agent, { kind: 'chat', text: 'ok' }, 1, id);
    for (const at of [1e300, -1, 1.5, Number.NaN]) transcriptOf(d).push([{ ...readTranscript(d)[0]!, id: `t${at}`, at }]);
    participantsOf(d).set('p', { name: 'x', role: 'guest', joinedAt: 1e300 });
    expect(readTranscript(d).map((e) => e.at)).toEqual([1]);
    expect(readParticipants(d)).toEqual([]);
    expect(() => transcriptText({ title: 't' }, readTranscript(d))).not.toThrow();
  });

  it('[C1] caps chat text at 4,000 characters when written', () => {
    const d = new Y.Doc();
    appendEntry(d, agent, { kind: 'chat', text: 'a'.repeat(5000) }, 1, id);
    expect(readTranscript(d)[0]!.text).toHaveLength(4000);
  });

  it('[C1] an entry appended once by two peers at the same time is shown once', () => {
    const a = new Y.Doc();
    const b = new Y.Doc();
    appendOnce(a, guest, { kind: 'system', event: 'joined', id: 'joined-guest-1', text: 'Carol joined' }, 1);
    appendOnce(b, guest, { kind: 'system', event: 'joined', id: 'joined-guest-1', text: 'Carol joined' }, 1);
    sync(a, b);
    expect(readTranscript(a)).toHaveLength(2);
    expect(dedupe(readTranscript(a))).toHaveLength(1);
    appendOnce(a, guest, { kind: 'system', event: 'joined', id: 'joined-guest-1', text: 'Carol joined' }, 2);
    expect(readTranscript(a)).toHaveLength(2);
  });

  it('[C2] keeps the participant list, with who left or was removed', () => {
    const d = new Y.Doc();
    registerParticipant(d, agent, 1);
    registerParticipant(d, guest, 2);
    registerParticipant(d, { ...guest, name: 'Mallory' }, 3);
    markParticipantGone(d, 'guest-1', 'removed');
    participantsOf(d).set('bogus', { name: 5 } as never);
    expect(readParticipants(d)).toEqual([
      { participantId: 'agent-1', name: 'Dana', role: 'agent', joinedAt: 1 },
      { participantId: 'guest-1', name: 'Carol', role: 'guest', joinedAt: 2, gone: 'removed' },
    ]);
  });

  it('[C6] exports the transcript as text and, for the agent, as JSON', () => {
    const d = new Y.Doc();
    registerParticipant(d, agent, 1);
    appendEntry(d, agent, { kind: 'chat', text: 'Hello there' }, Date.UTC(2026, 10, 24, 9, 30), id);
    appendEntry(d, guest, { kind: 'system', text: 'Carol joined the session', event: 'joined' }, Date.UTC(2026, 10, 24, 9, 31), id);
    const text = transcriptText({ title: 'session with Alice', endedNote: 'The session has ended.' }, readTranscript(d));
    expect(text).toContain('Join Us transcript: session with Alice');
    expect(text).toContain('[2026-11-24 09:30:00 UTC] Dana (Agent): Hello there');
    expect(text).toContain('[2026-11-24 09:31:00 UTC] * Carol joined the session');
    expect(text.trimEnd().endsWith('* The session has ended.')).toBe(true);
    const json = JSON.parse(transcriptJson({ sessionId: 's1', title: 't' }, readTranscript(d), readParticipants(d)));
    expect(json.sessionId).toBe('s1');
    expect(json.entries.map((e: { text: string }) => e.text)).toEqual(['Hello there', 'Carol joined the session']);
    expect(json.participants[0].name).toBe('Dana');
  });
});
