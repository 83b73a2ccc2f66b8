/**
 * lib/client/connection-state.ts: what the connection status says in every state (issue 5, "honest
 * connection state"): never "connected" while nothing can move.
 */
import { describe, expect, it } from 'vitest';
import { describeConnection, othersFrom, presenceOf, type ConnectionInput, type OtherParticipant } from '../../lib/client/connection-state';

const other = (name: string, link: OtherParticipant['link'], failure: OtherParticipant['failure'] = null): OtherParticipant => ({
  participantId: `p-${name}`,
  name,
  link,
  failure,
});

const base: ConnectionInput = { phase: 'live', signaling: true, online: true, others: [], synced: true, waiting: 0 };
const say = (patch: Partial<ConnectionInput>) => describeConnection({ ...base, ...patch });

describe('describeConnection', () => {
  it('connecting, then connected to everyone', () => {
    expect(say({ phase: 'connecting' })).toEqual({ tone: 'warn', text: 'Connecting…', detail: '' });
    expect(say({ others: [other('Ann', 'direct'), other('Bo', 'direct')] })).toEqual({
      tone: 'ok',
      text: 'Connected to 2 of 2 participants',
      detail: '',
    });
    expect(say({ others: [other('Ann', 'direct')] }).text).toBe('Connected to 1 of 1 participant');
  });

  it('[C1] a large session still arriving shows how much has come, not a frozen "syncing"', () => {
    const others = [other('Ann', 'direct')];
    expect(say({ others, synced: false }).text).toBe('Connected to 1 of 1 participant · syncing…');
    expect(say({ others, synced: false, receivingBytes: 2_621_440 }).text).toBe('Connected to 1 of 1 participant · receiving the session, 2.6 MB so far…');
    expect(say({ others, synced: true, receivingBytes: 0 }).text).toBe('Connected to 1 of 1 participant');
  });

  it('[C9] says who is reached only through others', () => {
    expect(say({ others: [other('Ann', 'direct'), other('Bo', 'relayed')] })).toMatchObject({
      tone: 'ok',
      text: 'Connected to 2 of 2 participants · 1 through others',
    });
  });

  it('names who is not reached yet, and who could not be reached', () => {
    expect(say({ others: [other('Ann', 'direct'), other('Bo', 'connecting')] })).toEqual({
      tone: 'warn',
      text: 'Connected to 1 of 2 participants',
      detail: 'Connecting to Bo…',
    });
    expect(say({ others: [other('Ann', 'direct'), other('Bo', 'failed', 'timeout'), other('Cy', 'failed', 'unreachable')] }).detail).toBe(
      "Can't reach Bo and Cy yet; trying again.",
    );
  });

  it('never says connected when nobody is reached', () => {
    expect(say({ others: [other('Ann', 'connecting')] })).toMatchObject({ tone: 'warn', text: 'Connecting to 1 participant…' });
    expect(say({ others: [other('Ann', 'failed', 'unreachable')] })).toMatchObject({
      tone: 'bad',
      text: 'Cannot connect to the other participants',
    });
  });

  it('[TURN] a relay that refuses is named, with what to do', () => {
    const v = say({ others: [other('Ann', 'failed', 'relay')] });
    expect(v.tone).toBe('bad');
    expect(v.text).toBe('Cannot connect to the other participants');
    expect(v.detail).toMatch(/^The relay server \(TURN\) refused the connection/);
  });

  it('signaling down: still connected over the data channels, or reconnecting with nothing lost', () => {
    expect(say({ signaling: false, phase: 'reconnecting', others: [other('Ann', 'direct'), other('Bo', 'relayed')] })).toMatchObject({
      tone: 'warn',
      text: 'Reconnecting to the service · still connected to 2 of 2 participants',
    });
    expect(say({ signaling: false, phase: 'reconnecting', others: [other('Ann', 'failed', 'timeout')] })).toEqual({
      tone: 'warn',
      text: 'Reconnecting to the service…',
      detail: 'What you type is kept and sent when you are back.',
    });
  });

  it('offline wins over everything but the end, and counts what waits', () => {
    expect(say({ online: false, others: [other('Ann', 'direct')], waiting: 2 })).toEqual({
      tone: 'bad',
      text: 'Offline',
      detail: 'Your device has no network. What you type is kept and sent when you are back. 2 messages waiting to be sent.',
    });
    expect(say({ online: false, phase: 'ended' }).text).toBe('Session ended');
  });

  it('syncing is shown while the first sync has not arrived', () => {
    expect(say({ synced: false, others: [other('Ann', 'direct')] }).text).toBe('Connected to 1 of 1 participant · syncing…');
  });

  it('alone in the session, and the ends', () => {
    expect(say({})).toEqual({ tone: 'ok', text: 'Connected', detail: 'Nobody else is connected right now.' });
    expect(say({ phase: 'ended' }).text).toBe('Session ended');
    expect(say({ phase: 'left' }).text).toBe('Not in the session');
    expect(say({ phase: 'removed' }).text).toBe('Not in the session');
    expect(say({ phase: 'refused' }).text).toBe('Not connected');
  });
});

describe('othersFrom', () => {
  it('groups tabs by participant with the best link, leaves ourselves out, names from the document', () => {
    const names = new Map([
      ['p-ann', 'Ann'],
      ['p-me', 'Me'],
    ]);
    const got = othersFrom(
      [
        { peerId: 'a1', participantId: 'p-ann', link: 'failed', failure: 'timeout', answered: false },
        { peerId: 'a2', participantId: 'p-ann', link: 'relayed', failure: null, answered: false },
        { peerId: 'm2', participantId: 'p-me', link: 'direct', failure: null, answered: true },
        { peerId: 'x', participantId: null, link: 'connecting', failure: null, answered: false },
        { peerId: 'b1', participantId: 'p-bo', link: 'connecting', failure: null, answered: false },
      ],
      'p-me',
      (id) => names.get(id),
    );
    expect(got).toEqual([
      { participantId: 'p-ann', name: 'Ann', link: 'relayed', failure: null },
      { participantId: 'p-bo', name: 'a participant', link: 'connecting', failure: null },
    ]);
  });
});

describe('presenceOf', () => {
  const me = { isMe: true, live: true, deviceOnline: true, reached: false };
  const them = { isMe: false, live: true, deviceOnline: true, reached: true };
  it('[C2] online when reached directly or through others, offline when not', () => {
    expect(presenceOf(them)).toBe('online');
    expect(presenceOf({ ...them, reached: false })).toBe('offline');
    expect(presenceOf(me)).toBe('online');
  });
  it('[C9] our device offline: we read offline and the others unknown, never offline on our guess', () => {
    expect(presenceOf({ ...me, deviceOnline: false })).toBe('offline');
    expect(presenceOf({ ...them, deviceOnline: false, reached: false })).toBe('unknown');
  });
  it('[S5] left and removed win; out of the session nobody is unknown', () => {
    expect(presenceOf({ ...them, gone: 'left' })).toBe('left');
    expect(presenceOf({ ...me, gone: 'removed' })).toBe('removed');
    expect(presenceOf({ ...me, live: false })).toBe('offline');
    expect(presenceOf({ ...them, live: false, deviceOnline: false, reached: false })).toBe('offline');
  });
});
