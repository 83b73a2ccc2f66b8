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

const MINUTE = 60_000;

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

    const session = (sessionId: string, over: Partial<SessionRecord> = {}): SessionRecord => ({
      sessionId,
      agentName: 'alice',
      agentParticipantId: `${sessionId}-agent`,
      customerParticipantId: `${sessionId}-customer`,
      customerName: 'Cleo',
      topic: 'Help',
      startedAt: T0,
      state: 'active',
      endedAt: null,
      endReason: null,
      lobby: false,
      agentOfflineSince: null,
      customerOfflineSince: null,
      ...over,
    });

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
    });

    // ------------------------------------------------------------------ queue

    describe('queue', () => {
      it('lists waiting requests oldest first, whatever the order they were enqueued in', async () => {
        await store.enqueue(request('r2', T0 + 2));
        await store.enqueue(request('r1', T0 + 1));
        await store.enqueue(request('r3', T0 + 3));
        expect((await store.listQueue()).map((r) => r.requestId)).toEqual(['r1', 'r2', 'r3']);
        expect(await store.listQueue()).toContainEqual(request('r2', T0 + 2));
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
        expect(await store.claimRequest('r1')).toEqual(r);
        expect(await store.claimRequest('r1')).toBeNull();
        expect(await store.findRequestByTokenHash('hash-of-r1')).toBeNull();
        expect((await store.listQueue()).map((x) => x.requestId)).toEqual(['r2']);
        expect(await store.claimRequest('unknown')).toBeNull();
      });

      it('of concurrent claims of one request, exactly one gets it (S1)', async () => {
        await store.enqueue(request('hot', T0));
        const results = await Promise.all(Array.from({ length: 10 }, () => store.claimRequest('hot')));
        expect(results.filter((x) => x !== null)).toEqual([request('hot', T0)]);
        expect(await store.listQueue()).toEqual([]);
      });

      it('setRequestOffline records and clears when a waiting customer went away', async () => {
        await store.enqueue(request('r1', T0));
        await store.setRequestOffline('r1', T0 + 5);
        expect((await store.findRequestByTokenHash('hash-of-r1'))?.offlineSince).toBe(T0 + 5);
        expect((await store.claimRequest('r1'))?.offlineSince).toBe(T0 + 5);
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
  });
}
