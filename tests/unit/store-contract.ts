/**
 * The Store contract: what every implementation (memory today, Redis for scale-out) must do, as one
 * suite. Run it with `storeContract('MemoryStore', () => new MemoryStore())`; a Redis store passes a
 * factory that gives each test a fresh key prefix, and a teardown that disconnects.
 *
 * Times are passed in by the caller (the store never reads a clock). The suite uses a base time near
 * the real clock and lifetimes of minutes, so an implementation that also sets a real expiry on its
 * keys (PX as a backstop) behaves the same as one that compares the given times only.
 */
import { describe, expect, it, beforeEach, afterEach } from 'vitest';
import fc from 'fast-check';
import type { EndReason } from '../../lib/protocol';
import type {
  CredentialRecord,
  HandleReservation,
  ParticipantRecord,
  PeerRecord,
  QueueRequest,
  SessionRecord,
  Store,
} from '../../signaling/store/types';
import { connectionIdOf } from '../../signaling/store/types';

const MINUTE = 60_000;

/** An active session started at `startedAt`, with `over` on top (also for implementation-specific suites). */
export const sessionRecord = (sessionId: string, startedAt: number, over: Partial<SessionRecord> = {}): SessionRecord => ({
  sessionId,
  agentName: 'alice',
  agentParticipantId: `${sessionId}-agent`,
  customerParticipantId: `${sessionId}-customer`,
  customerName: 'Cleo',
  topic: 'Help',
  startedAt,
  state: 'active',
  endedAt: null,
  endReason: null,
  lobby: false,
  agentOfflineSince: null,
  customerOfflineSince: null,
  ...over,
});

export function storeContract(
  name: string,
  makeStore: () => Store | Promise<Store>,
  teardown?: (store: Store) => void | Promise<void>,
): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    // Whole seconds, so an implementation working in seconds is not tripped by rounding.
    const T0 = Math.floor(Date.now() / 1000) * 1000;

    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await teardown?.(store);
    });

    const reservation = (handle: string, sessionId: string, over: Partial<HandleReservation> = {}): HandleReservation => ({
      handle,
      sessionId,
      reservedBy: 'alice',
      reservedAt: T0,
      expiresAt: T0 + 15 * MINUTE,
      ...over,
    });

    const request = (requestId: string, requestedAt: number, over: Partial<QueueRequest> = {}): QueueRequest => ({
      requestId,
      tokenHash: `hash-of-${requestId}`,
      name: `Customer ${requestId}`,
      topic: `Topic ${requestId}`,
      requestedAt,
      offlineSince: null,
      ...over,
    });

    const session = (sessionId: string, over: Partial<SessionRecord> = {}): SessionRecord => sessionRecord(sessionId, T0, over);

    const participantsOf = (s: SessionRecord): ParticipantRecord[] => [
      { participantId: s.agentParticipantId, sessionId: s.sessionId, role: 'agent', name: s.agentName, joinedAt: s.startedAt, state: 'active' },
      { participantId: s.customerParticipantId, sessionId: s.sessionId, role: 'customer', name: s.customerName, joinedAt: s.startedAt, state: 'active' },
    ];

    const createSession = async (sessionId: string, over: Partial<SessionRecord> = {}): Promise<SessionRecord> => {
      const s = session(sessionId, over);
      await store.createSession(s, participantsOf(s));
      return s;
    };

    const credential = (sessionId: string, participantId: string): CredentialRecord => ({
      sessionId,
      participantId,
      issuedAt: T0,
      revoked: null,
    });

    const peer = (peerId: string, sessionId: string, participantId: string): PeerRecord => ({
      peerId,
      sessionId,
      participantId,
      connectionId: `conn-${peerId}`,
      disconnectedAt: null,
    });

    const byHandle = (a: HandleReservation, b: HandleReservation) => a.handle.localeCompare(b.handle);

    // ------------------------------------------------------------------ handles

    describe('handles', () => {
      it('reserveHandle stores a reservation that getHandle returns while it lives', async () => {
        const r = reservation('amber-otter-00001', 's1');
        expect(await store.reserveHandle(r, T0)).toBe(true);
        expect(await store.getHandle('amber-otter-00001', T0)).toEqual(r);
        expect(await store.getHandle('amber-otter-00001', r.expiresAt - 1)).toEqual(r);
      });

      it('getHandle returns null for an unknown handle and for one that has expired (at expiresAt)', async () => {
        expect(await store.getHandle('nobody-has-this', T0)).toBeNull();
        const r = reservation('short-lived', 's1', { expiresAt: T0 + MINUTE });
        await store.reserveHandle(r, T0);
        expect(await store.getHandle('short-lived', T0 + MINUTE)).toBeNull();
        expect(await store.getHandle('short-lived', T0 + 2 * MINUTE)).toBeNull();
      });

      it('reserveHandle is set-if-absent: a live reservation is never overwritten, by any session', async () => {
        const first = reservation('taken', 's1');
        expect(await store.reserveHandle(first, T0)).toBe(true);
        expect(await store.reserveHandle(reservation('taken', 's2', { reservedBy: 'bob' }), T0 + 1)).toBe(false);
        expect(await store.reserveHandle(reservation('taken', 's1'), T0 + 2)).toBe(false);
        expect(await store.reserveHandle(reservation('taken', 's3'), first.expiresAt - 1)).toBe(false);
        expect(await store.getHandle('taken', T0 + 3)).toEqual(first);
      });

      it('reserveHandle succeeds over an expired reservation, which then belongs to the new session', async () => {
        const old = reservation('reused', 's1', { expiresAt: T0 + MINUTE });
        await store.reserveHandle(old, T0);
        const fresh = reservation('reused', 's2', { reservedBy: 'bob', reservedAt: T0 + MINUTE, expiresAt: T0 + 16 * MINUTE });
        expect(await store.reserveHandle(fresh, T0 + MINUTE)).toBe(true);
        expect(await store.getHandle('reused', T0 + MINUTE)).toEqual(fresh);
        expect(await store.listSessionHandles('s1', Number.NEGATIVE_INFINITY)).toEqual([]);
        expect(await store.listSessionHandles('s2', T0 + MINUTE)).toEqual([fresh]);
        // The old session can no longer release it.
        expect(await store.releaseHandle('reused', 's1')).toBeNull();
        expect(await store.getHandle('reused', T0 + MINUTE)).toEqual(fresh);
      });

      it('of concurrent reservations of one handle, exactly one succeeds', async () => {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.reserveHandle(reservation('contended', `s${i}`), T0)),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true);
        expect((await store.getHandle('contended', T0))?.sessionId).toBe(`s${winner}`);
      });

      it('keeps a copy: changing the object after reserving does not change the reservation', async () => {
        const r = reservation('copied', 's1');
        await store.reserveHandle(r, T0);
        r.sessionId = 'mutated';
        const got = await store.getHandle('copied', T0);
        expect(got?.sessionId).toBe('s1');
        got!.sessionId = 'mutated-again';
        expect((await store.getHandle('copied', T0))?.sessionId).toBe('s1');
      });

      it('consumeHandle returns a live reservation once and frees the handle', async () => {
        const r = reservation('one-time', 's1');
        await store.reserveHandle(r, T0);
        expect(await store.consumeHandle('one-time', T0 + 1)).toEqual(r);
        expect(await store.consumeHandle('one-time', T0 + 2)).toBeNull();
        expect(await store.getHandle('one-time', T0 + 2)).toBeNull();
        expect(await store.listSessionHandles('s1', T0 + 2)).toEqual([]);
        // Free again for anyone.
        expect(await store.reserveHandle(reservation('one-time', 's2'), T0 + 3)).toBe(true);
      });

      it('consumeHandle returns null for an unknown or expired handle, and an expired one stays unusable', async () => {
        expect(await store.consumeHandle('never-reserved', T0)).toBeNull();
        await store.reserveHandle(reservation('stale', 's1', { expiresAt: T0 + MINUTE }), T0);
        expect(await store.consumeHandle('stale', T0 + MINUTE)).toBeNull();
        expect(await store.consumeHandle('stale', T0 + MINUTE)).toBeNull();
        expect(await store.getHandle('stale', T0 + MINUTE)).toBeNull();
        expect(await store.listSessionHandles('s1', T0 + MINUTE)).toEqual([]);
      });

      it('of concurrent consumptions of one handle, exactly one gets it', async () => {
        const r = reservation('race', 's1');
        await store.reserveHandle(r, T0);
        const results = await Promise.all(Array.from({ length: 25 }, () => store.consumeHandle('race', T0 + 1)));
        const winners = results.filter((x) => x !== null);
        expect(winners).toEqual([r]);
      });

      it('releaseHandle frees a handle only for the session that holds it', async () => {
        const r = reservation('mine', 's1');
        await store.reserveHandle(r, T0);
        expect(await store.releaseHandle('mine', 's2')).toBeNull();
        expect(await store.getHandle('mine', T0)).toEqual(r);
        expect(await store.releaseHandle('mine', 's1')).toEqual(r);
        expect(await store.getHandle('mine', T0)).toBeNull();
        expect(await store.releaseHandle('mine', 's1')).toBeNull();
        expect(await store.releaseHandle('never-reserved', 's1')).toBeNull();
      });

      it('releaseHandle also frees a reservation that has expired but was not yet swept', async () => {
        const r = reservation('expired-but-there', 's1', { expiresAt: T0 + MINUTE });
        await store.reserveHandle(r, T0);
        const listed = await store.listSessionHandles('s1', Number.NEGATIVE_INFINITY);
        expect(listed).toEqual([r]);
        expect(await store.releaseHandle('expired-but-there', 's1')).toEqual(r);
        expect(await store.takeExpiredHandles(T0 + 2 * MINUTE)).toEqual([]);
      });

      it('listSessionHandles lists the live reservations of one session only (H9: several at once)', async () => {
        const a = reservation('handle-a', 's1', { reservedAt: T0 });
        const b = reservation('handle-b', 's1', { reservedAt: T0 + 1, expiresAt: T0 + MINUTE });
        const c = reservation('handle-c', 's1', { reservedAt: T0 + 2 });
        const other = reservation('handle-x', 's2');
        for (const r of [a, b, c, other]) expect(await store.reserveHandle(r, r.reservedAt)).toBe(true);
        expect((await store.listSessionHandles('s1', T0 + 3)).sort(byHandle)).toEqual([a, b, c]);
        expect((await store.listSessionHandles('s1', T0 + MINUTE)).sort(byHandle)).toEqual([a, c]);
        expect(await store.listSessionHandles('s2', T0)).toEqual([other]);
        expect(await store.listSessionHandles('s3', T0)).toEqual([]);
        // With -Infinity as "now", expired-but-unswept reservations are included (used when a session drops).
        expect((await store.listSessionHandles('s1', Number.NEGATIVE_INFINITY)).sort(byHandle)).toEqual([a, b, c]);
      });

      it('reserveSessionHandle reserves for an active session of the agent, answering with its live handles (H9), oldest first', async () => {
        await createSession('s1');
        await createSession('s2');
        const first = reservation('first-one', 's1', { reservedAt: T0, expiresAt: T0 + MINUTE });
        expect(await store.reserveSessionHandle(first, T0)).toEqual({ reserved: true, handles: [first] });
        const second = reservation('second-one', 's1', { reservedAt: T0 + 1 });
        expect(await store.reserveSessionHandle(second, T0 + 1)).toEqual({ reserved: true, handles: [first, second] });
        // Live at the time given: the first has expired by then (unswept), and is not listed.
        const third = reservation('third-one', 's1', { reservedAt: T0 + MINUTE, expiresAt: T0 + 16 * MINUTE });
        expect(await store.reserveSessionHandle(third, T0 + MINUTE)).toEqual({ reserved: true, handles: [second, third] });
        // Another session's handles are not listed; each reservation is what reserveHandle makes.
        const other = reservation('other-one', 's2');
        expect(await store.reserveSessionHandle(other, T0)).toEqual({ reserved: true, handles: [other] });
        expect(await store.getHandle('second-one', T0 + 2)).toEqual(second);
        expect((await store.listSessionHandles('s1', T0 + MINUTE)).sort(byHandle)).toEqual([second, third]);
      });

      it('reserveSessionHandle refuses, reserving nothing: not the agent\'s session, then an ended one, then a handle in use', async () => {
        await createSession('s1');
        await createSession('s2', { agentName: 'bob' });
        await createSession('gone');
        await store.endSession('gone', 'ended_by_agent', T0);
        expect(await store.reserveSessionHandle(reservation('h-unknown', 'nobody'), T0)).toEqual({ reserved: false, because: 'not_your_session' });
        expect(await store.reserveSessionHandle(reservation('h-bobs', 's2'), T0)).toEqual({ reserved: false, because: 'not_your_session' });
        expect(await store.reserveSessionHandle(reservation('h-gone', 'gone'), T0)).toEqual({ reserved: false, because: 'session_ended' });
        for (const h of ['h-unknown', 'h-bobs', 'h-gone']) expect(await store.getHandle(h, T0)).toBeNull();
        expect(await store.listSessionHandles('gone', Number.NEGATIVE_INFINITY)).toEqual([]);
        // The session's refusal comes first, even for a handle in use.
        const held = reservation('held', 's2', { reservedBy: 'bob' });
        expect(await store.reserveSessionHandle(held, T0)).toEqual({ reserved: true, handles: [held] });
        expect(await store.reserveSessionHandle(reservation('held', 'gone'), T0)).toEqual({ reserved: false, because: 'session_ended' });
        expect(await store.reserveSessionHandle(reservation('held', 's1'), T0 + 1)).toEqual({ reserved: false, because: 'in_use' });
        expect(await store.getHandle('held', T0 + 1)).toEqual(held);
        expect(await store.listSessionHandles('s1', T0)).toEqual([]);
      });

      it('reserveSessionHandle against the session ending: the reservation is made before the end (and found by it) or not at all (H4)', async () => {
        for (let i = 0; i < 10; i++) {
          const id = `racing-${i}`;
          await createSession(id);
          const [r] = await Promise.all([store.reserveSessionHandle(reservation(`h-${id}`, id), T0), store.endSession(id, 'ended_by_customer', T0)]);
          const left = await store.listSessionHandles(id, Number.NEGATIVE_INFINITY);
          expect(left.map((h) => h.handle)).toEqual(r.reserved ? [`h-${id}`] : []);
          if (!r.reserved) expect(r.because).toBe('session_ended');
        }
      });

      it('of concurrent reserveSessionHandle calls for one handle, exactly one succeeds', async () => {
        for (let i = 0; i < 10; i++) await createSession(`c${i}`);
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.reserveSessionHandle(reservation('contended-too', `c${i}`), T0)));
        expect(results.filter((r) => r.reserved)).toHaveLength(1);
        expect(results.filter((r) => !r.reserved && r.because === 'in_use')).toHaveLength(9);
      });

      it('consumeSessionHandle takes a live reservation once, with its session and the session\'s live handles left', async () => {
        const s = await createSession('s1', { lobby: true });
        const a = reservation('to-take', 's1', { reservedAt: T0 });
        const b = reservation('stays', 's1', { reservedAt: T0 + 1 });
        const c = reservation('expires', 's1', { reservedAt: T0 + 2, expiresAt: T0 + 5 });
        for (const r of [a, b, c]) await store.reserveHandle(r, T0);
        expect(await store.consumeSessionHandle('to-take', T0 + 5)).toEqual({ reservation: a, session: s, handles: [b] });
        // Without a guest, nobody is written.
        expect((await store.listParticipants('s1')).map((p) => p.role).sort()).toEqual(['agent', 'customer']);
        expect(await store.consumeSessionHandle('to-take', T0 + 6)).toBeNull();
        expect(await store.getHandle('to-take', T0 + 6)).toBeNull();
        // Expired or unknown: null, and an expired one is dropped as consumeHandle drops it.
        expect(await store.consumeSessionHandle('expires', T0 + 5)).toBeNull();
        expect(await store.consumeSessionHandle('never-reserved', T0)).toBeNull();
        expect(await store.listSessionHandles('s1', Number.NEGATIVE_INFINITY)).toEqual([b]);
      });

      it('consumeSessionHandle answers with the session as it is: ended, or gone (null)', async () => {
        await createSession('ending');
        await store.reserveHandle(reservation('for-ending', 'ending'), T0);
        await store.endSession('ending', 'ended_by_agent', T0 + 1);
        const got = await store.consumeSessionHandle('for-ending', T0 + 2);
        expect(got?.session).toMatchObject({ sessionId: 'ending', state: 'ended', endReason: 'ended_by_agent' });
        await store.reserveHandle(reservation('for-nobody', 'never-created'), T0);
        expect(await store.consumeSessionHandle('for-nobody', T0 + 2)).toEqual({ reservation: reservation('for-nobody', 'never-created'), session: null, handles: [] });
      });

      it('of concurrent consumeSessionHandle calls for one handle, exactly one gets it', async () => {
        await createSession('s1');
        const r = reservation('race-too', 's1');
        await store.reserveHandle(r, T0);
        const results = await Promise.all(Array.from({ length: 25 }, () => store.consumeSessionHandle('race-too', T0 + 1)));
        expect(results.filter((x) => x !== null).map((x) => x!.reservation)).toEqual([r]);
      });

      it('consumeSessionHandle with a guest writes the party and its credential for the handle\'s session: active, or waiting with the lobby on (H6, decision 0008)', async () => {
        // A name JSON writes with escapes: the Redis script writes it as the node encoded it.
        const name = 'Zoë "Z" O\'Brien / \\ 😀';
        for (const lobby of [false, true]) {
          const sessionId = lobby ? 'with-lobby' : 'open';
          await createSession(sessionId);
          // Turned on after the session began, as an agent does: the consume reads it as it is now.
          if (lobby) await store.setLobby(sessionId, true);
          await store.reserveHandle(reservation(`h-${sessionId}`, sessionId), T0);
          const id = `g-${sessionId}`;
          const got = await store.consumeSessionHandle(`h-${sessionId}`, T0 + 7, { participantId: id, name, credentialHash: `hash-${id}` });
          const guest: ParticipantRecord = { participantId: id, sessionId, role: 'guest', name, joinedAt: T0 + 7, state: lobby ? 'waiting' : 'active' };
          expect(got?.guest).toEqual(guest);
          expect(await store.getParticipant(id)).toEqual(guest);
          expect(await store.getCredential(`hash-${id}`)).toEqual({ sessionId, participantId: id, issuedAt: T0 + 7, revoked: null });
          expect((await store.listParticipants(sessionId)).map((p) => p.participantId)).toContain(id);
          // Indexed by session like any other credential: revoked with the session's.
          expect(await store.revokeCredentials({ sessionId, participantId: id }, 'declined')).toBe(1);
          expect((await store.getCredential(`hash-${id}`))?.revoked).toBe('declined');
          // What was answered is a copy.
          got!.guest!.name = 'changed';
          expect((await store.getParticipant(id))?.name).toBe(name);
        }
      });

      it('consumeSessionHandle with a guest writes nothing for a session that ended or is gone, nor for a handle it cannot take', async () => {
        const guest = (id: string) => ({ participantId: id, name: 'Gus', credentialHash: `hash-${id}` });
        await createSession('ending');
        await store.reserveHandle(reservation('for-ending', 'ending'), T0);
        await store.endSession('ending', 'ended_by_agent', T0 + 1);
        const ended = await store.consumeSessionHandle('for-ending', T0 + 2, guest('g1'));
        expect(ended?.session?.state).toBe('ended');
        expect(ended?.guest).toBeUndefined();
        await store.reserveHandle(reservation('for-nobody', 'never-created'), T0);
        expect(await store.consumeSessionHandle('for-nobody', T0 + 2, guest('g2'))).toEqual({
          reservation: reservation('for-nobody', 'never-created'),
          session: null,
          handles: [],
        });
        await createSession('s1');
        await store.reserveHandle(reservation('expires', 's1', { expiresAt: T0 + 5 }), T0);
        expect(await store.consumeSessionHandle('expires', T0 + 5, guest('g3'))).toBeNull();
        expect(await store.consumeSessionHandle('never-reserved', T0, guest('g4'))).toBeNull();
        for (const id of ['g1', 'g2', 'g3', 'g4']) {
          expect(await store.getParticipant(id)).toBeNull();
          expect(await store.getCredential(`hash-${id}`)).toBeNull();
        }
        expect((await store.listParticipants('s1')).map((p) => p.role)).not.toContain('guest');
      });

      it('of concurrent consumeSessionHandle calls with guests for one handle, exactly one guest is written', async () => {
        await createSession('s1');
        await store.reserveHandle(reservation('race-guests', 's1'), T0);
        const results = await Promise.all(
          Array.from({ length: 25 }, (_, i) => store.consumeSessionHandle('race-guests', T0 + 1, { participantId: `r${i}`, name: `R${i}`, credentialHash: `hash-r${i}` })),
        );
        const winners = results.filter((x) => x?.guest).map((x) => x!.guest!.participantId);
        expect(winners).toHaveLength(1);
        const guests = (await store.listParticipants('s1')).filter((p) => p.role === 'guest');
        expect(guests.map((p) => p.participantId)).toEqual(winners);
      });

      it('takeExpiredHandles removes and returns exactly the reservations expired at or before now', async () => {
        const early = reservation('early', 's1', { expiresAt: T0 + MINUTE });
        const onTheDot = reservation('on-the-dot', 's2', { expiresAt: T0 + 2 * MINUTE });
        const later = reservation('later', 's1', { expiresAt: T0 + 2 * MINUTE + 1 });
        for (const r of [early, onTheDot, later]) await store.reserveHandle(r, T0);

        expect(await store.takeExpiredHandles(T0 + MINUTE - 1)).toEqual([]);
        expect((await store.takeExpiredHandles(T0 + 2 * MINUTE)).sort(byHandle)).toEqual([early, onTheDot]);
        // Taken means gone: a second sweep does not return them again.
        expect(await store.takeExpiredHandles(T0 + 2 * MINUTE)).toEqual([]);
        expect(await store.listSessionHandles('s1', Number.NEGATIVE_INFINITY)).toEqual([later]);
        expect(await store.listSessionHandles('s2', Number.NEGATIVE_INFINITY)).toEqual([]);
        expect(await store.getHandle('later', T0 + 2 * MINUTE)).toEqual(later);
      });

      it('takeExpiredHandles does not return a consumed, released or re-reserved handle', async () => {
        await store.reserveHandle(reservation('consumed', 's1', { expiresAt: T0 + MINUTE }), T0);
        await store.reserveHandle(reservation('released', 's1', { expiresAt: T0 + MINUTE }), T0);
        await store.reserveHandle(reservation('rereserved', 's1', { expiresAt: T0 + MINUTE }), T0);
        await store.consumeHandle('consumed', T0 + 1);
        await store.releaseHandle('released', 's1');
        const fresh = reservation('rereserved', 's2', { expiresAt: T0 + 30 * MINUTE });
        expect(await store.reserveHandle(fresh, T0 + MINUTE)).toBe(true);
        expect(await store.takeExpiredHandles(T0 + 2 * MINUTE)).toEqual([]);
        expect(await store.getHandle('rereserved', T0 + 2 * MINUTE)).toEqual(fresh);
      });
      it('listSessionHandles lists only its own session after a reservation moves from an expired one to another session', async () => {
        const old = reservation('moving', 's1', { expiresAt: T0 + MINUTE });
        const kept = reservation('staying', 's1', { reservedAt: T0 + 1 });
        await store.reserveHandle(old, T0);
        await store.reserveHandle(kept, T0 + 1);
        await store.reserveHandle(reservation('theirs', 's2'), T0);
        const moved = reservation('moving', 's2', { reservedBy: 'bob', reservedAt: T0 + 2 * MINUTE, expiresAt: T0 + 20 * MINUTE });
        expect(await store.reserveHandle(moved, T0 + 2 * MINUTE)).toBe(true);
        expect(await store.listSessionHandles('s1', Number.NEGATIVE_INFINITY)).toEqual([kept]);
        expect((await store.listSessionHandles('s2', T0 + 2 * MINUTE)).map((h) => h.handle).sort()).toEqual(['moving', 'theirs']);
        // The sweep does not take the moved one on the old expiry, and takes it on the new one.
        expect(await store.takeExpiredHandles(T0 + 2 * MINUTE)).toEqual([]);
        expect(await store.takeExpiredHandles(T0 + 20 * MINUTE)).toEqual(expect.arrayContaining([moved]));
        expect(await store.listSessionHandles('s2', Number.NEGATIVE_INFINITY)).toEqual([]);
        expect(await store.listSessionHandles('s1', Number.NEGATIVE_INFINITY)).toEqual([]);
        // Released and consumed handles leave their session's list too.
        await store.reserveHandle(reservation('h1', 's3'), T0);
        await store.reserveHandle(reservation('h2', 's3', { reservedAt: T0 + 1 }), T0);
        await store.releaseHandle('h1', 's3');
        expect((await store.listSessionHandles('s3', T0)).map((h) => h.handle)).toEqual(['h2']);
        await store.consumeHandle('h2', T0);
        expect(await store.listSessionHandles('s3', Number.NEGATIVE_INFINITY)).toEqual([]);
      });

      it('takeExpiredHandles takes each expired reservation once, whatever the order the expiries were made in', async () => {
        const late = reservation('late', 's1', { expiresAt: T0 + 30 * MINUTE });
        const soon = reservation('soon', 's1', { expiresAt: T0 + 10 * MINUTE });
        const mid = reservation('mid', 's2', { expiresAt: T0 + 20 * MINUTE });
        for (const r of [late, soon, mid]) expect(await store.reserveHandle(r, T0)).toBe(true);
        expect(await store.takeExpiredHandles(T0 + 5 * MINUTE)).toEqual([]);
        expect(await store.takeExpiredHandles(T0 + 15 * MINUTE)).toEqual([soon]);
        expect(await store.takeExpiredHandles(T0 + 15 * MINUTE)).toEqual([]);
        expect(await store.takeExpiredHandles(T0 + 25 * MINUTE)).toEqual([mid]);
        expect(await store.getHandle('late', T0 + 25 * MINUTE)).toEqual(late);
        expect(await store.takeExpiredHandles(T0 + 30 * MINUTE)).toEqual([late]);
        expect(await store.takeExpiredHandles(Number.POSITIVE_INFINITY)).toEqual([]);
      });

      it('takeExpiredHandles stays exact through many reservations consumed, released and made anew', async () => {
        // Many short-lived reservations come and go; a few live long. None is lost or taken twice.
        const live = new Map<string, HandleReservation>();
        for (let i = 0; i < 300; i++) {
          const r = reservation(`h${i % 50}`, `s${i % 7}`, { reservedAt: T0 + i, expiresAt: T0 + i + (i % 3) * MINUTE + 1 });
          if (await store.reserveHandle(r, T0 + i)) live.set(r.handle, r);
          if (i % 4 === 0) {
            if (await store.consumeHandle(r.handle, T0 + i)) live.delete(r.handle);
          } else if (i % 4 === 1) {
            if (await store.releaseHandle(r.handle, r.sessionId)) live.delete(r.handle);
          }
          for (const h of await store.takeExpiredHandles(T0 + i)) {
            expect(h).toEqual(live.get(h.handle));
            expect(h.expiresAt).toBeLessThanOrEqual(T0 + i);
            live.delete(h.handle);
          }
        }
        for (const [, r] of live) expect(r.expiresAt).toBeGreaterThan(T0 + 299);
        const rest = await store.takeExpiredHandles(Number.POSITIVE_INFINITY);
        expect(rest.sort(byHandle)).toEqual([...live.values()].sort(byHandle));
        for (let s = 0; s < 7; s++) expect(await store.listSessionHandles(`s${s}`, Number.NEGATIVE_INFINITY)).toEqual([]);
      });

      it('takeExpiredHandles still finds long-lived reservations after many others came and went', async () => {
        // Reserved latest expiry first, so the store cannot rely on reservation order either.
        const keepers = Array.from({ length: 15 }, (_, i) => reservation(`keeper-${i}`, 's1', { expiresAt: T0 + (35 - i) * MINUTE }));
        for (const k of keepers) await store.reserveHandle(k, T0);
        for (let i = 0; i < 500; i++) {
          const expiresAt = i % 3 === 0 ? T0 + 20 * MINUTE - i : T0 + 60 * MINUTE + i; // before and after the keepers
          await store.reserveHandle(reservation(`brief-${i}`, 's2', { reservedAt: T0 + i, expiresAt }), T0 + i);
          if (i % 2 === 0) await store.consumeHandle(`brief-${i}`, T0 + i);
          else await store.releaseHandle(`brief-${i}`, 's2');
        }
        expect(await store.takeExpiredHandles(T0 + 20 * MINUTE)).toEqual([]);
        for (let m = 21; m <= 35; m++) expect(await store.takeExpiredHandles(T0 + m * MINUTE)).toEqual([keepers[35 - m]]);
        expect(await store.listSessionHandles('s1', Number.NEGATIVE_INFINITY)).toEqual([]);
        expect(await store.takeExpiredHandles(T0 + 120 * MINUTE)).toEqual([]);
      });

      it('takeExpiredHandles takes, sweep after sweep, exactly what has expired among many scattered expiries', async () => {
        let seed = 12345;
        const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
        const all: HandleReservation[] = [];
        for (let i = 0; i < 200; i++) {
          const r = reservation(`h${i}`, `s${i % 5}`, { expiresAt: T0 + Math.floor(rand() * 60) * MINUTE + MINUTE });
          expect(await store.reserveHandle(r, T0)).toBe(true);
          all.push(r);
        }
        for (let m = 0; m <= 61; m += 3) {
          const due = all.filter((r) => r.expiresAt <= T0 + m * MINUTE && r.expiresAt > T0 + (m - 3) * MINUTE);
          expect((await store.takeExpiredHandles(T0 + m * MINUTE)).sort(byHandle)).toEqual(due.sort(byHandle));
        }
        for (let i = 0; i < 5; i++) expect(await store.listSessionHandles(`s${i}`, Number.NEGATIVE_INFINITY)).toEqual([]);
      });
    });

    // ------------------------------------------------------------------ queue

    describe('queue', () => {
      it('lists waiting requests in the order they were enqueued (first come, first served), whatever their times', async () => {
        await store.enqueue(request('r2', T0 + 2));
        await store.enqueue(request('r1', T0 + 1));
        await store.enqueue(request('r3', T0 + 3));
        expect((await store.listQueue()).map((r) => r.requestId)).toEqual(['r2', 'r1', 'r3']);
        expect(await store.listQueue()).toContainEqual(request('r1', T0 + 1));
        expect((await store.queueOrder()).requestIds).toEqual(['r2', 'r1', 'r3']);
      });

      it('findRequestByTokenHash finds a waiting request by its token hash only', async () => {
        const r = request('r1', T0);
        await store.enqueue(r);
        expect(await store.findRequestByTokenHash('hash-of-r1')).toEqual(r);
        expect(await store.findRequestByTokenHash('hash-of-nobody')).toBeNull();
        expect(await store.findRequestByTokenHash('r1')).toBeNull();
      });

      it('claimRequest takes a waiting request exactly once and removes it from the queue', async () => {
        const r = request('r1', T0);
        await store.enqueue(r);
        await store.enqueue(request('r2', T0 + 1));
        expect(await store.claimRequest('r1')).toEqual({ request: r, version: 3, count: 1, next: null });
        expect(await store.claimRequest('r1')).toBeNull();
        expect(await store.findRequestByTokenHash('hash-of-r1')).toBeNull();
        expect((await store.listQueue()).map((x) => x.requestId)).toEqual(['r2']);
        expect(await store.claimRequest('unknown')).toBeNull();
        expect(await store.findRequestByTokenHash('hash-of-r2')).toEqual(request('r2', T0 + 1));
      });

      it('claimRequest with a head: a claim among the first `head` names the request now at place `head`', async () => {
        for (let i = 1; i <= 5; i++) await store.enqueue(request(`r${i}`, T0 + i));
        // r2 is among the first 3: r4 moves into place 3.
        expect((await store.claimRequest('r2', 3))?.next).toEqual(request('r4', T0 + 4));
        // r5 is 4th now, behind the head: nobody moves into it.
        expect((await store.claimRequest('r5', 3))?.next).toBeNull();
        // r1 is first, but only two would be left in three places: nobody is at place 3.
        expect((await store.claimRequest('r1', 3))?.next).toBeNull();
        expect((await store.listQueue()).map((x) => x.requestId)).toEqual(['r3', 'r4']);
      });

      it('of concurrent claims of one request, exactly one gets it (S1)', async () => {
        await store.enqueue(request('hot', T0));
        const results = await Promise.all(Array.from({ length: 10 }, () => store.claimRequest('hot')));
        expect(results.filter((x) => x !== null)).toEqual([{ request: request('hot', T0), version: 2, count: 0, next: null }]);
        expect(await store.listQueue()).toEqual([]);
        expect(await store.queueOrder()).toEqual({ version: 2, requestIds: [] });
      });

      it('the version starts at 0 and goes up by exactly one per enqueue and per successful claim, with the count after it', async () => {
        expect(await store.queueOrder()).toEqual({ version: 0, requestIds: [] });
        expect(await store.queueWindow(10)).toEqual({ version: 0, count: 0, requests: [] });
        expect(await store.enqueue(request('r1', T0))).toEqual({ version: 1, count: 1 });
        expect(await store.enqueue(request('r2', T0 + 1))).toEqual({ version: 2, count: 2 });
        expect(await store.enqueue(request('r3', T0 + 2))).toEqual({ version: 3, count: 3 });
        expect(await store.claimRequest('r2')).toMatchObject({ version: 4, count: 2 });
        // Failed claims, and a customer going away and coming back, leave the version alone.
        expect(await store.claimRequest('r2')).toBeNull();
        expect(await store.claimRequest('unknown')).toBeNull();
        await store.setRequestOffline('r1', T0 + 5);
        await store.setRequestOffline('r1', null);
        await store.setRequestOffline('unknown', T0 + 5);
        expect(await store.queueOrder()).toEqual({ version: 4, requestIds: ['r1', 'r3'] });
        expect(await store.claimRequest('r1')).toMatchObject({ version: 5, count: 1 });
        expect(await store.claimRequest('r3')).toMatchObject({ version: 6, count: 0 });
        expect(await store.enqueue(request('r4', T0 + 3))).toEqual({ version: 7, count: 1 });
        expect(await store.queueWindow(1)).toMatchObject({ version: 7, count: 1 });
      });

      it('of concurrent enqueues and claims, each gets a version of its own', async () => {
        const enqueued = await Promise.all(Array.from({ length: 10 }, (_, i) => store.enqueue(request(`r${i}`, T0 + i))));
        expect(enqueued.map((v) => v.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
        const claimed = await Promise.all(Array.from({ length: 10 }, (_, i) => store.claimRequest(`r${i}`)));
        expect(claimed.map((c) => c!.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i + 11));
        expect(claimed.map((c) => c!.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
      });

      it('queueWindow returns the first `limit` waiting requests in order, with the count and version, as copies', async () => {
        for (const [i, id] of ['r3', 'r1', 'r2', 'r5', 'r4'].entries()) await store.enqueue(request(id, T0 + 10 - i));
        await store.claimRequest('r2');
        const w = await store.queueWindow(2);
        expect(w).toEqual({ version: 6, count: 4, requests: [request('r3', T0 + 10), request('r1', T0 + 9)] });
        expect((await store.queueWindow(10)).requests.map((r) => r.requestId)).toEqual(['r3', 'r1', 'r5', 'r4']);
        expect((await store.queueWindow(4)).requests).toHaveLength(4);
        expect(await store.queueWindow(0)).toEqual({ version: 6, count: 4, requests: [] });
        // Copies: changing what a window returned changes nothing stored.
        w.requests[0]!.name = 'mutated';
        w.requests[0]!.offlineSince = T0;
        w.requests.pop();
        expect((await store.queueWindow(2)).requests).toEqual([request('r3', T0 + 10), request('r1', T0 + 9)]);
        expect(await store.listOfflineRequests()).toEqual([]);
      });

      it('queuePosition gives a waiting request its 1-based place as of the version, null once it is claimed', async () => {
        for (const id of ['a', 'b', 'c', 'd']) await store.enqueue(request(id, T0));
        expect(await store.queuePosition('a')).toEqual({ position: 1, version: 4 });
        expect(await store.queuePosition('c')).toEqual({ position: 3, version: 4 });
        expect(await store.queuePosition('d')).toEqual({ position: 4, version: 4 });
        expect(await store.queuePosition('unknown')).toBeNull();
        await store.claimRequest('b');
        expect(await store.queuePosition('b')).toBeNull();
        expect(await store.queuePosition('a')).toEqual({ position: 1, version: 5 });
        expect(await store.queuePosition('c')).toEqual({ position: 2, version: 5 });
        expect(await store.queuePosition('d')).toEqual({ position: 3, version: 5 });
        await store.claimRequest('a');
        await store.enqueue(request('e', T0));
        expect(await store.queuePosition('c')).toEqual({ position: 1, version: 7 });
        expect(await store.queuePosition('e')).toEqual({ position: 3, version: 7 });
        // Going offline does not lose the place.
        await store.setRequestOffline('c', T0 + 1);
        expect(await store.queuePosition('c')).toEqual({ position: 1, version: 7 });
      });

      it('queueOrder lists every waiting id in order with the version', async () => {
        expect(await store.queueOrder()).toEqual({ version: 0, requestIds: [] });
        for (const id of ['x', 'y', 'z']) await store.enqueue(request(id, T0));
        await store.claimRequest('x');
        await store.enqueue(request('w', T0 - 100));
        const order = await store.queueOrder();
        expect(order).toEqual({ version: 5, requestIds: ['y', 'z', 'w'] });
        order.requestIds.length = 0;
        expect((await store.queueOrder()).requestIds).toEqual(['y', 'z', 'w']);
      });

      it('listOfflineRequests lists the waiting requests whose customer is away, and no longer once back or claimed', async () => {
        expect(await store.listOfflineRequests()).toEqual([]);
        for (const id of ['r1', 'r2', 'r3', 'r4']) await store.enqueue(request(id, T0));
        await store.setRequestOffline('r3', T0 + 3);
        await store.setRequestOffline('r1', T0 + 1);
        await store.setRequestOffline('r2', T0 + 2);
        expect((await store.listOfflineRequests()).map((r) => r.requestId).sort()).toEqual(['r1', 'r2', 'r3']);
        expect(await store.listOfflineRequests()).toContainEqual(request('r3', T0, { offlineSince: T0 + 3 }));
        await store.setRequestOffline('r2', null);
        await store.claimRequest('r3');
        expect(await store.listOfflineRequests()).toEqual([request('r1', T0, { offlineSince: T0 + 1 })]);
        // Enqueued while already away (a store restored as is): listed too.
        await store.enqueue(request('r5', T0, { offlineSince: T0 + 5 }));
        expect((await store.listOfflineRequests()).map((r) => r.requestId).sort()).toEqual(['r1', 'r5']);
        // Copies.
        (await store.listOfflineRequests())[0]!.offlineSince = null;
        expect((await store.listOfflineRequests()).map((r) => r.offlineSince).sort()).toEqual([T0 + 1, T0 + 5]);
      });

      it('setRequestOffline records and clears when a waiting customer went away', async () => {
        await store.enqueue(request('r1', T0));
        await store.setRequestOffline('r1', T0 + 5);
        expect((await store.findRequestByTokenHash('hash-of-r1'))?.offlineSince).toBe(T0 + 5);
        expect((await store.claimRequest('r1'))?.request.offlineSince).toBe(T0 + 5);
        await store.enqueue(request('r2', T0));
        await store.setRequestOffline('r2', T0 + 5);
        await store.setRequestOffline('r2', null);
        expect((await store.listQueue())[0]?.offlineSince).toBeNull();
      });

      it('setRequestOffline on an unknown or claimed request is a no-op that does not resurrect it', async () => {
        await store.setRequestOffline('unknown', T0);
        await store.enqueue(request('r1', T0));
        await store.claimRequest('r1');
        await store.setRequestOffline('r1', T0 + 1);
        expect(await store.listQueue()).toEqual([]);
        expect(await store.findRequestByTokenHash('hash-of-r1')).toBeNull();
      });
    });

    // ------------------------------------------------------------------ sessions and participants

    describe('sessions and participants', () => {
      it('createSession stores the session and its participants', async () => {
        const s = await createSession('s1');
        expect(await store.getSession('s1')).toEqual(s);
        expect(await store.getSession('nope')).toBeNull();
        const [agent, customer] = participantsOf(s);
        expect(await store.getParticipant(s.agentParticipantId)).toEqual(agent);
        expect(await store.getParticipant(s.customerParticipantId)).toEqual(customer);
        expect(await store.listParticipants('s1')).toEqual(expect.arrayContaining([agent, customer]));
        expect(await store.listParticipants('s1')).toHaveLength(2);
      });

      it('returns copies: changing a returned session does not change the stored one', async () => {
        await createSession('s1');
        const got = await store.getSession('s1');
        got!.state = 'ended';
        got!.agentName = 'mallory';
        expect(await store.getSession('s1')).toEqual(session('s1'));
      });

      it('setOfflineSince sets and clears the agent and customer grace clocks independently', async () => {
        await createSession('s1');
        await store.setOfflineSince('s1', 'agent', T0 + 10);
        expect(await store.getSession('s1')).toMatchObject({ agentOfflineSince: T0 + 10, customerOfflineSince: null });
        await store.setOfflineSince('s1', 'customer', T0 + 20);
        expect(await store.getSession('s1')).toMatchObject({ agentOfflineSince: T0 + 10, customerOfflineSince: T0 + 20 });
        await store.setOfflineSince('s1', 'agent', null);
        expect(await store.getSession('s1')).toMatchObject({ agentOfflineSince: null, customerOfflineSince: T0 + 20 });
        await store.setOfflineSince('unknown', 'agent', T0); // no throw, no record
        expect(await store.getSession('unknown')).toBeNull();
      });

      it('endSession moves an active session to ended once and returns it only to that caller', async () => {
        await createSession('s1');
        const ended = await store.endSession('s1', 'ended_by_agent', T0 + 100);
        expect(ended).toEqual(session('s1', { state: 'ended', endedAt: T0 + 100, endReason: 'ended_by_agent' }));
        expect(await store.endSession('s1', 'customer_disconnected', T0 + 200)).toBeNull();
        expect(await store.getSession('s1')).toMatchObject({ state: 'ended', endedAt: T0 + 100, endReason: 'ended_by_agent' });
        expect(await store.endSession('unknown', 'ended_by_agent', T0)).toBeNull();
      });

      it('of concurrent endSession calls, exactly one wins and its reason sticks (S4)', async () => {
        await createSession('s1');
        const reasons: EndReason[] = ['ended_by_agent', 'ended_by_customer', 'agent_disconnected', 'customer_disconnected'];
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) => store.endSession('s1', reasons[i % 4]!, T0 + i)),
        );
        const winners = results.filter((x) => x !== null);
        expect(winners).toHaveLength(1);
        const w = results.findIndex((x) => x !== null);
        expect(await store.getSession('s1')).toMatchObject({ state: 'ended', endReason: reasons[w % 4], endedAt: T0 + w });
      });

      it('listActiveSessions lists active sessions only', async () => {
        await createSession('s1');
        await createSession('s2', { agentName: 'bob' });
        await createSession('s3');
        await store.endSession('s2', 'ended_by_agent', T0);
        expect((await store.listActiveSessions()).map((s) => s.sessionId).sort()).toEqual(['s1', 's3']);
      });

      it("listAgentSessions lists one agent's active sessions, oldest first (S6)", async () => {
        await createSession('s-late', { startedAt: T0 + 30 });
        await createSession('s-early', { startedAt: T0 + 10 });
        await createSession('s-mid', { startedAt: T0 + 20 });
        await createSession('s-bob', { agentName: 'bob' });
        await createSession('s-ended', { startedAt: T0 + 5 });
        await store.endSession('s-ended', 'ended_by_customer', T0 + 40);
        expect((await store.listAgentSessions('alice')).map((s) => s.sessionId)).toEqual(['s-early', 's-mid', 's-late']);
        expect((await store.listAgentSessions('bob')).map((s) => s.sessionId)).toEqual(['s-bob']);
        expect(await store.listAgentSessions('carol')).toEqual([]);
      });

      it('setLobby switches the admission lobby of one session', async () => {
        await createSession('s1');
        await createSession('s2');
        await store.setLobby('s1', true);
        expect((await store.getSession('s1'))?.lobby).toBe(true);
        expect((await store.getSession('s2'))?.lobby).toBe(false);
        await store.setLobby('s1', false);
        expect((await store.getSession('s1'))?.lobby).toBe(false);
        await store.setLobby('nobody', true); // no throw, no record
        expect(await store.getSession('nobody')).toBeNull();
      });

      it('putParticipant, getParticipant, listParticipants and setParticipantState', async () => {
        const s = await createSession('s1');
        await createSession('s2');
        const guest: ParticipantRecord = { participantId: 'g1', sessionId: 's1', role: 'guest', name: 'Gus', joinedAt: T0 + 5, state: 'active' };
        await store.putParticipant(guest);
        expect(await store.getParticipant('g1')).toEqual(guest);
        expect((await store.listParticipants('s1')).map((p) => p.participantId).sort()).toEqual(
          [s.agentParticipantId, s.customerParticipantId, 'g1'].sort(),
        );
        expect((await store.listParticipants('s2')).map((p) => p.participantId)).not.toContain('g1');
        await store.setParticipantState('g1', 'removed');
        expect(await store.getParticipant('g1')).toEqual({ ...guest, state: 'removed' });
        await store.setParticipantState('g1', 'left');
        expect((await store.getParticipant('g1'))?.state).toBe('left');
        expect(await store.setParticipantState('nobody', 'left')).toBe(false); // no throw, no record
        expect(await store.getParticipant('nobody')).toBeNull();
        // With `from`: a compare-and-set; of an admit and a decline of one waiting party, one wins.
        await store.putParticipant({ ...guest, participantId: 'w1', state: 'waiting' });
        const [admitted, declined] = await Promise.all([
          store.setParticipantState('w1', 'active', 'waiting'),
          store.setParticipantState('w1', 'declined', 'waiting'),
        ]);
        expect([admitted, declined].filter(Boolean)).toHaveLength(1);
        expect((await store.getParticipant('w1'))?.state).toBe(admitted ? 'active' : 'declined');
        expect(await store.setParticipantState('w1', 'active', 'waiting')).toBe(false);
        expect(await store.listParticipants('no-session')).toEqual([]);
      });

      it('addParticipantKey registers keys once each, up to a limit, atomically', async () => {
        await createSession('s1');
        const guest: ParticipantRecord = { participantId: 'g1', sessionId: 's1', role: 'guest', name: 'Gus', joinedAt: T0 + 5, state: 'active' };
        await store.putParticipant(guest);
        expect(await store.addParticipantKey('g1', 'k1', 3)).toBe('added');
        expect(await store.addParticipantKey('g1', 'k1', 3)).toBe('known');
        // Side by side: each distinct key once, never past the limit.
        const results = await Promise.all(['k2', 'k3', 'k4', 'k2'].map((k) => store.addParticipantKey('g1', k, 3)));
        expect(results.filter((r) => r === 'added')).toHaveLength(2);
        expect((await store.getParticipant('g1'))?.keys).toHaveLength(3);
        expect(await store.addParticipantKey('g1', 'k5', 3)).toBe('full');
        expect(await store.addParticipantKey('nobody', 'k1', 3)).toBe('not_found');
        expect((await store.listParticipants('s1')).find((p) => p.participantId === 'g1')?.keys).toEqual((await store.getParticipant('g1'))?.keys);
        // Copies: changing what a read returned changes nothing stored.
        (await store.getParticipant('g1'))!.keys!.push('mutated');
        expect((await store.getParticipant('g1'))?.keys).toHaveLength(3);
      });

      it('purgeEndedSessions forgets sessions that ended before the cut-off, with their participants and credentials', async () => {
        const old = await createSession('old');
        await createSession('recent');
        await createSession('boundary');
        const active = await createSession('active');
        await store.putParticipant({ participantId: 'old-guest', sessionId: 'old', role: 'guest', name: 'G', joinedAt: T0, state: 'active' });
        await store.putCredential('cred-old', credential('old', old.agentParticipantId));
        await store.putCredential('cred-active', credential('active', active.agentParticipantId));
        await store.endSession('old', 'ended_by_agent', T0 + 100);
        await store.endSession('boundary', 'ended_by_agent', T0 + 200);
        await store.endSession('recent', 'ended_by_agent', T0 + 300);

        expect(await store.purgeEndedSessions(T0 + 200)).toBe(1);
        expect(await store.getSession('old')).toBeNull();
        expect(await store.listParticipants('old')).toEqual([]);
        expect(await store.getParticipant('old-guest')).toBeNull();
        expect(await store.getParticipant(old.agentParticipantId)).toBeNull();
        expect(await store.getCredential('cred-old')).toBeNull();
        // Ended exactly at the cut-off, ended later, and active sessions stay.
        expect((await store.getSession('boundary'))?.state).toBe('ended');
        expect((await store.getSession('recent'))?.state).toBe('ended');
        expect((await store.getSession('active'))?.state).toBe('active');
        expect(await store.getCredential('cred-active')).toEqual(credential('active', active.agentParticipantId));
        expect(await store.listParticipants('active')).toHaveLength(2);

        expect(await store.purgeEndedSessions(T0 + 200)).toBe(0);
        expect(await store.purgeEndedSessions(Number.POSITIVE_INFINITY)).toBe(2);
        expect((await store.getSession('active'))?.state).toBe('active');
      });
      it('purgeEndedSessions takes the sessions that ended before the cut-off whatever the order they ended in', async () => {
        for (const id of ['a', 'b', 'c', 'd']) await createSession(id);
        // Ended out of time order (a clock step back): each is purged by its own endedAt.
        await store.endSession('a', 'ended_by_agent', T0 + 300);
        await store.endSession('b', 'ended_by_agent', T0 + 100);
        await store.endSession('c', 'ended_by_agent', T0 + 200);
        await store.endSession('d', 'ended_by_agent', T0 + 100);
        expect(await store.purgeEndedSessions(T0 + 100)).toBe(0);
        expect(await store.purgeEndedSessions(T0 + 101)).toBe(2);
        expect(await store.getSession('b')).toBeNull();
        expect(await store.getSession('d')).toBeNull();
        expect(await store.getSession('c')).toMatchObject({ state: 'ended' });
        expect(await store.purgeEndedSessions(T0 + 250)).toBe(1);
        expect(await store.getSession('c')).toBeNull();
        expect(await store.getSession('a')).toMatchObject({ state: 'ended' });
        expect(await store.purgeEndedSessions(T0 + 301)).toBe(1);
        expect(await store.purgeEndedSessions(Number.POSITIVE_INFINITY)).toBe(0);
      });

      it('purgeEndedSessions removes the participants and credentials of the purged sessions only', async () => {
        const gone = await createSession('gone');
        const ended = await createSession('ended-later');
        const live = await createSession('live');
        for (const [sid, s] of [['gone', gone], ['ended-later', ended], ['live', live]] as const) {
          await store.putParticipant({ participantId: `${sid}-guest`, sessionId: sid, role: 'guest', name: 'G', joinedAt: T0 + 1, state: 'active' });
          await store.putCredential(`cred-${sid}-agent`, credential(sid, s.agentParticipantId));
          await store.putCredential(`cred-${sid}-guest`, credential(sid, `${sid}-guest`));
        }
        await store.endSession('gone', 'ended_by_agent', T0 + 10);
        await store.endSession('ended-later', 'ended_by_agent', T0 + 20);
        expect(await store.purgeEndedSessions(T0 + 15)).toBe(1);
        for (const id of [gone.agentParticipantId, gone.customerParticipantId, 'gone-guest']) expect(await store.getParticipant(id)).toBeNull();
        expect(await store.listParticipants('gone')).toEqual([]);
        expect(await store.getCredential('cred-gone-agent')).toBeNull();
        expect(await store.getCredential('cred-gone-guest')).toBeNull();
        expect(await store.revokeCredentials({ sessionId: 'gone' }, 'session_ended')).toBe(0);
        for (const sid of ['ended-later', 'live']) {
          expect(await store.listParticipants(sid)).toHaveLength(3);
          expect(await store.getParticipant(`${sid}-guest`)).toMatchObject({ sessionId: sid });
          expect(await store.getCredential(`cred-${sid}-agent`)).toMatchObject({ sessionId: sid, revoked: null });
          expect(await store.getCredential(`cred-${sid}-guest`)).toMatchObject({ sessionId: sid, revoked: null });
        }
      });

      it('listSessionsInGrace lists the active sessions whose agent or customer grace clock runs', async () => {
        expect(await store.listSessionsInGrace()).toEqual([]);
        const agentAway = await createSession('agent-away', { agentOfflineSince: T0 + 1 });
        await createSession('customer-away', { customerOfflineSince: T0 + 2 });
        await createSession('both-away', { agentOfflineSince: T0 + 3, customerOfflineSince: T0 + 4 });
        await createSession('attached');
        const ids = async () => (await store.listSessionsInGrace()).map((s) => s.sessionId).sort();
        expect(await ids()).toEqual(['agent-away', 'both-away', 'customer-away']);
        expect(await store.listSessionsInGrace()).toContainEqual(agentAway);

        await store.setOfflineSince('attached', 'customer', T0 + 5);
        expect(await ids()).toEqual(['agent-away', 'attached', 'both-away', 'customer-away']);
        await store.setOfflineSince('agent-away', 'agent', null);
        await store.setOfflineSince('both-away', 'agent', null); // the customer's clock still runs
        expect(await ids()).toEqual(['attached', 'both-away', 'customer-away']);
        await store.setOfflineSince('both-away', 'customer', null);
        expect(await ids()).toEqual(['attached', 'customer-away']);
        await store.setOfflineSince('attached', 'agent', T0 + 6); // both now
        await store.setOfflineSince('attached', 'customer', null);
        expect(await ids()).toEqual(['attached', 'customer-away']);

        // An ended session is no longer in grace, whatever its clocks, nor after setOfflineSince.
        await store.endSession('customer-away', 'customer_disconnected', T0 + 10);
        expect(await ids()).toEqual(['attached']);
        await store.setOfflineSince('customer-away', 'agent', T0 + 11);
        expect(await ids()).toEqual(['attached']);
        await store.setOfflineSince('unknown', 'agent', T0);
        expect(await ids()).toEqual(['attached']);
        // Copies.
        (await store.listSessionsInGrace())[0]!.state = 'ended';
        expect(await store.listSessionsInGrace()).toEqual([
          session('attached', { agentOfflineSince: T0 + 6, customerOfflineSince: null }),
        ]);
      });

      it('listActiveSessions and listAgentSessions leave out sessions once ended, and return copies', async () => {
        await createSession('s1', { startedAt: T0 + 2 });
        await createSession('s2', { startedAt: T0 + 1 });
        await createSession('s3', { agentName: 'bob' });
        await store.endSession('s2', 'ended_by_agent', T0 + 5);
        expect((await store.listActiveSessions()).map((s) => s.sessionId).sort()).toEqual(['s1', 's3']);
        expect((await store.listAgentSessions('alice')).map((s) => s.sessionId)).toEqual(['s1']);
        (await store.listAgentSessions('alice'))[0]!.agentName = 'mallory';
        (await store.listActiveSessions())[0]!.state = 'ended';
        expect(await store.listAgentSessions('alice')).toEqual([session('s1', { startedAt: T0 + 2 })]);
        expect(await store.listAgentSessions('mallory')).toEqual([]);
        await store.endSession('s1', 'ended_by_agent', T0 + 6);
        await store.endSession('s3', 'ended_by_agent', T0 + 6);
        expect(await store.listActiveSessions()).toEqual([]);
        expect(await store.listAgentSessions('alice')).toEqual([]);
        expect(await store.listAgentSessions('bob')).toEqual([]);
      });

      it('a participant put again under another session moves to that session', async () => {
        await createSession('s1');
        await createSession('s2');
        const guest: ParticipantRecord = { participantId: 'g1', sessionId: 's1', role: 'guest', name: 'Gus', joinedAt: T0 + 5, state: 'active' };
        await store.putParticipant(guest);
        await store.putParticipant({ ...guest, sessionId: 's2' });
        expect((await store.listParticipants('s1')).map((p) => p.participantId)).not.toContain('g1');
        expect((await store.listParticipants('s2')).map((p) => p.participantId)).toContain('g1');
        // Copies from the list.
        (await store.listParticipants('s2')).find((p) => p.participantId === 'g1')!.state = 'removed';
        expect((await store.getParticipant('g1'))?.state).toBe('active');
      });
    });

    // ------------------------------------------------------------------ credentials

    describe('credentials', () => {
      it('putCredential and getCredential by hash', async () => {
        const c = credential('s1', 'p1');
        await store.putCredential('h1', c);
        expect(await store.getCredential('h1')).toEqual(c);
        expect(await store.getCredential('h2')).toBeNull();
      });

      it('revokeCredentials with only a session revokes every live credential of that session and no other', async () => {
        await store.putCredential('a1', credential('s1', 'agent'));
        await store.putCredential('a2', credential('s1', 'agent')); // a second console's credential
        await store.putCredential('c1', credential('s1', 'customer'));
        await store.putCredential('x1', credential('s2', 'agent-2'));
        expect(await store.revokeCredentials({ sessionId: 's1' }, 'session_ended')).toBe(3);
        for (const h of ['a1', 'a2', 'c1']) expect((await store.getCredential(h))?.revoked).toBe('session_ended');
        expect(await store.getCredential('x1')).toEqual(credential('s2', 'agent-2'));
      });

      it('revokeCredentials with a participant revokes only that participant in that session', async () => {
        await store.putCredential('g1', credential('s1', 'guest-1'));
        await store.putCredential('g1b', credential('s1', 'guest-1'));
        await store.putCredential('g2', credential('s1', 'guest-2'));
        await store.putCredential('other', credential('s2', 'guest-1')); // same id, other session
        expect(await store.revokeCredentials({ sessionId: 's1', participantId: 'guest-1' }, 'removed')).toBe(2);
        expect((await store.getCredential('g1'))?.revoked).toBe('removed');
        expect((await store.getCredential('g1b'))?.revoked).toBe('removed');
        expect((await store.getCredential('g2'))?.revoked).toBeNull();
        expect((await store.getCredential('other'))?.revoked).toBeNull();
      });

      it('revokeCredentials keeps the first reason and counts only credentials it revoked', async () => {
        await store.putCredential('g1', credential('s1', 'guest-1'));
        await store.putCredential('c1', credential('s1', 'customer'));
        expect(await store.revokeCredentials({ sessionId: 's1', participantId: 'guest-1' }, 'left')).toBe(1);
        expect(await store.revokeCredentials({ sessionId: 's1' }, 'session_ended')).toBe(1);
        expect((await store.getCredential('g1'))?.revoked).toBe('left');
        expect((await store.getCredential('c1'))?.revoked).toBe('session_ended');
        expect(await store.revokeCredentials({ sessionId: 's1' }, 'session_ended')).toBe(0);
        expect(await store.revokeCredentials({ sessionId: 'none' }, 'session_ended')).toBe(0);
      });
      it('revokeCredentials touches only the given session, among many', async () => {
        for (let i = 0; i < 5; i++) {
          await store.putCredential(`agent-${i}`, credential(`s${i}`, 'agent'));
          await store.putCredential(`guest-${i}`, credential(`s${i}`, 'guest'));
        }
        expect(await store.revokeCredentials({ sessionId: 's2' }, 'session_ended')).toBe(2);
        expect(await store.revokeCredentials({ sessionId: 's3', participantId: 'guest' }, 'removed')).toBe(1);
        for (let i = 0; i < 5; i++) {
          expect((await store.getCredential(`agent-${i}`))?.revoked).toBe(i === 2 ? 'session_ended' : null);
          expect((await store.getCredential(`guest-${i}`))?.revoked).toBe(i === 2 ? 'session_ended' : i === 3 ? 'removed' : null);
        }
        // A credential put again under another session belongs to that session only.
        await store.putCredential('agent-0', credential('s9', 'agent'));
        expect(await store.revokeCredentials({ sessionId: 's0' }, 'session_ended')).toBe(1);
        expect((await store.getCredential('agent-0'))?.revoked).toBeNull();
        expect(await store.revokeCredentials({ sessionId: 's9' }, 'session_ended')).toBe(1);
        // Copies: changing a read credential changes nothing stored.
        (await store.getCredential('guest-4'))!.revoked = 'left';
        expect((await store.getCredential('guest-4'))?.revoked).toBeNull();
      });
    });

    // ------------------------------------------------------------------ peers

    describe('peers', () => {
      it('putPeer, getPeer and listPeers by session', async () => {
        const p1 = peer('p1', 's1', 'agent');
        const p2 = peer('p2', 's1', 'customer');
        const p3 = peer('p3', 's2', 'agent-2');
        for (const p of [p1, p2, p3]) await store.putPeer(p);
        expect(await store.getPeer('p1')).toEqual(p1);
        expect(await store.getPeer('nope')).toBeNull();
        expect((await store.listPeers('s1')).sort((a, b) => a.peerId.localeCompare(b.peerId))).toEqual([p1, p2]);
        expect(await store.listPeers('s2')).toEqual([p3]);
        expect(await store.listPeers('s3')).toEqual([]);
      });

      it('deletePeer returns the peer once, then null; the others stay', async () => {
        const p1 = peer('p1', 's1', 'agent');
        const p2 = peer('p2', 's1', 'agent'); // one participant, two tabs
        await store.putPeer(p1);
        await store.putPeer(p2);
        expect(await store.deletePeer('p1')).toEqual(p1);
        expect(await store.deletePeer('p1')).toBeNull();
        expect(await store.getPeer('p1')).toBeNull();
        expect(await store.listPeers('s1')).toEqual([p2]);
        expect(await store.deletePeer('never')).toBeNull();
      });

      it('of concurrent deletions of one peer, exactly one gets it (one peer_left per peer)', async () => {
        await store.putPeer(peer('p1', 's1', 'agent'));
        const results = await Promise.all(Array.from({ length: 5 }, () => store.deletePeer('p1')));
        expect(results.filter((x) => x !== null)).toHaveLength(1);
      });

      it('markPeerAway marks a peer away only while the named connection still holds it', async () => {
        const p1 = peer('p1', 's1', 'agent');
        await store.putPeer(p1);
        expect(await store.markPeerAway('p1', 'some-other-connection', T0)).toBeNull();
        expect(await store.getPeer('p1')).toEqual(p1);
        const away = { ...p1, connectionId: null, disconnectedAt: T0 };
        expect(await store.markPeerAway('p1', 'conn-p1', T0)).toEqual(away);
        expect(await store.getPeer('p1')).toEqual(away);
        // Already away: the same connection going again changes nothing.
        expect(await store.markPeerAway('p1', 'conn-p1', T0 + MINUTE)).toBeNull();
        expect(await store.getPeer('p1')).toEqual(away);
        expect(await store.markPeerAway('never', 'conn-never', T0)).toBeNull();
      });

      it('deletePeerIfAway deletes a peer only while it is away since the given time; listAwayPeers lists the away', async () => {
        const p1 = peer('p1', 's1', 'agent');
        const p2 = peer('p2', 's2', 'customer');
        await store.putPeer(p1);
        await store.putPeer(p2);
        expect(await store.listAwayPeers()).toEqual([]);
        expect(await store.deletePeerIfAway('p1', T0)).toBeNull(); // connected
        await store.markPeerAway('p1', 'conn-p1', T0);
        await store.markPeerAway('p2', 'conn-p2', T0 + 1);
        expect((await store.listAwayPeers()).map((p) => p.peerId).sort()).toEqual(['p1', 'p2']);
        // Taken back since: not deleted.
        await store.putPeer({ ...p2, connectionId: 'conn-p2-again' });
        expect(await store.deletePeerIfAway('p2', T0 + 1)).toBeNull();
        expect(await store.getPeer('p2')).toMatchObject({ connectionId: 'conn-p2-again' });
        expect(await store.deletePeerIfAway('p1', T0 + 5)).toBeNull(); // away since another time
        const away = { ...p1, connectionId: null, disconnectedAt: T0 };
        expect(await store.deletePeerIfAway('p1', T0)).toEqual(away);
        expect(await store.deletePeerIfAway('p1', T0)).toBeNull();
        expect(await store.listAwayPeers()).toEqual([]);
        // A peer put away (a store restored as is) is listed; deleting it unlists it.
        await store.putPeer({ ...peer('p3', 's1', 'guest'), connectionId: null, disconnectedAt: T0 });
        expect((await store.listAwayPeers()).map((p) => p.peerId)).toEqual(['p3']);
        await store.deletePeer('p3');
        expect(await store.listAwayPeers()).toEqual([]);
      });

      it('a tab takes its peer back on a new connection; the old connection going later changes nothing', async () => {
        const p1 = peer('p1', 's1', 'agent');
        await store.putPeer(p1);
        const taken = { ...p1, connectionId: 'conn-new' };
        await store.putPeer(taken);
        expect(await store.markPeerAway('p1', 'conn-p1', T0)).toBeNull();
        expect(await store.getPeer('p1')).toEqual(taken);
        expect(await store.listPeers('s1')).toEqual([taken]);
      });
      it('a peer put again under another session moves to that session; listPeers returns copies', async () => {
        const p1 = peer('p1', 's1', 'agent');
        await store.putPeer(p1);
        await store.putPeer({ ...p1, sessionId: 's2' });
        expect(await store.listPeers('s1')).toEqual([]);
        expect(await store.listPeers('s2')).toEqual([{ ...p1, sessionId: 's2' }]);
        (await store.listPeers('s2'))[0]!.connectionId = null;
        expect(await store.getPeer('p1')).toEqual({ ...p1, sessionId: 's2' });
        await store.deletePeer('p1');
        expect(await store.listPeers('s2')).toEqual([]);
      });
    });

    // ------------------------------------------------------------------ nodes, request holds and turns

    describe('nodes, request holds and turns', () => {
      const SECOND = 1000;
      const byPeerId = (a: PeerRecord, b: PeerRecord) => a.peerId.localeCompare(b.peerId);
      const onNode = (peerId: string, sessionId: string, nodeId: string, socketId = `sock-${peerId}`): PeerRecord => ({
        peerId,
        sessionId,
        participantId: `${peerId}-participant`,
        connectionId: connectionIdOf(nodeId, socketId),
        disconnectedAt: null,
      });
      const holdsOf = async (nodeId: string) =>
        (await store.listNodeRequestHolds(nodeId)).sort((a, b) => `${a.requestId} ${a.connectionId}`.localeCompare(`${b.requestId} ${b.connectionId}`));

      it('takeExpiredNodes takes the nodes whose lease ran out at or before now, each once; renewing extends a lease', async () => {
        await store.renewNodeLease('n1', T0 + 10 * SECOND);
        await store.renewNodeLease('n2', T0 + 20 * SECOND);
        await store.renewNodeLease('n3', T0 + 30 * SECOND);
        expect(await store.takeExpiredNodes(T0 + 10 * SECOND - 1)).toEqual([]);
        expect(await store.takeExpiredNodes(T0 + 10 * SECOND)).toEqual(['n1']);
        expect(await store.takeExpiredNodes(T0 + 10 * SECOND)).toEqual([]);
        // n2 renews in time: its lease now runs past n3's.
        await store.renewNodeLease('n2', T0 + 40 * SECOND);
        expect(await store.takeExpiredNodes(T0 + 35 * SECOND)).toEqual(['n3']);
        expect(await store.takeExpiredNodes(T0 + 39 * SECOND)).toEqual([]);
        // A node taken as dead that comes back holds a lease again.
        await store.renewNodeLease('n1', T0 + 50 * SECOND);
        expect((await store.takeExpiredNodes(Number.POSITIVE_INFINITY)).sort()).toEqual(['n1', 'n2']);
        expect(await store.takeExpiredNodes(Number.POSITIVE_INFINITY)).toEqual([]);
      });

      it('renewNodeLease says whether the node still held a lease: not when new, taken by the sweep or dropped', async () => {
        expect(await store.renewNodeLease('n1', T0 + 10 * SECOND)).toBe(false); // new
        expect(await store.renewNodeLease('n1', T0 + 20 * SECOND)).toBe(true);
        // Run out but not taken yet: still held (its connections were not counted as gone).
        expect(await store.renewNodeLease('n1', T0 + 5 * SECOND)).toBe(true);
        expect(await store.takeExpiredNodes(T0 + 5 * SECOND)).toEqual(['n1']);
        // Taken: the node comes back to a lease of its own, and is told it had none.
        expect(await store.renewNodeLease('n1', T0 + 30 * SECOND)).toBe(false);
        expect(await store.renewNodeLease('n1', T0 + 40 * SECOND)).toBe(true);
        await store.dropNodeLease('n1');
        expect(await store.renewNodeLease('n1', T0 + 50 * SECOND)).toBe(false);
        // Leases of other nodes change nothing.
        expect(await store.renewNodeLease('n2', T0 + 50 * SECOND)).toBe(false);
      });

      it('dropNodeLease forgets a lease: a node that left cleanly is never taken as expired', async () => {
        await store.renewNodeLease('leaving', T0 + SECOND);
        await store.renewNodeLease('staying', T0 + SECOND);
        await store.dropNodeLease('leaving');
        await store.dropNodeLease('never-had-one');
        expect(await store.takeExpiredNodes(T0 + 2 * SECOND)).toEqual(['staying']);
      });

      it('of concurrent takeExpiredNodes calls (several sweeps), each expired node goes to exactly one', async () => {
        const nodes = Array.from({ length: 8 }, (_, i) => `node-${i}`);
        for (const [i, n] of nodes.entries()) await store.renewNodeLease(n, T0 + i * SECOND);
        await store.renewNodeLease('alive', T0 + 60 * SECOND);
        const taken = (await Promise.all(Array.from({ length: 10 }, () => store.takeExpiredNodes(T0 + 10 * SECOND)))).flat();
        expect(taken.sort()).toEqual([...nodes].sort());
      });

      it("listNodePeers lists the connected peers whose connection is the node's, and no longer once away, deleted or moved", async () => {
        const a1 = onNode('a1', 's1', 'node-a');
        const a2 = onNode('a2', 's2', 'node-a');
        const b1 = onNode('b1', 's1', 'node-b');
        for (const p of [a1, a2, b1]) await store.putPeer(p);
        // Without a node in its connection id, and away from the start: on no node's list.
        await store.putPeer({ ...onNode('plain', 's1', 'node-a'), connectionId: 'conn-plain' });
        await store.putPeer({ ...onNode('gone', 's1', 'node-a'), connectionId: null, disconnectedAt: T0 });
        expect((await store.listNodePeers('node-a')).sort(byPeerId)).toEqual([a1, a2]);
        expect(await store.listNodePeers('node-b')).toEqual([b1]);
        expect(await store.listNodePeers('node-c')).toEqual([]);
        // A node id that is a prefix of another is a node of its own.
        expect(await store.listNodePeers('node')).toEqual([]);

        // Marked away: off the list; the tab taking it back on the same node: on it again.
        await store.markPeerAway('a1', a1.connectionId!, T0 + 1);
        expect(await store.listNodePeers('node-a')).toEqual([a2]);
        const back = onNode('a1', 's1', 'node-a', 'sock-new');
        await store.putPeer(back);
        expect((await store.listNodePeers('node-a')).sort(byPeerId)).toEqual([back, a2]);
        // Taken over on another node's connection: it moves.
        const moved = onNode('a2', 's2', 'node-b');
        await store.putPeer(moved);
        expect(await store.listNodePeers('node-a')).toEqual([back]);
        expect((await store.listNodePeers('node-b')).sort(byPeerId)).toEqual([moved, b1]);
        // Deleted, or retired after being away: gone from the list.
        await store.deletePeer('b1');
        await store.markPeerAway('a1', back.connectionId!, T0 + 2);
        await store.deletePeerIfAway('a1', T0 + 2);
        expect(await store.listNodePeers('node-a')).toEqual([]);
        expect(await store.listNodePeers('node-b')).toEqual([moved]);
        // Copies.
        (await store.listNodePeers('node-b'))[0]!.connectionId = null;
        expect(await store.getPeer('a2')).toEqual(moved);
      });

      it('holdRequest records which connections hold a waiting request; releaseRequest says how many still do', async () => {
        await store.enqueue(request('r1', T0));
        await store.enqueue(request('r2', T0 + 1));
        const tab1 = connectionIdOf('node-a', 'sock-1');
        const tab2 = connectionIdOf('node-b', 'sock-2');
        const tab3 = connectionIdOf('node-a', 'sock-3');
        await store.holdRequest('r1', tab1);
        await store.holdRequest('r1', tab1); // idempotent
        await store.holdRequest('r1', tab2);
        await store.holdRequest('r2', tab3);
        expect(await holdsOf('node-a')).toEqual([
          { requestId: 'r1', connectionId: tab1 },
          { requestId: 'r2', connectionId: tab3 },
        ]);
        expect(await holdsOf('node-b')).toEqual([{ requestId: 'r1', connectionId: tab2 }]);
        expect(await holdsOf('node-c')).toEqual([]);

        expect(await store.releaseRequest('r1', tab1, T0)).toBe(1);
        expect(await store.releaseRequest('r1', tab1, T0)).toBe(1); // released already: nothing changes
        expect(await store.releaseRequest('r1', connectionIdOf('node-a', 'never-held'), T0)).toBe(1);
        expect(await holdsOf('node-a')).toEqual([{ requestId: 'r2', connectionId: tab3 }]);
        expect(await store.releaseRequest('r1', tab2, T0)).toBe(0);
        expect(await holdsOf('node-b')).toEqual([]);
        expect(await store.releaseRequest('unknown', tab2, T0)).toBe(0);
        // Held again after all had let go (a tab reconnecting).
        await store.holdRequest('r1', tab2);
        expect(await store.releaseRequest('r1', tab1, T0)).toBe(1);
      });

      it('holdRequest on a request that is not waiting does nothing', async () => {
        const tab = connectionIdOf('node-a', 'sock-1');
        await store.holdRequest('unknown', tab);
        await store.enqueue(request('r1', T0));
        await store.claimRequest('r1');
        await store.holdRequest('r1', tab);
        expect(await store.listNodeRequestHolds('node-a')).toEqual([]);
        expect(await store.releaseRequest('r1', connectionIdOf('node-a', 'sock-other'), T0)).toBe(0);
        expect(await store.releaseRequest('unknown', connectionIdOf('node-a', 'sock-other'), T0)).toBe(0);
      });

      it('a hold puts the request online, and the release of its last hold puts it offline, in the same step', async () => {
        await store.enqueue(request('r1', T0, { offlineSince: T0 }));
        const tab1 = connectionIdOf('node-a', 'sock-1');
        const tab2 = connectionIdOf('node-b', 'sock-2');
        const offlineSince = async () => (await store.findRequestByTokenHash('hash-of-r1'))?.offlineSince;
        const offline = async () => (await store.listOfflineRequests()).map((r) => r.requestId);
        expect(await offline()).toEqual(['r1']);
        await store.holdRequest('r1', tab1);
        expect(await offlineSince()).toBeNull();
        expect(await offline()).toEqual([]);
        await store.holdRequest('r1', tab2);
        expect(await store.releaseRequest('r1', tab1, T0 + 5)).toBe(1);
        expect(await offlineSince()).toBeNull();
        expect(await store.releaseRequest('r1', tab2, T0 + 7)).toBe(0);
        expect(await offlineSince()).toBe(T0 + 7);
        expect(await offline()).toEqual(['r1']);
        // A release that removed nothing (a second goodbye, a stranger) leaves the clock alone.
        expect(await store.releaseRequest('r1', tab2, T0 + 9)).toBe(0);
        expect(await store.releaseRequest('r1', connectionIdOf('node-c', 'never'), T0 + 9)).toBe(0);
        expect(await offlineSince()).toBe(T0 + 7);
        // A tab holding it again: online again.
        await store.holdRequest('r1', tab2);
        expect(await offlineSince()).toBeNull();
        expect(await offline()).toEqual([]);
      });

      it('an expired node stays listed as being reaped until finishReaping; renewing does not bring its lease back as held', async () => {
        await store.renewNodeLease('dead', T0 + SECOND);
        await store.renewNodeLease('alive', T0 + 60 * SECOND);
        expect(await store.listReapingNodes()).toEqual([]);
        expect(await store.takeExpiredNodes(T0 + 2 * SECOND)).toEqual(['dead']);
        expect(await store.listReapingNodes()).toEqual(['dead']);
        expect(await store.takeExpiredNodes(T0 + 3 * SECOND)).toEqual([]);
        expect(await store.listReapingNodes()).toEqual(['dead']);
        // The "dead" node was only cut off: it learns its lease was taken.
        expect(await store.renewNodeLease('dead', T0 + 20 * SECOND)).toBe(false);
        await store.finishReaping('dead');
        await store.finishReaping('never-reaped');
        expect(await store.listReapingNodes()).toEqual([]);
      });

      it("claiming a request drops its holds, on every node, and leaves other requests' holds", async () => {
        await store.enqueue(request('r1', T0));
        await store.enqueue(request('r2', T0 + 1));
        const tab1 = connectionIdOf('node-a', 'sock-1');
        const tab2 = connectionIdOf('node-b', 'sock-2');
        await store.holdRequest('r1', tab1);
        await store.holdRequest('r1', tab2);
        await store.holdRequest('r2', tab1);
        expect(await store.claimRequest('r1')).not.toBeNull();
        expect(await holdsOf('node-a')).toEqual([{ requestId: 'r2', connectionId: tab1 }]);
        expect(await holdsOf('node-b')).toEqual([]);
        // Its holds are gone: a tab letting go later finds none left.
        expect(await store.releaseRequest('r1', tab1, T0)).toBe(0);
        expect(await store.releaseRequest('r2', tab1, T0)).toBe(0);
        expect(await holdsOf('node-a')).toEqual([]);
      });

      it('takeTurn: the owner may take its turn again, another owner only once the turn has run out', async () => {
        expect(await store.takeTurn('sweep', 'node-a', T0, 10 * SECOND)).toBe(true);
        expect(await store.takeTurn('sweep', 'node-b', T0 + 1, 10 * SECOND)).toBe(false);
        // The owner renews: its turn now lasts until T0 + 15 s.
        expect(await store.takeTurn('sweep', 'node-a', T0 + 5 * SECOND, 10 * SECOND)).toBe(true);
        expect(await store.takeTurn('sweep', 'node-b', T0 + 10 * SECOND, 10 * SECOND)).toBe(false);
        expect(await store.takeTurn('sweep', 'node-b', T0 + 15 * SECOND - 1, 10 * SECOND)).toBe(false);
        // Run out (at `until`): another owner takes it, and holds it against the first.
        expect(await store.takeTurn('sweep', 'node-b', T0 + 15 * SECOND, 10 * SECOND)).toBe(true);
        expect(await store.takeTurn('sweep', 'node-a', T0 + 16 * SECOND, 10 * SECOND)).toBe(false);
        // Turns of other names are independent.
        expect(await store.takeTurn('purge', 'node-a', T0 + 16 * SECOND, 10 * SECOND)).toBe(true);
      });

      it('of concurrent takeTurn calls by different owners, exactly one gets the turn', async () => {
        const owners = Array.from({ length: 10 }, (_, i) => `node-${i}`);
        const results = await Promise.all(owners.map((o) => store.takeTurn('sweep', o, T0, 10 * SECOND)));
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = owners[results.indexOf(true)]!;
        for (const o of owners) expect(await store.takeTurn('sweep', o, T0 + SECOND, 10 * SECOND)).toBe(o === winner);
      });
    });

    // ------------------------------------------------------------------ agent tokens

    describe('agent tokens', () => {
      it('getAgentToken returns a token until it expires (at expiresAt), then never again', async () => {
        const t = { name: 'alice', issuedAt: T0, expiresAt: T0 + 60 * MINUTE };
        await store.putAgentToken('th', t);
        expect(await store.getAgentToken('th', T0)).toEqual(t);
        expect(await store.getAgentToken('th', t.expiresAt - 1)).toEqual(t);
        expect(await store.getAgentToken('th', t.expiresAt)).toBeNull();
        expect(await store.getAgentToken('th', t.expiresAt + MINUTE)).toBeNull();
        expect(await store.getAgentToken('unknown', T0)).toBeNull();
      });

      it('deleteAgentToken invalidates one token and leaves the others', async () => {
        await store.putAgentToken('t1', { name: 'alice', issuedAt: T0, expiresAt: T0 + MINUTE });
        await store.putAgentToken('t2', { name: 'alice', issuedAt: T0, expiresAt: T0 + MINUTE });
        await store.deleteAgentToken('t1');
        await store.deleteAgentToken('never-issued');
        expect(await store.getAgentToken('t1', T0)).toBeNull();
        expect(await store.getAgentToken('t2', T0)).toMatchObject({ name: 'alice' });
      });
    });

    // ------------------------------------------------------------------ against naive models

    describe('against naive models (fast-check)', () => {
      /** Each run gets a store of its own (the one from beforeEach is left alone). */
      const withStore = async (run: (st: Store) => Promise<void>): Promise<void> => {
        const st = await makeStore();
        try {
          await run(st);
        } finally {
          await teardown?.(st);
        }
      };

      type QueueOp =
        | { kind: 'enqueue'; offline: boolean }
        | { kind: 'claim'; pick: number }
        | { kind: 'offline'; pick: number; since: number | null }
        | { kind: 'window'; limit: number }
        | { kind: 'position'; pick: number }
        | { kind: 'order' }
        | { kind: 'find'; pick: number };

      const queueOp: fc.Arbitrary<QueueOp> = fc.oneof(
        { arbitrary: fc.record({ kind: fc.constant('enqueue' as const), offline: fc.boolean() }), weight: 4 },
        { arbitrary: fc.record({ kind: fc.constant('claim' as const), pick: fc.nat() }), weight: 3 },
        { arbitrary: fc.record({ kind: fc.constant('offline' as const), pick: fc.nat(), since: fc.option(fc.integer({ min: 0, max: 1000 })) }), weight: 2 },
        { arbitrary: fc.record({ kind: fc.constant('window' as const), limit: fc.integer({ min: 0, max: 12 }) }), weight: 2 },
        { arbitrary: fc.record({ kind: fc.constant('position' as const), pick: fc.nat() }), weight: 2 },
        { arbitrary: fc.constant({ kind: 'order' as const }), weight: 1 },
        { arbitrary: fc.record({ kind: fc.constant('find' as const), pick: fc.nat() }), weight: 1 },
      );

      it('the queue agrees with a list in enqueue order and a counter: versions, counts, order, positions', async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(queueOp, { maxLength: 80 }), async (ops) =>
            withStore(async (st) => {
              let version = 0;
              const waiting: QueueRequest[] = []; // the model: in order
              const ids: string[] = []; // every id ever enqueued, then one never enqueued
              const pickId = (pick: number) => (pick % (ids.length + 1) === ids.length ? 'never-enqueued' : ids[pick % (ids.length + 1)]!);
              for (const op of ops) {
                switch (op.kind) {
                  case 'enqueue': {
                    const id = `q${ids.length}`;
                    ids.push(id);
                    // requestedAt deliberately not in enqueue order.
                    const r = request(id, T0 + ((ids.length * 7919) % 101), { offlineSince: op.offline ? T0 : null });
                    waiting.push(r);
                    expect(await st.enqueue(r)).toEqual({ version: ++version, count: waiting.length });
                    break;
                  }
                  case 'claim': {
                    const id = pickId(op.pick);
                    const at = waiting.findIndex((r) => r.requestId === id);
                    const head = 3;
                    const got = await st.claimRequest(id, head);
                    if (at < 0) expect(got).toBeNull();
                    else {
                      const [r] = waiting.splice(at, 1);
                      const next = at < head ? (waiting[head - 1] ?? null) : null;
                      expect(got).toEqual({ request: r, version: ++version, count: waiting.length, next });
                    }
                    break;
                  }
                  case 'offline': {
                    const id = pickId(op.pick);
                    const r = waiting.find((x) => x.requestId === id);
                    if (r) r.offlineSince = op.since === null ? null : T0 + op.since;
                    await st.setRequestOffline(id, op.since === null ? null : T0 + op.since);
                    break;
                  }
                  case 'window':
                    expect(await st.queueWindow(op.limit)).toEqual({ version, count: waiting.length, requests: waiting.slice(0, op.limit) });
                    break;
                  case 'position': {
                    const id = pickId(op.pick);
                    const at = waiting.findIndex((r) => r.requestId === id);
                    expect(await st.queuePosition(id)).toEqual(at < 0 ? null : { position: at + 1, version });
                    break;
                  }
                  case 'order':
                    expect(await st.queueOrder()).toEqual({ version, requestIds: waiting.map((r) => r.requestId) });
                    break;
                  case 'find': {
                    const id = pickId(op.pick);
                    expect(await st.findRequestByTokenHash(`hash-of-${id}`)).toEqual(waiting.find((r) => r.requestId === id) ?? null);
                    break;
                  }
                }
              }
              expect(await st.listQueue()).toEqual(waiting);
              expect(await st.queueOrder()).toEqual({ version, requestIds: waiting.map((r) => r.requestId) });
              const byId = (a: QueueRequest, b: QueueRequest) => a.requestId.localeCompare(b.requestId);
              expect((await st.listOfflineRequests()).sort(byId)).toEqual(waiting.filter((r) => r.offlineSince !== null).sort(byId));
              for (const [i, r] of waiting.entries()) expect(await st.queuePosition(r.requestId)).toEqual({ position: i + 1, version });
            }),
          ),
          { numRuns: 60 },
        );
      });

      type HandleOp =
        | { kind: 'reserve'; handle: number; session: number; ttl: number }
        | { kind: 'consume'; handle: number }
        | { kind: 'release'; handle: number; session: number }
        | { kind: 'take' }
        | { kind: 'list'; session: number };

      const handleOp: fc.Arbitrary<{ op: HandleOp; step: number }> = fc.record({
        op: fc.oneof(
          { arbitrary: fc.record({ kind: fc.constant('reserve' as const), handle: fc.nat(15), session: fc.nat(2), ttl: fc.integer({ min: 1, max: 60 }) }), weight: 4 },
          { arbitrary: fc.record({ kind: fc.constant('consume' as const), handle: fc.nat(15) }), weight: 1 },
          { arbitrary: fc.record({ kind: fc.constant('release' as const), handle: fc.nat(15), session: fc.nat(2) }), weight: 1 },
          { arbitrary: fc.constant({ kind: 'take' as const }), weight: 2 },
          { arbitrary: fc.record({ kind: fc.constant('list' as const), session: fc.nat(2) }), weight: 1 },
        ),
        // Mostly forward, sometimes back: the store must not rely on a monotonic clock.
        step: fc.integer({ min: -5, max: 20 }),
      });

      it('handles agree with a plain map: each expired reservation taken exactly once, never a live one', async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(handleOp, { maxLength: 120 }), async (steps) =>
            withStore(async (st) => {
              const held = new Map<string, HandleReservation>();
              let now = T0;
              for (const { op, step } of steps) {
                now += step * 1000;
                switch (op.kind) {
                  case 'reserve': {
                    const r = reservation(`h${op.handle}`, `s${op.session}`, { reservedAt: now, expiresAt: now + op.ttl * 1000 });
                    const old = held.get(r.handle);
                    const ok = !old || old.expiresAt <= now;
                    if (ok) held.set(r.handle, r);
                    expect(await st.reserveHandle(r, now)).toBe(ok);
                    break;
                  }
                  case 'consume': {
                    const old = held.get(`h${op.handle}`);
                    held.delete(`h${op.handle}`);
                    expect(await st.consumeHandle(`h${op.handle}`, now)).toEqual(old && old.expiresAt > now ? old : null);
                    break;
                  }
                  case 'release': {
                    const old = held.get(`h${op.handle}`);
                    const mine = old?.sessionId === `s${op.session}`;
                    if (mine) held.delete(`h${op.handle}`);
                    expect(await st.releaseHandle(`h${op.handle}`, `s${op.session}`)).toEqual(mine ? old : null);
                    break;
                  }
                  case 'take': {
                    const expired = [...held.values()].filter((h) => h.expiresAt <= now);
                    for (const h of expired) held.delete(h.handle);
                    expect((await st.takeExpiredHandles(now)).sort(byHandle)).toEqual(expired.sort(byHandle));
                    break;
                  }
                  case 'list': {
                    const mine = [...held.values()].filter((h) => h.sessionId === `s${op.session}`);
                    expect((await st.listSessionHandles(`s${op.session}`, now)).sort(byHandle)).toEqual(
                      mine.filter((h) => h.expiresAt > now).sort(byHandle),
                    );
                    expect((await st.listSessionHandles(`s${op.session}`, Number.NEGATIVE_INFINITY)).sort(byHandle)).toEqual(mine.sort(byHandle));
                    break;
                  }
                }
              }
              expect((await st.takeExpiredHandles(Number.POSITIVE_INFINITY)).sort(byHandle)).toEqual([...held.values()].sort(byHandle));
            }),
          ),
          { numRuns: 60 },
        );
      });
    });
  });
}
