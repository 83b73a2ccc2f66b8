/** The handle rules H1–H9 through JoinUsCore, with a fake clock, scripted randomness and the memory store. */
import { describe, expect, it } from 'vitest';
import { ErrorReason, Messages } from '../../lib/protocol';
import { suggestHandle } from '../../signaling/core/handles';
import { WORDS } from '../../signaling/core/words';
import {
  effectsOf,
  inviteGuest,
  makeHarness,
  openSession,
  refusal,
  ScriptedRandom,
  unwrap,
  type Harness,
} from './helpers';

const MINUTE = 60_000;

/** The exact answer H8 demands for every unusable handle. */
const UNUSABLE = { ok: false, error: { reason: ErrorReason.handleUnusable, message: Messages.handleUnusable } };

const u32 = (v: number): number[] => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];

async function isFree(h: Harness, handle: string): Promise<boolean> {
  return (await h.store.getHandle(handle, h.clock.now())) === null;
}

describe('H1 reserving a handle: normalisation and refusals', () => {
  it('[H1] stores the handle trimmed and lower-case, and any spelling of it logs in', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const reserved = unwrap(await h.core.reserveHandle('alice', s.sessionId, '  Amber-Otter-42  '));
    expect(reserved).toEqual({ handle: 'amber-otter-42', expiresAt: h.clock.now() + 15 * MINUTE });
    expect(await h.core.reservedHandles(s.sessionId)).toEqual([reserved]);
    const login = unwrap(await h.core.loginWithHandle('Gus', '\tAMBER-otter-42 '));
    expect(login.sessionId).toBe(s.sessionId);
  });

  it('[H1] refuses every malformed handle with reason handle_invalid and a message that says why', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const cases: [string, string][] = [
      ['', 'Enter a handle.'],
      ['    ', 'Enter a handle.'],
      ['abc', 'A handle needs at least 4 characters.'],
      ['a'.repeat(33), 'A handle can have at most 32 characters.'],
      ['amber otter', 'A handle can contain only the letters a to z, digits and hyphens.'],
      ['amber_otter', 'A handle can contain only the letters a to z, digits and hyphens.'],
      ['amber!', 'A handle can contain only the letters a to z, digits and hyphens.'],
    ];
    for (const [raw, message] of cases) {
      expect(await h.core.reserveHandle('alice', s.sessionId, raw), JSON.stringify(raw)).toEqual({
        ok: false,
        error: { reason: ErrorReason.handleInvalid, message },
      });
    }
    expect(await h.core.reservedHandles(s.sessionId)).toEqual([]);
    expect(effectsOf(h.effects, 'handles_changed')).toEqual([]);
  });
});

describe('H2 uniqueness', () => {
  it('[H2] refuses a handle reserved by another agent with "That handle is in use. Choose another."', async () => {
    const h = makeHarness();
    const a = await openSession(h, 'alice');
    const b = await openSession(h, 'bob');
    unwrap(await h.core.reserveHandle('alice', a.sessionId, 'shared-name'));
    expect(await h.core.reserveHandle('bob', b.sessionId, 'shared-name')).toEqual({
      ok: false,
      error: { reason: ErrorReason.handleInUse, message: 'That handle is in use. Choose another.' },
    });
    expect(Messages.handleInUse).toBe('That handle is in use. Choose another.');
    expect(await h.core.reservedHandles(b.sessionId)).toEqual([]);
    expect((await h.store.getHandle('shared-name', h.clock.now()))?.sessionId).toBe(a.sessionId);
  });

  it('[H2] is unique across the sessions of one agent and within one session, whatever the case', async () => {
    const h = makeHarness();
    const a1 = await openSession(h, 'alice');
    const a2 = await openSession(h, 'alice');
    unwrap(await h.core.reserveHandle('alice', a1.sessionId, 'Twice-Used'));
    for (const [sid, raw] of [
      [a2.sessionId, 'twice-used'],
      [a1.sessionId, 'TWICE-USED'],
      [a1.sessionId, ' twice-used '],
    ] as const) {
      expect(refusal(await h.core.reserveHandle('alice', sid, raw))).toEqual({
        reason: 'handle_in_use',
        message: 'That handle is in use. Choose another.',
      });
    }
  });

  // H2 and H6 across signaling nodes: tests/integration/scale-out.test.ts (real node processes on Redis).
  it('[H2] of concurrent reservations of one handle by different sessions, exactly one succeeds', async () => {
    const h = makeHarness();
    const sessions = [await openSession(h, 'alice'), await openSession(h, 'bob'), await openSession(h, 'carol')];
    const results = await Promise.all(sessions.map((s) => h.core.reserveHandle(s.agentName, s.sessionId, 'contested')));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    for (const r of results.filter((x) => !x.ok)) expect(refusal(r).message).toBe(Messages.handleInUse);
  });

  it('[H2] only the agent of an active session may reserve for it', async () => {
    const h = makeHarness();
    const s = await openSession(h, 'alice');
    expect(refusal(await h.core.reserveHandle('bob', s.sessionId, 'not-yours'))).toEqual({
      reason: 'forbidden',
      message: 'Only the agent of this session can do that.',
    });
    expect(refusal(await h.core.reserveHandle('alice', 'no-such-session', 'not-yours')).reason).toBe('forbidden');
    unwrap(await h.core.endSession(s.sessionId, s.agentParticipantId));
    expect(refusal(await h.core.reserveHandle('alice', s.sessionId, 'after-end')).reason).toBe('session_ended');
    expect(await isFree(h, 'not-yours')).toBe(true);
    expect(await isFree(h, 'after-end')).toBe(true);
  });
});

describe('H3 a used handle is free again', () => {
  it('[H3] a handle is free again once its party has joined', async () => {
    const h = makeHarness();
    const a = await openSession(h, 'alice');
    const b = await openSession(h, 'bob');
    unwrap(await h.core.reserveHandle('alice', a.sessionId, 'one-shot'));
    h.effects.length = 0;
    const login = unwrap(await h.core.loginWithHandle('Gus', 'one-shot'));
    expect(login.sessionId).toBe(a.sessionId);
    expect(await isFree(h, 'one-shot')).toBe(true);
    expect(await h.core.reservedHandles(a.sessionId)).toEqual([]);
    expect(effectsOf(h.effects, 'handles_changed')).toEqual([{ type: 'handles_changed', sessionId: a.sessionId, handles: [] }]);
    // Available to any agent, including another one.
    const again = unwrap(await h.core.reserveHandle('bob', b.sessionId, 'one-shot'));
    expect(again.handle).toBe('one-shot');
    expect(unwrap(await h.core.loginWithHandle('Hana', 'one-shot')).sessionId).toBe(b.sessionId);
  });

  it('[H3] a reserved handle stays reserved (and unusable by others) right up to its expiry', async () => {
    const h = makeHarness();
    const a = await openSession(h, 'alice');
    const b = await openSession(h, 'bob');
    unwrap(await h.core.reserveHandle('alice', a.sessionId, 'patient'));
    h.clock.advance(15 * MINUTE - 1);
    await h.core.sweep();
    expect(refusal(await h.core.reserveHandle('bob', b.sessionId, 'patient')).reason).toBe('handle_in_use');
    expect(unwrap(await h.core.loginWithHandle('Gus', 'patient')).sessionId).toBe(a.sessionId);
  });
});

describe('H4 a dropped session frees its handles at once', () => {
  it('[H4] ending the session frees every reserved handle without waiting for a sweep', async () => {
    const h = makeHarness();
    const a = await openSession(h, 'alice');
    const b = await openSession(h, 'bob');
    unwrap(await h.core.reserveHandle('alice', a.sessionId, 'first-one'));
    unwrap(await h.core.reserveHandle('alice', a.sessionId, 'second-one'));
    h.effects.length = 0;
    unwrap(await h.core.endSession(a.sessionId, a.agentParticipantId));
    expect(await isFree(h, 'first-one')).toBe(true);
    expect(await isFree(h, 'second-one')).toBe(true);
    expect(await h.store.listSessionHandles(a.sessionId, Number.NEGATIVE_INFINITY)).toEqual([]);
    expect(effectsOf(h.effects, 'handles_changed')).toEqual([{ type: 'handles_changed', sessionId: a.sessionId, handles: [] }]);
    unwrap(await h.core.reserveHandle('bob', b.sessionId, 'first-one'));
    expect(await h.core.loginWithHandle('Gus', 'second-one')).toEqual(UNUSABLE);
  });

  it('[H4] the customer ending the session frees its handles too', async () => {
    const h = makeHarness();
    const a = await openSession(h, 'alice');
    unwrap(await h.core.reserveHandle('alice', a.sessionId, 'cust-ends'));
    unwrap(await h.core.endSession(a.sessionId, a.customerParticipantId));
    expect(await isFree(h, 'cust-ends')).toBe(true);
  });

  it('[H4] a session dropped by the grace timeout frees its handles in the same sweep', async () => {
    const h = makeHarness({ config: { graceMs: 30_000 } });
    const a = await openSession(h, 'alice');
    unwrap(await h.core.reserveHandle('alice', a.sessionId, 'grace-drop'));
    await h.core.detach(a.agentPeerId);
    h.clock.advance(30_000);
    await h.core.sweep();
    expect((await h.store.getSession(a.sessionId))?.state).toBe('ended');
    expect(await isFree(h, 'grace-drop')).toBe(true);
    expect(await h.core.loginWithHandle('Gus', 'grace-drop')).toEqual(UNUSABLE);
  });

  it('[H4] a handle reserved while the session is being ended does not outlive it', async () => {
    // The agent clicks OK on a handle just as the customer ends the session: whichever order the
    // steps interleave in, the handle must not stay reserved for an ended session.
    for (const order of ['reserve-first', 'end-first'] as const) {
      const h = makeHarness();
      const a = await openSession(h, 'alice');
      const reserve = () => h.core.reserveHandle('alice', a.sessionId, 'racing-end');
      const end = () => h.core.endSession(a.sessionId, a.customerParticipantId);
      const [r] = order === 'reserve-first' ? await Promise.all([reserve(), end()]) : (await Promise.all([end(), reserve()])).reverse();
      expect((await h.store.getSession(a.sessionId))?.state, order).toBe('ended');
      expect(await isFree(h, 'racing-end'), `${order}: reserve answered ${JSON.stringify(r)}`).toBe(true);
    }
  });
});

describe('H5 expiry and cancellation', () => {
  it('[H5] a reservation expires after handleTtlMs: free to others and unusable to log in', async () => {
    const h = makeHarness({ config: { handleTtlMs: 10 * MINUTE } });
    const a = await openSession(h, 'alice');
    const b = await openSession(h, 'bob');
    const t0 = h.clock.now();
    const r = unwrap(await h.core.reserveHandle('alice', a.sessionId, 'ten-minutes'));
    expect(r.expiresAt).toBe(t0 + 10 * MINUTE);

    h.clock.advance(10 * MINUTE - 1);
    await h.core.sweep();
    expect(await h.core.reservedHandles(a.sessionId)).toEqual([r]);

    h.clock.advance(1);
    h.effects.length = 0;
    await h.core.sweep();
    expect(await h.core.reservedHandles(a.sessionId)).toEqual([]);
    expect(effectsOf(h.effects, 'handles_changed')).toEqual([{ type: 'handles_changed', sessionId: a.sessionId, handles: [] }]);
    expect(await h.core.loginWithHandle('Gus', 'ten-minutes')).toEqual(UNUSABLE);
    expect(unwrap(await h.core.reserveHandle('bob', b.sessionId, 'ten-minutes')).handle).toBe('ten-minutes');
  });

  it('[H5] defaults to 15 minutes', async () => {
    const h = makeHarness();
    expect(h.config.handleTtlMs).toBe(15 * MINUTE);
    const a = await openSession(h);
    const r = unwrap(await h.core.reserveHandle('alice', a.sessionId, 'default-ttl'));
    expect(r.expiresAt - h.clock.now()).toBe(15 * MINUTE);
  });

  it('[H5] an expired handle is free even before the sweep runs', async () => {
    const h = makeHarness();
    const a = await openSession(h, 'alice');
    const b = await openSession(h, 'bob');
    unwrap(await h.core.reserveHandle('alice', a.sessionId, 'unswept'));
    h.clock.advance(15 * MINUTE);
    expect(await h.core.reservedHandles(a.sessionId)).toEqual([]);
    expect(await h.core.loginWithHandle('Gus', 'unswept')).toEqual(UNUSABLE);
    unwrap(await h.core.reserveHandle('bob', b.sessionId, 'unswept'));
    // The sweep must not take the new, live reservation as the old expired one.
    h.effects.length = 0;
    await h.core.sweep();
    expect(await h.core.reservedHandles(b.sessionId)).toEqual([{ handle: 'unswept', expiresAt: h.clock.now() + 15 * MINUTE }]);
    expect(effectsOf(h.effects, 'handles_changed')).toEqual([]);
  });

  it('[H5] the sweep reports changed handles once per session and keeps the live ones listed', async () => {
    const h = makeHarness();
    const a = await openSession(h, 'alice');
    const b = await openSession(h, 'bob');
    unwrap(await h.core.reserveHandle('alice', a.sessionId, 'early-1'));
    unwrap(await h.core.reserveHandle('alice', a.sessionId, 'early-2'));
    unwrap(await h.core.reserveHandle('bob', b.sessionId, 'early-3'));
    h.clock.advance(5 * MINUTE);
    const late = unwrap(await h.core.reserveHandle('alice', a.sessionId, 'late-1'));
    h.clock.advance(10 * MINUTE);
    h.effects.length = 0;
    await h.core.sweep();
    const changed = effectsOf(h.effects, 'handles_changed');
    expect(changed).toHaveLength(2);
    expect(changed).toContainEqual({ type: 'handles_changed', sessionId: a.sessionId, handles: [late] });
    expect(changed).toContainEqual({ type: 'handles_changed', sessionId: b.sessionId, handles: [] });
  });

  it('[H5] the agent can cancel a reservation, which frees the handle at once', async () => {
    const h = makeHarness();
    const a = await openSession(h, 'alice');
    const b = await openSession(h, 'bob');
    unwrap(await h.core.reserveHandle('alice', a.sessionId, 'keep-me'));
    unwrap(await h.core.reserveHandle('alice', a.sessionId, 'cancel-me'));
    h.effects.length = 0;
    expect(await h.core.cancelHandle('alice', a.sessionId, ' Cancel-Me ')).toEqual({ ok: true, value: {} });
    expect(await isFree(h, 'cancel-me')).toBe(true);
    expect((await h.core.reservedHandles(a.sessionId)).map((x) => x.handle)).toEqual(['keep-me']);
    expect(effectsOf(h.effects, 'handles_changed')).toHaveLength(1);
    expect(effectsOf(h.effects, 'handles_changed')[0]?.handles.map((x) => x.handle)).toEqual(['keep-me']);
    expect(await h.core.loginWithHandle('Gus', 'cancel-me')).toEqual(UNUSABLE);
    unwrap(await h.core.reserveHandle('bob', b.sessionId, 'cancel-me'));
  });

  it("[H5] an agent cannot cancel another session's handle, nor one that is not reserved", async () => {
    const h = makeHarness();
    const a = await openSession(h, 'alice');
    const a2 = await openSession(h, 'alice');
    const b = await openSession(h, 'bob');
    unwrap(await h.core.reserveHandle('alice', a.sessionId, 'alices-handle'));
    const notReserved = { reason: 'not_found', message: 'That handle is not reserved for this session.' };
    // Same agent, other session of hers.
    expect(refusal(await h.core.cancelHandle('alice', a2.sessionId, 'alices-handle'))).toEqual(notReserved);
    // Another agent through its own session.
    expect(refusal(await h.core.cancelHandle('bob', b.sessionId, 'alices-handle'))).toEqual(notReserved);
    // Another agent naming alice's session.
    expect(refusal(await h.core.cancelHandle('bob', a.sessionId, 'alices-handle')).reason).toBe('forbidden');
    expect(refusal(await h.core.cancelHandle('alice', a.sessionId, 'never-reserved'))).toEqual(notReserved);
    expect(refusal(await h.core.cancelHandle('alice', a.sessionId, 'x!'))).toEqual(notReserved);
    expect(await isFree(h, 'alices-handle')).toBe(false);
  });

  it('[H5] a consumed or expired handle can no longer be cancelled', async () => {
    const h = makeHarness();
    const a = await openSession(h);
    unwrap(await h.core.reserveHandle('alice', a.sessionId, 'used-up'));
    unwrap(await h.core.loginWithHandle('Gus', 'used-up'));
    expect(refusal(await h.core.cancelHandle('alice', a.sessionId, 'used-up')).reason).toBe('not_found');
    unwrap(await h.core.reserveHandle('alice', a.sessionId, 'timed-out'));
    h.clock.advance(15 * MINUTE);
    await h.core.sweep();
    expect(refusal(await h.core.cancelHandle('alice', a.sessionId, 'timed-out')).reason).toBe('not_found');
  });
});

describe('H6 one handle admits exactly one party', () => {
  it('[H6] of many concurrent log-ins with the same handle, exactly one succeeds', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    unwrap(await h.core.reserveHandle('alice', s.sessionId, 'only-once'));
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => h.core.loginWithHandle(`Guest ${i}`, i % 2 ? 'ONLY-ONCE' : 'only-once')),
    );
    const winners = results.filter((r) => r.ok);
    expect(winners).toHaveLength(1);
    for (const r of results.filter((x) => !x.ok)) expect(r).toEqual(UNUSABLE);
    const guests = (await h.store.listParticipants(s.sessionId)).filter((p) => p.role === 'guest');
    expect(guests).toHaveLength(1);
    const winner = unwrap(winners[0]!);
    expect(unwrap(await h.core.authenticate(winner.credential)).participantId).toBe(guests[0]?.participantId);
  });

  it('[H6] a second, later log-in with a used handle is refused', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    await inviteGuest(h, s, 'used-once');
    expect(await h.core.loginWithHandle('Mallory', 'used-once')).toEqual(UNUSABLE);
  });
});

describe('H7 suggestions', () => {
  it('[H7] suggests word-word-ddddd that H1 accepts as is and that can be reserved', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    for (let i = 0; i < 20; i++) {
      const { handle } = unwrap(await h.core.suggestHandle('alice', s.sessionId));
      expect(handle).toMatch(/^[a-z]+-[a-z]+-\d{5}$/);
      const [w1, w2] = handle.split('-');
      expect(WORDS).toContain(w1);
      expect(WORDS).toContain(w2);
      expect(unwrap(await h.core.reserveHandle('alice', s.sessionId, handle)).handle).toBe(handle);
    }
  });

  it('[H7] suggesting does not reserve anything', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    h.effects.length = 0;
    const { handle } = unwrap(await h.core.suggestHandle('alice', s.sessionId));
    expect(await isFree(h, handle)).toBe(true);
    expect(h.effects).toEqual([]);
  });

  it('[H7] suggests a free handle: a candidate that is already reserved is skipped', async () => {
    const h = makeHarness();
    const a = await openSession(h, 'alice');
    const b = await openSession(h, 'bob');
    const taken = `${WORDS[1]}-${WORDS[2]}-00003`;
    const free = `${WORDS[4]}-${WORDS[5]}-00006`;
    unwrap(await h.core.reserveHandle('bob', b.sessionId, taken));
    h.random.push([1, 2], u32(3), [4, 5], u32(6));
    expect(unwrap(await h.core.suggestHandle('alice', a.sessionId))).toEqual({ handle: free });
    expect(h.random.pending).toBe(0);
    // Sanity: the scripted bytes do make the taken handle when fed straight to the generator.
    const r = new ScriptedRandom();
    r.push([1, 2], u32(3));
    expect(suggestHandle(r.bytes)).toBe(taken);
  });

  it('[H7] an expired reservation does not block a suggestion', async () => {
    const h = makeHarness();
    const a = await openSession(h, 'alice');
    const stale = `${WORDS[7]}-${WORDS[8]}-00009`;
    unwrap(await h.core.reserveHandle('alice', a.sessionId, stale));
    h.clock.advance(15 * MINUTE);
    h.random.push([7, 8], u32(9));
    expect(unwrap(await h.core.suggestHandle('alice', a.sessionId))).toEqual({ handle: stale });
  });

  it('[H7] gives up with an internal error, rather than looping, if every candidate is taken', async () => {
    const h = makeHarness();
    const a = await openSession(h, 'alice');
    const taken = `${WORDS[9]}-${WORDS[9]}-00009`;
    unwrap(await h.core.reserveHandle('alice', a.sessionId, taken));
    for (let i = 0; i < 16; i++) h.random.push([9, 9], u32(9));
    expect(refusal(await h.core.suggestHandle('alice', a.sessionId))).toEqual({
      reason: 'internal',
      message: 'Could not find a free handle. Try again.',
    });
    expect(h.random.pending).toBe(0);
  });

  it('[H7] only the agent of an active session gets suggestions', async () => {
    const h = makeHarness();
    const a = await openSession(h, 'alice');
    expect(refusal(await h.core.suggestHandle('bob', a.sessionId)).reason).toBe('forbidden');
    unwrap(await h.core.endSession(a.sessionId, a.agentParticipantId));
    expect(refusal(await h.core.suggestHandle('alice', a.sessionId)).reason).toBe('session_ended');
  });
});

describe('H8 one answer for every unusable handle', () => {
  it('[H8] unknown, expired, used, cancelled, ended-session and malformed handles all get the identical answer', async () => {
    const h = makeHarness();
    const s = await openSession(h, 'alice');
    const ended = await openSession(h, 'bob');

    unwrap(await h.core.reserveHandle('alice', s.sessionId, 'will-expire'));
    h.clock.advance(15 * MINUTE);
    unwrap(await h.core.reserveHandle('alice', s.sessionId, 'expired-unswept'));
    h.clock.advance(15 * MINUTE);
    // 'will-expire' is swept below; 'expired-unswept' is expired but still in the store when tried.
    const triedBeforeSweep = await h.core.loginWithHandle('Probe', 'expired-unswept');
    await h.core.sweep();
    expect((await h.store.getSession(s.sessionId))?.state).toBe('active');

    await inviteGuest(h, s, 'already-used');
    unwrap(await h.core.reserveHandle('alice', s.sessionId, 'was-cancelled'));
    unwrap(await h.core.cancelHandle('alice', s.sessionId, 'was-cancelled'));
    unwrap(await h.core.reserveHandle('bob', ended.sessionId, 'session-gone'));
    unwrap(await h.core.endSession(ended.sessionId, ended.customerParticipantId));

    const answers = {
      expiredUnswept: triedBeforeSweep,
      unknown: await h.core.loginWithHandle('Probe', 'never-reserved'),
      expired: await h.core.loginWithHandle('Probe', 'will-expire'),
      used: await h.core.loginWithHandle('Probe', 'already-used'),
      cancelled: await h.core.loginWithHandle('Probe', 'was-cancelled'),
      sessionEnded: await h.core.loginWithHandle('Probe', 'session-gone'),
      empty: await h.core.loginWithHandle('Probe', ''),
      tooShort: await h.core.loginWithHandle('Probe', 'abc'),
      tooLong: await h.core.loginWithHandle('Probe', 'a'.repeat(40)),
      badCharacters: await h.core.loginWithHandle('Probe', 'amber otter!'),
    };
    for (const [kind, answer] of Object.entries(answers)) expect(answer, kind).toEqual(UNUSABLE);
    expect(Messages.handleUnusable).toBe(
      "That handle can't be used. Check it with the person who gave it to you, or ask them for a new one.",
    );
    // Nobody got in.
    const guests = (await h.store.listParticipants(s.sessionId)).filter((p) => p.role === 'guest');
    expect(guests.map((g) => g.name)).toEqual(['Gus Guest']);
    expect((await h.store.listParticipants(ended.sessionId)).filter((p) => p.role === 'guest')).toEqual([]);
  });

  it('[H8] a failed log-in leaves no trace: no participant, no credential, no effect', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const before = await h.store.listParticipants(s.sessionId);
    h.effects.length = 0;
    expect(await h.core.loginWithHandle('Probe', 'no-such-handle')).toEqual(UNUSABLE);
    expect(await h.store.listParticipants(s.sessionId)).toEqual(before);
    expect(h.effects).toEqual([]);
  });
});

describe('H9 several reserved handles per session', () => {
  it('[H9] a session holds several reservations at once, one per invited party', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const r1 = unwrap(await h.core.reserveHandle('alice', s.sessionId, 'for-the-specialist'));
    h.clock.advance(1000);
    const r2 = unwrap(await h.core.reserveHandle('alice', s.sessionId, 'for-the-supervisor'));
    h.clock.advance(1000);
    const r3 = unwrap(await h.core.reserveHandle('alice', s.sessionId, 'for-the-relative'));
    expect(await h.core.reservedHandles(s.sessionId)).toEqual([r1, r2, r3]);
    expect(effectsOf(h.effects, 'handles_changed').at(-1)).toEqual({
      type: 'handles_changed',
      sessionId: s.sessionId,
      handles: [r1, r2, r3],
    });

    const supervisor = unwrap(await h.core.loginWithHandle('Sam Supervisor', 'for-the-supervisor'));
    expect(await h.core.reservedHandles(s.sessionId)).toEqual([r1, r3]);
    const specialist = unwrap(await h.core.loginWithHandle('Sue Specialist', 'for-the-specialist'));
    const relative = unwrap(await h.core.loginWithHandle('Rae Relative', 'for-the-relative'));
    expect(await h.core.reservedHandles(s.sessionId)).toEqual([]);

    const creds = [supervisor, specialist, relative];
    expect(new Set(creds.map((c) => c.credential)).size).toBe(3);
    const admitted = await Promise.all(creds.map(async (c) => unwrap(await h.core.authenticate(c.credential))));
    expect(admitted.map((a) => [a.sessionId, a.role, a.name])).toEqual([
      [s.sessionId, 'guest', 'Sam Supervisor'],
      [s.sessionId, 'guest', 'Sue Specialist'],
      [s.sessionId, 'guest', 'Rae Relative'],
    ]);
    expect(new Set(admitted.map((a) => a.participantId)).size).toBe(3);
  });
});
