/** Agent sign-in and the session rules S1–S6 through JoinUsCore, with a fake clock and the memory store. */
import { describe, expect, it } from 'vitest';
import { ErrorReason, Messages } from '../../lib/protocol';
import { hashSecret, JoinUsCore } from '../../signaling/core/core';
import { MemoryStore } from '../../signaling/store/memory';
import { StoreUnavailableError } from '../../signaling/store/types';
import { withLatency } from '../support/latency-store';
import {
  AGENTS,
  effectsOf,
  expectSecret256,
  inviteGuest,
  makeHarness,
  nextConnectionId,
  openSession,
  refusal,
  unwrap,
  type Harness,
} from './helpers';

const SECOND = 1000;
const HOUR = 60 * 60 * SECOND;

const SESSION_ENDED = {
  reason: ErrorReason.sessionEnded,
  message: 'The session has ended. You can still download its transcript.',
};
const CREDENTIAL_UNKNOWN = {
  reason: ErrorReason.unauthorized,
  message: 'This session link is not valid. Ask the agent for a new handle.',
};

async function state(h: Harness, sessionId: string) {
  return (await h.store.getSession(sessionId))?.state;
}

describe('agent sign-in', () => {
  it('signs in with the right password and gives a 256-bit token that resumes the sign-in', async () => {
    const h = makeHarness();
    const signed = unwrap(await h.core.signInAgent('alice', 'alice-password'));
    expect(signed.name).toBe('alice');
    expectSecret256(signed.token);
    expect(await h.core.resumeAgent(signed.token)).toEqual({ ok: true, value: { name: 'alice' } });
    // A password containing colons is fine (JOINUS_AGENTS splits on the first one).
    expect(unwrap(await h.core.signInAgent('carol', 'carol:has:colons')).name).toBe('carol');
  });

  it('refuses a wrong password, an unknown user and a wrong-case user with one message', async () => {
    const h = makeHarness();
    const wrong = { ok: false, error: { reason: ErrorReason.signInFailed, message: Messages.signInFailed } };
    expect(Messages.signInFailed).toBe('Wrong username or password. Check them and try again.');
    expect(await h.core.signInAgent('alice', 'bob-password')).toEqual(wrong);
    expect(await h.core.signInAgent('alice', 'alice-password ')).toEqual(wrong);
    expect(await h.core.signInAgent('alice', '')).toEqual(wrong);
    expect(await h.core.signInAgent('mallory', 'alice-password')).toEqual(wrong);
    expect(await h.core.signInAgent('Alice', 'alice-password')).toEqual(wrong);
    // An unknown user whose password happens to look like the placeholder used for timing.
    expect(await h.core.signInAgent('nobody', '\u0000no-such-agent:x')).toEqual(wrong);
    expect(await h.core.signInAgent('__proto__', '')).toEqual(wrong);
  });

  it('stores the sign-in token by hash only', async () => {
    const h = makeHarness();
    const { token } = unwrap(await h.core.signInAgent('alice', 'alice-password'));
    expect(await h.store.getAgentToken(token, h.clock.now())).toBeNull();
    expect(await h.store.getAgentToken(hashSecret(token), h.clock.now())).toMatchObject({ name: 'alice' });
  });

  it('refuses to resume an unknown token', async () => {
    const h = makeHarness();
    expect(refusal(await h.core.resumeAgent('A'.repeat(43)))).toEqual({
      reason: 'unauthorized',
      message: 'Your sign-in has expired. Sign in again.',
    });
  });

  it('signing out invalidates that token only', async () => {
    const h = makeHarness();
    const desk = unwrap(await h.core.signInAgent('alice', 'alice-password'));
    const laptop = unwrap(await h.core.signInAgent('alice', 'alice-password'));
    expect(desk.token).not.toBe(laptop.token);
    await h.core.signOutAgent(desk.token);
    expect(refusal(await h.core.resumeAgent(desk.token)).reason).toBe('unauthorized');
    expect(unwrap(await h.core.resumeAgent(laptop.token)).name).toBe('alice');
    await h.core.signOutAgent(desk.token); // twice is harmless
  });

  it('a sign-in expires after agentTokenTtlMs (12 hours by default)', async () => {
    const h = makeHarness();
    expect(h.config.agentTokenTtlMs).toBe(12 * HOUR);
    const { token } = unwrap(await h.core.signInAgent('alice', 'alice-password'));
    h.clock.advance(12 * HOUR - 1);
    expect(unwrap(await h.core.resumeAgent(token)).name).toBe('alice');
    h.clock.advance(1);
    expect(refusal(await h.core.resumeAgent(token))).toEqual({
      reason: 'unauthorized',
      message: 'Your sign-in has expired. Sign in again.',
    });
  });

  it('honours a configured token lifetime', async () => {
    const h = makeHarness({ config: { agentTokenTtlMs: 5 * SECOND } });
    const { token } = unwrap(await h.core.signInAgent('bob', 'bob-password'));
    h.clock.advance(5 * SECOND);
    expect(refusal(await h.core.resumeAgent(token)).reason).toBe('unauthorized');
  });

  it('a token of an account that was removed from the configuration no longer resumes', async () => {
    const h = makeHarness();
    const { token } = unwrap(await h.core.signInAgent('alice', 'alice-password'));
    const restarted = makeHarness({
      store: h.store,
      clock: h.clock,
      config: { agents: new Map([...AGENTS].filter(([name]) => name !== 'alice')) },
    });
    expect(refusal(await restarted.core.resumeAgent(token))).toEqual({
      reason: 'unauthorized',
      message: 'This account no longer exists. Sign in again.',
    });
  });
});

describe('S1 the queue and accepting', () => {
  it('[S1] requests queue up oldest first and each customer learns its position', async () => {
    const h = makeHarness();
    const t0 = h.clock.now();
    const r1 = await h.core.requestHelp('Ann', 'Billing');
    h.clock.advance(SECOND);
    const r2 = await h.core.requestHelp('Ben', 'Delivery');
    h.clock.advance(SECOND);
    const r3 = await h.core.requestHelp('Cat', '');
    expect([r1.position, r2.position, r3.position]).toEqual([1, 2, 3]);
    expect([r1.version, r2.version, r3.version]).toEqual([1, 2, 3]);
    const entries = [
      { requestId: r1.requestId, name: 'Ann', topic: 'Billing', requestedAt: t0 },
      { requestId: r2.requestId, name: 'Ben', topic: 'Delivery', requestedAt: t0 + SECOND },
      { requestId: r3.requestId, name: 'Cat', topic: '', requestedAt: t0 + 2 * SECOND },
    ];
    expect(await h.core.queueSnapshot(10)).toEqual({ version: 3, count: 3, entries });
    expect(await h.core.queueSnapshot(2)).toEqual({ version: 3, count: 3, entries: entries.slice(0, 2) });
    // Agents are told each newcomer, never the whole queue.
    expect(effectsOf(h.effects, 'queue_changed').map((e) => e.change)).toEqual(
      entries.map((added, i) => ({ version: i + 1, count: i + 1, added })),
    );
    expectSecret256(r1.requestToken);
    expect(new Set([r1.requestToken, r2.requestToken, r3.requestToken]).size).toBe(3);
  });

  it('[S1] of several agents accepting at once, exactly one gets the session and the others see it gone', async () => {
    const h = makeHarness();
    const req = await h.core.requestHelp('Ann', 'Billing');
    h.effects.length = 0;
    const results = await Promise.all(
      ['alice', 'bob', 'carol', 'alice', 'bob'].map((agent) => h.core.acceptRequest(agent, req.requestId)),
    );
    const winners = results.filter((r) => r.ok);
    expect(winners).toHaveLength(1);
    for (const r of results.filter((x) => !x.ok)) {
      expect(refusal(r)).toEqual({ reason: 'already_taken', message: 'Another agent has already accepted this customer.' });
    }
    const session = unwrap(winners[0]!);
    expect(session).toMatchObject({ customerName: 'Ann', topic: 'Billing', startedAt: h.clock.now() });
    expect((await h.core.queueSnapshot(10)).entries).toEqual([]);
    expect(await h.store.listActiveSessions()).toHaveLength(1);
    expect(effectsOf(h.effects, 'customer_admitted')).toEqual([
      { type: 'customer_admitted', requestId: req.requestId, sessionId: session.sessionId },
    ]);
    expect(effectsOf(h.effects, 'agent_sessions_changed')).toHaveLength(1);
    expect(effectsOf(h.effects, 'queue_changed').map((e) => e.change)).toEqual([
      { version: 2, count: 0, removed: { requestId: req.requestId, because: 'taken' } },
    ]);
    // A late click is refused the same way.
    expect(refusal(await h.core.acceptRequest('carol', req.requestId)).reason).toBe('already_taken');
  });

  it('[S1] queue positions move up as customers ahead are accepted or leave', async () => {
    const h = makeHarness();
    const r1 = await h.core.requestHelp('Ann', '');
    h.clock.advance(1);
    const r2 = await h.core.requestHelp('Ben', '');
    h.clock.advance(1);
    const r3 = await h.core.requestHelp('Cat', '');
    h.clock.advance(1);
    const r4 = await h.core.requestHelp('Dan', '');
    unwrap(await h.core.acceptRequest('alice', r1.requestId));
    expect(await h.core.queuePosition(r1.requestId)).toBeNull();
    expect(await h.core.queuePosition(r2.requestId)).toEqual({ position: 1, version: 5 });
    expect(await h.core.queuePosition(r4.requestId)).toEqual({ position: 3, version: 5 });
    await h.core.cancelRequest(r3.requestToken);
    expect(await h.core.queuePosition(r3.requestId)).toBeNull();
    expect(await h.core.queuePosition(r4.requestId)).toEqual({ position: 2, version: 6 });
    expect(unwrap(await h.core.resumeRequest(r4.requestToken))).toEqual({ requestId: r4.requestId, position: 2, version: 6 });
    expect((await h.core.queueSnapshot(10)).entries.map((e) => e.name)).toEqual(['Ben', 'Dan']);
  });

  it('[S1] a customer can cancel a waiting request; cancelling twice or with a bad token does nothing', async () => {
    const h = makeHarness();
    const r1 = await h.core.requestHelp('Ann', '');
    h.effects.length = 0;
    await h.core.cancelRequest(r1.requestToken);
    expect((await h.core.queueSnapshot(10)).count).toBe(0);
    const left = { type: 'queue_changed', change: { version: 2, count: 0, removed: { requestId: r1.requestId, because: 'left' } } };
    expect(h.effects).toEqual([left]);
    await h.core.cancelRequest(r1.requestToken);
    await h.core.cancelRequest('not-a-token');
    expect(h.effects).toEqual([left]);
    expect(refusal(await h.core.acceptRequest('alice', r1.requestId)).reason).toBe('already_taken');
    expect(refusal(await h.core.resumeRequest(r1.requestToken))).toEqual({
      reason: 'not_found',
      message: 'Your request is no longer in the queue. Start a new session.',
    });
  });

  it('[S1] a waiting customer gone for the grace period leaves the queue; one who comes back stays', async () => {
    const h = makeHarness({ config: { graceMs: 30 * SECOND } });
    const gone = await h.core.requestHelp('Ann', '', { connectionId: 'node/ann' });
    const back = await h.core.requestHelp('Ben', '', { connectionId: 'node/ben' });
    await h.core.releaseRequest(gone.requestId, 'node/ann');
    await h.core.releaseRequest(back.requestId, 'node/ben');
    h.clock.advance(30 * SECOND - 1);
    await h.core.sweep();
    expect((await h.core.queueSnapshot(10)).count).toBe(2);
    expect(unwrap(await h.core.resumeRequest(back.requestToken))).toEqual({ requestId: back.requestId, position: 2, version: 2 });
    h.clock.advance(1);
    h.effects.length = 0;
    await h.core.sweep();
    expect((await h.core.queueSnapshot(10)).entries.map((e) => e.name)).toEqual(['Ben']);
    expect(h.effects).toEqual([
      { type: 'queue_changed', change: { version: 3, count: 1, removed: { requestId: gone.requestId, because: 'left' } } },
    ]);
    h.clock.advance(HOUR);
    await h.core.sweep();
    expect((await h.core.queueSnapshot(10)).entries.map((e) => e.name)).toEqual(['Ben']);
  });
});

describe('S2 credentials', () => {
  it('[S2] every participant holds its own credential of 256 random bits (base64url of 32 bytes)', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const guest = await inviteGuest(h, s, 'cred-check');
    const creds = [s.agentCredential, s.customerCredential, guest.credential];
    for (const c of creds) expectSecret256(c);
    expect(new Set(creds).size).toBe(3);
    const who = await Promise.all(creds.map(async (c) => unwrap(await h.core.authenticate(c))));
    expect(who.map((w) => w.role)).toEqual(['agent', 'customer', 'guest']);
    expect(who.map((w) => w.participantId)).toEqual([s.agentParticipantId, s.customerParticipantId, guest.participantId]);
  });

  it('[S2] a credential is exactly 32 bytes drawn from the injected randomness', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    unwrap(await h.core.reserveHandle('alice', s.sessionId, 'from-the-rng'));
    const secret = new Uint8Array(32).fill(0xab);
    h.random.push(new Uint8Array(16).fill(1), secret); // participant id, then credential
    const login = unwrap(await h.core.loginWithHandle('Gus', 'from-the-rng'));
    expect(login.credential).toBe(Buffer.from(secret).toString('base64url'));
    expect(h.random.pending).toBe(0);
  });

  it('[S2] credentials are stored by hash only', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    for (const c of [s.agentCredential, s.customerCredential]) {
      expect(await h.store.getCredential(c)).toBeNull();
      expect(await h.store.getCredential(hashSecret(c))).toMatchObject({ sessionId: s.sessionId, revoked: null });
    }
  });

  it("[S2] one session's credential admits to that session only", async () => {
    const h = makeHarness();
    const a = await openSession(h, 'alice', 'Ann');
    const b = await openSession(h, 'bob', 'Ben');
    expect(unwrap(await h.core.authenticate(a.customerCredential))).toEqual({
      sessionId: a.sessionId,
      participantId: a.customerParticipantId,
      role: 'customer',
      name: 'Ann',
    });
    expect(unwrap(await h.core.authenticate(b.agentCredential))).toEqual({
      sessionId: b.sessionId,
      participantId: b.agentParticipantId,
      role: 'agent',
      name: 'bob',
    });
    const attached = unwrap(await h.core.attach(a.agentCredential, nextConnectionId()));
    expect(attached.sessionId).toBe(a.sessionId);
    expect(attached.peers.map((p) => p.peerId).sort()).toEqual([a.agentPeerId, a.customerPeerId].sort());
    expect(attached.peers.map((p) => p.peerId)).not.toContain(b.agentPeerId);
  });

  it('[S2] signaling is relayed only between attached peers of the same session', async () => {
    const h = makeHarness();
    const a = await openSession(h, 'alice');
    const b = await openSession(h, 'bob');
    const notAttached = { reason: 'forbidden', message: 'Join the session first.' };
    const gone = { reason: 'not_found', message: 'That participant is no longer connected.' };
    expect(await h.core.checkRelay(a.agentPeerId, a.sessionId, a.customerPeerId)).toEqual({ ok: true, value: {} });
    expect(await h.core.checkRelay(a.customerPeerId, a.sessionId, a.agentPeerId)).toEqual({ ok: true, value: {} });
    // A peer of A naming session B, or reaching for a peer of B under A's name, is refused.
    expect(refusal(await h.core.checkRelay(a.agentPeerId, b.sessionId, b.customerPeerId))).toEqual(notAttached);
    expect(refusal(await h.core.checkRelay(a.agentPeerId, a.sessionId, b.customerPeerId))).toEqual(gone);
    expect(refusal(await h.core.checkRelay(b.agentPeerId, a.sessionId, a.agentPeerId))).toEqual(notAttached);
    expect(refusal(await h.core.checkRelay('no-such-peer', a.sessionId, a.agentPeerId))).toEqual(notAttached);
    // Once detached, a peer neither sends nor receives.
    await h.core.detach(a.customerPeerId);
    expect(refusal(await h.core.checkRelay(a.agentPeerId, a.sessionId, a.customerPeerId))).toEqual(gone);
    expect(refusal(await h.core.checkRelay(a.customerPeerId, a.sessionId, a.agentPeerId))).toEqual(notAttached);
  });

  it('[S2] a joining party gets a credential only by consuming a handle', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    // Nothing else admits: a made-up credential, a handle used as a credential, a session id.
    unwrap(await h.core.reserveHandle('alice', s.sessionId, 'not-a-credential'));
    for (const fake of ['A'.repeat(43), 'not-a-credential', s.sessionId, hashSecret(s.agentCredential)]) {
      expect(refusal(await h.core.authenticate(fake))).toEqual(CREDENTIAL_UNKNOWN);
      expect(refusal(await h.core.attach(fake, nextConnectionId()))).toEqual(CREDENTIAL_UNKNOWN);
    }
    const guests = () => h.store.listParticipants(s.sessionId).then((ps) => ps.filter((p) => p.role === 'guest'));
    expect(await guests()).toEqual([]);
    const login = unwrap(await h.core.loginWithHandle('Gus', 'not-a-credential'));
    expect(unwrap(await h.core.authenticate(login.credential))).toMatchObject({ sessionId: s.sessionId, role: 'guest', name: 'Gus' });
    expect((await guests()).map((g) => g.name)).toEqual(['Gus']);
  });

  it('[S2] session and participant ids are 128-bit random, unrelated to the handle', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const g = await inviteGuest(h, s, 'amber-otter-12345');
    for (const id of [s.sessionId, s.agentParticipantId, s.customerParticipantId, g.participantId, g.peerId]) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(Buffer.from(id, 'base64url').length).toBe(16);
      expect(id).not.toContain('amber');
    }
  });
});

describe('S3 a tab keeps its peer across a signaling blip', () => {
  it('[S3] a peer whose connection goes is away, not gone: nobody is told it left, signals to it are refused as away', async () => {
    const h = makeHarness({ config: { graceMs: 30 * SECOND } });
    const s = await openSession(h);
    const g = await inviteGuest(h, s, 'blip-me');
    const conn = (await h.store.getPeer(g.peerId))!.connectionId!;
    h.effects.length = 0;
    await h.core.disconnect(g.peerId, conn);
    expect(effectsOf(h.effects, 'peer_left')).toEqual([]);
    expect(await h.store.getPeer(g.peerId)).toMatchObject({ connectionId: null, disconnectedAt: h.clock.now() });
    expect(refusal(await h.core.checkRelay(s.agentPeerId, s.sessionId, g.peerId))).toEqual({
      reason: 'peer_away',
      message: 'That participant is reconnecting.',
    });
  });

  it('[S3] the tab takes its peer back on a new connection: same id, announced again, relayed to again', async () => {
    const h = makeHarness({ config: { graceMs: 30 * SECOND } });
    const s = await openSession(h);
    const g = await inviteGuest(h, s, 'blip-me');
    const oldConn = (await h.store.getPeer(g.peerId))!.connectionId!;
    await h.core.disconnect(g.peerId, oldConn);
    h.clock.advance(5 * SECOND);
    h.effects.length = 0;
    const back = unwrap(await h.core.attach(g.credential, nextConnectionId('guest-back'), { resumePeerId: g.peerId }));
    expect(back).toMatchObject({ peerId: g.peerId, resumed: true, participantId: g.participantId });
    expect(back.peers.map((p) => p.peerId).sort()).toEqual([s.agentPeerId, s.customerPeerId].sort());
    expect(effectsOf(h.effects, 'peer_joined').map((e) => e.peer.peerId)).toEqual([g.peerId]);
    expect(effectsOf(h.effects, 'peer_left')).toEqual([]);
    expect(unwrap(await h.core.checkRelay(s.agentPeerId, s.sessionId, g.peerId))).toEqual({});
    // The old connection's late disconnect does not mark the taken-back peer away.
    await h.core.disconnect(g.peerId, oldConn);
    expect((await h.store.getPeer(g.peerId))?.connectionId).toMatch(/^guest-back-/);
  });

  it("[S2] nobody takes another participant's peer: asking for it gets a fresh id", async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const g = await inviteGuest(h, s, 'blip-me');
    const thief = unwrap(await h.core.attach(g.credential, nextConnectionId('guest-2'), { resumePeerId: s.agentPeerId }));
    expect(thief.resumed).toBe(false);
    expect(thief.peerId).not.toBe(s.agentPeerId);
    expect((await h.store.getPeer(s.agentPeerId))?.participantId).toBe(s.agentParticipantId);
  });

  it('[S3] a peer away for longer than graceMs is retired by the sweep, and the others are told', async () => {
    const h = makeHarness({ config: { graceMs: 30 * SECOND } });
    const s = await openSession(h);
    const g = await inviteGuest(h, s, 'gone-for-good');
    await h.core.disconnect(g.peerId, (await h.store.getPeer(g.peerId))!.connectionId!);
    h.effects.length = 0;
    h.clock.advance(30 * SECOND - 1);
    await h.core.sweep();
    expect(effectsOf(h.effects, 'peer_left')).toEqual([]);
    h.clock.advance(1);
    await h.core.sweep();
    expect(effectsOf(h.effects, 'peer_left').map((e) => e.peer.peerId)).toEqual([g.peerId]);
    expect(await h.store.getPeer(g.peerId)).toBeNull();
    expect((await h.store.getSession(s.sessionId))?.state).toBe('active');
  });

  it('[S3] the sweep does not retire a peer its tab takes back while the sweep runs', async () => {
    const inner = new MemoryStore();
    let duringSweep: (() => Promise<unknown>) | null = null;
    // The take-back lands between the sweep listing the away peers and retiring them.
    const store = new Proxy(inner, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver) as unknown;
        if (key === 'listAwayPeers') {
          return async () => {
            const away = await inner.listAwayPeers();
            const run = duringSweep;
            duringSweep = null;
            if (run) await run();
            return away;
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const h = makeHarness({ store, config: { graceMs: 30 * SECOND } });
    const s = await openSession(h);
    const g = await inviteGuest(h, s, 'just-in-time');
    await h.core.disconnect(g.peerId, (await h.store.getPeer(g.peerId))!.connectionId!);
    h.clock.advance(30 * SECOND);
    h.effects.length = 0;
    duringSweep = () => h.core.attach(g.credential, nextConnectionId('guest-back'), { resumePeerId: g.peerId });
    await h.core.sweep();
    expect(effectsOf(h.effects, 'peer_left')).toEqual([]);
    expect(await h.store.getPeer(g.peerId)).toMatchObject({ connectionId: expect.stringMatching(/^guest-back-/), disconnectedAt: null });
  });

  it('[S3][S4] the grace clock of the agent starts when its last connection goes, not when its peer is retired', async () => {
    const h = makeHarness({ config: { graceMs: 30 * SECOND } });
    const s = await openSession(h);
    const t0 = h.clock.now();
    await h.core.disconnect(s.agentPeerId, (await h.store.getPeer(s.agentPeerId))!.connectionId!);
    expect((await h.store.getSession(s.sessionId))?.agentOfflineSince).toBe(t0);
    h.clock.advance(30 * SECOND);
    await h.core.sweep();
    expect(effectsOf(h.effects, 'session_ended').map((e) => e.reason)).toEqual(['agent_disconnected']);
  });

  it('[S3] back under a new peer id (a reload), the participant’s away peers are retired at once', async () => {
    const h = makeHarness({ config: { graceMs: 30 * SECOND } });
    const s = await openSession(h);
    const g = await inviteGuest(h, s, 'reloading');
    await h.core.disconnect(g.peerId, (await h.store.getPeer(g.peerId))!.connectionId!);
    h.effects.length = 0;
    const again = unwrap(await h.core.attach(g.credential, nextConnectionId('guest-reloaded')));
    expect(again.resumed).toBe(false);
    expect(again.peers.map((p) => p.peerId)).not.toContain(g.peerId);
    expect(effectsOf(h.effects, 'peer_left').map((e) => e.peer.peerId)).toEqual([g.peerId]);
  });

  it('[S2] attach runs beforeEnter before the peer is registered or the room listed', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const g = await inviteGuest(h, s, 'ordered');
    await h.core.detach(g.peerId);
    let seenInStore: unknown = 'not called';
    const r = unwrap(
      await h.core.attach(g.credential, nextConnectionId('guest'), {
        beforeEnter: async (p) => {
          seenInStore = await h.store.getPeer(p.peerId);
        },
      }),
    );
    expect(seenInStore).toBeNull();
    expect(await h.store.getPeer(r.peerId)).not.toBeNull();
  });

  it('[S2] of peers attaching at the same moment against a slow store, every pair learns of each other', async () => {
    for (let round = 0; round < 10; round++) {
      const h = makeHarness({ store: withLatency(new MemoryStore()) });
      const req = await h.core.requestHelp('Cleo', 'Invoice');
      const summary = unwrap(await h.core.acceptRequest('alice', req.requestId));
      const credentials = [summary.credential, req.requestToken];
      for (let i = 0; i < 6; i++) {
        unwrap(await h.core.reserveHandle('alice', summary.sessionId, `guest-${round}-${i}`));
        credentials.push(unwrap(await h.core.loginWithHandle(`Guest ${i}`, `guest-${round}-${i}`)).credential);
      }
      // A peer "hears" peer_joined only once it is in the room, which it enters in beforeEnter.
      const inRoom = new Set<string>();
      const heard = new Map<string, Set<string>>();
      h.effects.length = 0;
      const core = new JoinUsCore({
        store: h.store,
        clock: h.clock,
        randomBytes: h.random.bytes,
        config: h.config,
        onEffect: (e) => {
          if (e.type !== 'peer_joined') return;
          for (const p of inRoom) if (p !== e.peer.peerId) heard.get(p)!.add(e.peer.peerId);
        },
      });
      const attached = await Promise.all(
        credentials.map((c) =>
          core.attach(c, nextConnectionId(), {
            beforeEnter: async (p) => {
              heard.set(p.peerId, new Set());
              inRoom.add(p.peerId);
            },
          }),
        ),
      );
      const peers = attached.map(unwrap);
      for (const a of peers) {
        for (const b of peers) {
          if (a === b) continue;
          const aKnowsB = a.peers.some((p) => p.peerId === b.peerId) || heard.get(a.peerId)!.has(b.peerId);
          expect(aKnowsB, `round ${round}: ${a.name} knows of ${b.name}`).toBe(true);
        }
      }
    }
  });
});

describe('S3 coming back', () => {
  it('[S3] a participant re-attaches with the same credential after a detach and gets a new peer id', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const g = await inviteGuest(h, s, 'reload-me');
    h.effects.length = 0;
    await h.core.detach(g.peerId);
    expect(effectsOf(h.effects, 'peer_left').map((e) => e.peer.peerId)).toEqual([g.peerId]);
    const again = unwrap(await h.core.attach(g.credential, nextConnectionId('guest-reloaded')));
    expect(again.participantId).toBe(g.participantId);
    expect(again.sessionId).toBe(s.sessionId);
    expect(again.peerId).not.toBe(g.peerId);
    expect(again.peers.map((p) => p.peerId).sort()).toEqual([s.agentPeerId, s.customerPeerId].sort());
    expect(effectsOf(h.effects, 'peer_joined').map((e) => e.peer)).toEqual([
      {
        peerId: again.peerId,
        sessionId: s.sessionId,
        participantId: g.participantId,
        connectionId: expect.stringMatching(/^guest-reloaded-/),
        disconnectedAt: null,
      },
    ]);
    expect(unwrap(await h.core.checkRelay(s.agentPeerId, s.sessionId, again.peerId))).toEqual({});
    expect(refusal(await h.core.checkRelay(s.agentPeerId, s.sessionId, g.peerId)).reason).toBe('not_found');
    // Detaching an already-detached peer is harmless and says nothing.
    h.effects.length = 0;
    await h.core.detach(g.peerId);
    expect(h.effects).toEqual([]);
  });

  it('[S3] the agent and the customer coming back within the grace period keep the session', async () => {
    const h = makeHarness({ config: { graceMs: 30 * SECOND } });
    const s = await openSession(h);
    await h.core.detach(s.customerPeerId);
    await h.core.detach(s.agentPeerId);
    h.clock.advance(30 * SECOND - 1);
    await h.core.sweep();
    expect(await state(h, s.sessionId)).toBe('active');
    const customer = unwrap(await h.core.attach(s.customerCredential, nextConnectionId()));
    const agent = unwrap(await h.core.attach(s.agentCredential, nextConnectionId()));
    expect([customer.role, agent.role]).toEqual(['customer', 'agent']);
    expect(await h.store.getSession(s.sessionId)).toMatchObject({ agentOfflineSince: null, customerOfflineSince: null });
    h.clock.advance(HOUR);
    await h.core.sweep();
    expect(await state(h, s.sessionId)).toBe('active');
  });

  it('[S3] a customer admitted while away finds its session on resume, with the same token', async () => {
    const h = makeHarness();
    const req = await h.core.requestHelp('Ann', 'Billing', { connectionId: 'node/ann' });
    await h.core.releaseRequest(req.requestId, 'node/ann');
    h.clock.advance(5 * SECOND);
    const session = unwrap(await h.core.acceptRequest('alice', req.requestId));
    expect(unwrap(await h.core.resumeRequest(req.requestToken))).toEqual({ admitted: { sessionId: session.sessionId } });
    const attached = unwrap(await h.core.attach(req.requestToken, nextConnectionId()));
    expect(attached).toMatchObject({ sessionId: session.sessionId, role: 'customer', name: 'Ann' });
  });

  it('[S3] a waiting customer that reconnects keeps its place and its grace clock is cleared', async () => {
    const h = makeHarness();
    await h.core.requestHelp('Ahead', '');
    h.clock.advance(1);
    const req = await h.core.requestHelp('Ann', '', { connectionId: 'node/ann' });
    await h.core.releaseRequest(req.requestId, 'node/ann');
    expect((await h.store.findRequestByTokenHash(hashSecret(req.requestToken)))?.offlineSince).toBe(h.clock.now());
    expect(unwrap(await h.core.resumeRequest(req.requestToken))).toEqual({ requestId: req.requestId, position: 2, version: 2 });
    expect((await h.store.findRequestByTokenHash(hashSecret(req.requestToken)))?.offlineSince).toBeNull();
  });

  it('[S3] a customer whose session has ended is not told it is admitted', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    unwrap(await h.core.endSession(s.sessionId, s.agentParticipantId));
    expect(refusal(await h.core.resumeRequest(s.customerCredential)).reason).toBe('not_found');
    expect(refusal(await h.core.attach(s.customerCredential, nextConnectionId()))).toEqual(SESSION_ENDED);
  });

  it('[S3] one participant may be attached from several tabs at once', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const tab2 = unwrap(await h.core.attach(s.agentCredential, nextConnectionId()));
    expect(tab2.participantId).toBe(s.agentParticipantId);
    expect(tab2.peerId).not.toBe(s.agentPeerId);
    expect(tab2.peers.map((p) => p.peerId).sort()).toEqual([s.agentPeerId, s.customerPeerId].sort());
    expect(await h.store.listPeers(s.sessionId)).toHaveLength(3);
  });
});

describe('S4 the session drops', () => {
  it('[S4] the agent ends the session: credentials revoked, peers told, handles freed', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const g = await inviteGuest(h, s, 'joined-guest');
    unwrap(await h.core.reserveHandle('alice', s.sessionId, 'pending-invite'));
    h.effects.length = 0;

    expect(await h.core.endSession(s.sessionId, s.agentParticipantId)).toEqual({ ok: true, value: {} });

    expect(await h.store.getSession(s.sessionId)).toMatchObject({ state: 'ended', endReason: 'ended_by_agent', endedAt: h.clock.now() });
    const ended = effectsOf(h.effects, 'session_ended');
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({ sessionId: s.sessionId, reason: 'ended_by_agent' });
    expect(ended[0]?.peers.map((p) => p.peerId).sort()).toEqual([s.agentPeerId, s.customerPeerId, g.peerId].sort());
    expect(effectsOf(h.effects, 'handles_changed')).toEqual([{ type: 'handles_changed', sessionId: s.sessionId, handles: [] }]);
    expect(effectsOf(h.effects, 'agent_sessions_changed')).toEqual([{ type: 'agent_sessions_changed', agentName: 'alice' }]);
    expect(await h.store.listPeers(s.sessionId)).toEqual([]);
    expect(await h.store.getHandle('pending-invite', h.clock.now())).toBeNull();

    for (const c of [s.agentCredential, s.customerCredential, g.credential]) {
      expect(refusal(await h.core.authenticate(c))).toEqual(SESSION_ENDED);
      expect(refusal(await h.core.attach(c, nextConnectionId()))).toEqual(SESSION_ENDED);
      expect((await h.store.getCredential(hashSecret(c)))?.revoked).toBe('session_ended');
    }
    expect(refusal(await h.core.checkRelay(s.agentPeerId, s.sessionId, s.customerPeerId)).reason).toBe('forbidden');
    expect(await h.core.agentSessions('alice')).toEqual([]);
    // Nothing more happens for a session that already ended.
    h.effects.length = 0;
    expect(refusal(await h.core.endSession(s.sessionId, s.customerParticipantId))).toEqual(SESSION_ENDED);
    await h.core.detach(s.agentPeerId);
    expect(h.effects).toEqual([]);
  });

  it('[S4] the customer ends the session', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    unwrap(await h.core.endSession(s.sessionId, s.customerParticipantId));
    expect(await h.store.getSession(s.sessionId)).toMatchObject({ state: 'ended', endReason: 'ended_by_customer' });
    expect(effectsOf(h.effects, 'session_ended')[0]?.reason).toBe('ended_by_customer');
    expect(refusal(await h.core.authenticate(s.agentCredential))).toEqual(SESSION_ENDED);
  });

  it('[S4] a joined party cannot end the session, and an unknown session cannot be ended', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const g = await inviteGuest(h, s, 'no-power');
    expect(refusal(await h.core.endSession(s.sessionId, g.participantId))).toEqual({
      reason: 'forbidden',
      message: 'Only the agent or the customer can end the session. Use Leave instead.',
    });
    const other = await openSession(h, 'bob');
    expect(refusal(await h.core.endSession(s.sessionId, other.agentParticipantId)).reason).toBe('forbidden');
    expect(refusal(await h.core.endSession('no-such-session', s.agentParticipantId))).toEqual({
      reason: 'forbidden',
      message: 'Join the session first.',
    });
    expect(await state(h, s.sessionId)).toBe('active');
  });

  it('[S4] ending at once from both sides ends the session once', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    h.effects.length = 0;
    await Promise.all([
      h.core.endSession(s.sessionId, s.agentParticipantId),
      h.core.endSession(s.sessionId, s.customerParticipantId),
    ]);
    expect(effectsOf(h.effects, 'session_ended')).toHaveLength(1);
    expect(effectsOf(h.effects, 'agent_sessions_changed')).toHaveLength(1);
  });

  it('[S4] drops when the agent has been gone for the grace period, not a moment before', async () => {
    const h = makeHarness({ config: { graceMs: 30 * SECOND } });
    const s = await openSession(h);
    const g = await inviteGuest(h, s, 'watching');
    h.clock.advance(7 * SECOND);
    const leftAt = h.clock.now();
    await h.core.detach(s.agentPeerId);
    expect((await h.store.getSession(s.sessionId))?.agentOfflineSince).toBe(leftAt);

    h.clock.advance(30 * SECOND - 1);
    await h.core.sweep();
    expect(await state(h, s.sessionId)).toBe('active');
    expect(unwrap(await h.core.authenticate(s.customerCredential)).role).toBe('customer');

    h.clock.advance(1);
    h.effects.length = 0;
    await h.core.sweep();
    expect(await h.store.getSession(s.sessionId)).toMatchObject({ state: 'ended', endReason: 'agent_disconnected' });
    const ended = effectsOf(h.effects, 'session_ended');
    expect(ended).toHaveLength(1);
    expect(ended[0]?.peers.map((p) => p.peerId).sort()).toEqual([s.customerPeerId, g.peerId].sort());
    for (const c of [s.agentCredential, s.customerCredential, g.credential]) {
      expect(refusal(await h.core.authenticate(c))).toEqual(SESSION_ENDED);
    }
    // The agent coming back now is too late.
    expect(refusal(await h.core.attach(s.agentCredential, nextConnectionId()))).toEqual(SESSION_ENDED);
  });

  it('[S4] drops when the customer has been gone for the grace period, not a moment before', async () => {
    const h = makeHarness({ config: { graceMs: 5 * SECOND } });
    const s = await openSession(h);
    await h.core.detach(s.customerPeerId);
    h.clock.advance(5 * SECOND - 1);
    await h.core.sweep();
    expect(await state(h, s.sessionId)).toBe('active');
    h.clock.advance(1);
    await h.core.sweep();
    expect(await h.store.getSession(s.sessionId)).toMatchObject({ state: 'ended', endReason: 'customer_disconnected' });
    expect(effectsOf(h.effects, 'session_ended')[0]?.peers.map((p) => p.peerId)).toEqual([s.agentPeerId]);
    expect(refusal(await h.core.authenticate(s.agentCredential))).toEqual(SESSION_ENDED);
  });

  it('[S4] the grace period defaults to 30 seconds', async () => {
    const h = makeHarness();
    expect(h.config.graceMs).toBe(30 * SECOND);
    const s = await openSession(h);
    await h.core.detach(s.customerPeerId);
    h.clock.advance(29 * SECOND);
    await h.core.sweep();
    expect(await state(h, s.sessionId)).toBe('active');
    h.clock.advance(SECOND);
    await h.core.sweep();
    expect(await state(h, s.sessionId)).toBe('ended');
  });

  it('[S4] the grace clock starts only when the last tab of the agent goes', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const tab2 = unwrap(await h.core.attach(s.agentCredential, nextConnectionId()));
    await h.core.detach(s.agentPeerId);
    expect((await h.store.getSession(s.sessionId))?.agentOfflineSince).toBeNull();
    h.clock.advance(HOUR);
    await h.core.sweep();
    expect(await state(h, s.sessionId)).toBe('active');
    await h.core.detach(tab2.peerId);
    expect((await h.store.getSession(s.sessionId))?.agentOfflineSince).toBe(h.clock.now());
  });

  it('[S4] joined parties coming and going never start the grace clock', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const g = await inviteGuest(h, s, 'flaky-guest');
    await h.core.detach(g.peerId);
    expect(await h.store.getSession(s.sessionId)).toMatchObject({ agentOfflineSince: null, customerOfflineSince: null });
    h.clock.advance(HOUR);
    await h.core.sweep();
    expect(await state(h, s.sessionId)).toBe('active');
  });

  it('[S4] an agent that accepts but never attaches loses the session after the grace period', async () => {
    const h = makeHarness();
    const req = await h.core.requestHelp('Ann', '');
    const session = unwrap(await h.core.acceptRequest('alice', req.requestId));
    unwrap(await h.core.attach(req.requestToken, nextConnectionId()));
    h.clock.advance(30 * SECOND - 1);
    await h.core.sweep();
    expect(await state(h, session.sessionId)).toBe('active');
    h.clock.advance(1);
    await h.core.sweep();
    expect(await h.store.getSession(session.sessionId)).toMatchObject({ state: 'ended', endReason: 'agent_disconnected' });
  });

  it('[S4] a customer already away when accepted keeps the time it has been away', async () => {
    const h = makeHarness();
    const req = await h.core.requestHelp('Ann', '', { connectionId: 'node/ann' });
    await h.core.releaseRequest(req.requestId, 'node/ann');
    h.clock.advance(20 * SECOND);
    const session = unwrap(await h.core.acceptRequest('alice', req.requestId));
    unwrap(await h.core.attach(session.credential, nextConnectionId()));
    h.clock.advance(10 * SECOND - 1);
    await h.core.sweep();
    expect(await state(h, session.sessionId)).toBe('active');
    h.clock.advance(1);
    await h.core.sweep();
    expect(await h.store.getSession(session.sessionId)).toMatchObject({ state: 'ended', endReason: 'customer_disconnected' });
  });

  it('[S4] an ended session is remembered for endedRetentionMs, then its credentials are unknown', async () => {
    const h = makeHarness({ config: { endedRetentionMs: HOUR } });
    const s = await openSession(h);
    unwrap(await h.core.endSession(s.sessionId, s.agentParticipantId));
    h.clock.advance(HOUR);
    await h.core.sweep();
    expect(refusal(await h.core.authenticate(s.customerCredential))).toEqual(SESSION_ENDED);
    h.clock.advance(1);
    await h.core.sweep();
    expect(await h.store.getSession(s.sessionId)).toBeNull();
    expect(refusal(await h.core.authenticate(s.customerCredential))).toEqual(CREDENTIAL_UNKNOWN);
  });

  it('[S4] a participant re-attaching just as the session drops is not left in the ended room', async () => {
    for (const order of ['attach-first', 'end-first'] as const) {
      const h = makeHarness();
      const s = await openSession(h);
      const g = await inviteGuest(h, s, 'reload-at-end');
      await h.core.detach(g.peerId);
      const attach = () => h.core.attach(g.credential, nextConnectionId());
      const end = () => h.core.endSession(s.sessionId, s.agentParticipantId);
      const [attached] =
        order === 'attach-first' ? await Promise.all([attach(), end()]) : (([e, a]) => [a, e] as const)(await Promise.all([end(), attach()]));
      expect(await state(h, s.sessionId), order).toBe('ended');
      expect(await h.store.listPeers(s.sessionId), `${order}: attach answered ${JSON.stringify(attached)}`).toEqual([]);
      if (!attached.ok) expect(attached.error).toEqual(SESSION_ENDED);
    }
  });

  it('[S4] nothing can be done in an ended session', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const g = await inviteGuest(h, s, 'too-late');
    unwrap(await h.core.endSession(s.sessionId, s.agentParticipantId));
    expect(refusal(await h.core.reserveHandle('alice', s.sessionId, 'after-the-end'))).toEqual(SESSION_ENDED);
    expect(refusal(await h.core.suggestHandle('alice', s.sessionId))).toEqual(SESSION_ENDED);
    expect(refusal(await h.core.cancelHandle('alice', s.sessionId, 'too-late'))).toEqual(SESSION_ENDED);
    expect(refusal(await h.core.removeParticipant(s.sessionId, s.agentParticipantId, g.participantId))).toEqual(SESSION_ENDED);
  });
});

describe('S5 leaving and removal', () => {
  it('[S5] a joined party leaving does not end the session', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const g = await inviteGuest(h, s, 'leaves-early');
    const other = await inviteGuest(h, s, 'stays-on', 'Olga');
    h.effects.length = 0;
    expect(await h.core.leave(s.sessionId, g.participantId)).toEqual({ ok: true, value: {} });

    expect(await state(h, s.sessionId)).toBe('active');
    expect(effectsOf(h.effects, 'session_ended')).toEqual([]);
    expect(effectsOf(h.effects, 'participant_gone')).toEqual([
      {
        type: 'participant_gone',
        sessionId: s.sessionId,
        participantId: g.participantId,
        because: 'left',
        peers: [expect.objectContaining({ peerId: g.peerId, participantId: g.participantId })],
      },
    ]);
    expect((await h.store.getParticipant(g.participantId))?.state).toBe('left');
    expect(refusal(await h.core.authenticate(g.credential))).toEqual({ reason: 'left', message: 'You left this session. To come back, ask the agent for a new handle.' });
    expect((await h.store.listPeers(s.sessionId)).map((p) => p.peerId).sort()).toEqual(
      [s.agentPeerId, s.customerPeerId, other.peerId].sort(),
    );
    for (const c of [s.agentCredential, s.customerCredential, other.credential]) unwrap(await h.core.authenticate(c));
    expect(unwrap(await h.core.checkRelay(s.customerPeerId, s.sessionId, other.peerId))).toEqual({});
  });

  it('[S5] the agent and the customer end the session rather than leave it', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const g = await inviteGuest(h, s, 'some-guest');
    for (const pid of [s.agentParticipantId, s.customerParticipantId]) {
      expect(refusal(await h.core.leave(s.sessionId, pid))).toEqual({
        reason: 'forbidden',
        message: 'The agent and the customer end the session rather than leave it.',
      });
    }
    const b = await openSession(h, 'bob');
    expect(refusal(await h.core.leave(b.sessionId, g.participantId))).toEqual({ reason: 'forbidden', message: 'Join the session first.' });
    expect(refusal(await h.core.leave(s.sessionId, 'nobody'))).toEqual({ reason: 'forbidden', message: 'Join the session first.' });
    expect(await state(h, s.sessionId)).toBe('active');
    unwrap(await h.core.authenticate(g.credential));
  });

  it('[S5] the agent removes a joined party: its credential is revoked and its peers cut off', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const g = await inviteGuest(h, s, 'to-remove', 'Mallory');
    const second = unwrap(await h.core.attach(g.credential, nextConnectionId()));
    const other = await inviteGuest(h, s, 'to-keep', 'Olga');
    h.effects.length = 0;

    expect(await h.core.removeParticipant(s.sessionId, s.agentParticipantId, g.participantId)).toEqual({ ok: true, value: {} });

    const gone = effectsOf(h.effects, 'participant_gone');
    expect(gone).toHaveLength(1);
    expect(gone[0]).toMatchObject({ sessionId: s.sessionId, participantId: g.participantId, because: 'removed' });
    expect(gone[0]?.peers.map((p) => p.peerId).sort()).toEqual([g.peerId, second.peerId].sort());
    expect((await h.store.getParticipant(g.participantId))?.state).toBe('removed');
    expect((await h.store.getCredential(hashSecret(g.credential)))?.revoked).toBe('removed');
    const removed = { reason: 'removed', message: 'The agent removed you from the session.' };
    expect(refusal(await h.core.authenticate(g.credential))).toEqual(removed);
    expect(refusal(await h.core.attach(g.credential, nextConnectionId()))).toEqual(removed);
    // The others stop talking to it, and it cannot talk to them.
    expect(refusal(await h.core.checkRelay(s.agentPeerId, s.sessionId, g.peerId)).reason).toBe('not_found');
    expect(refusal(await h.core.checkRelay(g.peerId, s.sessionId, s.agentPeerId)).reason).toBe('forbidden');
    expect(refusal(await h.core.checkRelay(second.peerId, s.sessionId, s.customerPeerId)).reason).toBe('forbidden');
    // Everyone else carries on.
    expect(await state(h, s.sessionId)).toBe('active');
    unwrap(await h.core.authenticate(other.credential));
    expect(unwrap(await h.core.checkRelay(other.peerId, s.sessionId, s.agentPeerId))).toEqual({});
    expect(effectsOf(h.effects, 'session_ended')).toEqual([]);
  });

  it('[S5] only the agent of the session can remove a party', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const b = await openSession(h, 'bob');
    const g = await inviteGuest(h, s, 'target-guest');
    const g2 = await inviteGuest(h, s, 'other-guest');
    const notYours = { reason: 'forbidden', message: 'Only the agent of this session can do that.' };
    for (const actor of [s.customerParticipantId, g2.participantId, g.participantId, b.agentParticipantId, 'nobody']) {
      expect(refusal(await h.core.removeParticipant(s.sessionId, actor, g.participantId))).toEqual(notYours);
    }
    expect(refusal(await h.core.removeParticipant('no-session', s.agentParticipantId, g.participantId))).toEqual(notYours);
    unwrap(await h.core.authenticate(g.credential));
  });

  it('[S5] the customer, the agent and parties of other sessions cannot be removed', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const b = await openSession(h, 'bob');
    const elsewhere = await inviteGuest(h, b, 'bobs-guest');
    const onlyJoined = { reason: 'not_found', message: 'Only a joined party can be removed.' };
    for (const target of [s.customerParticipantId, s.agentParticipantId, elsewhere.participantId, 'nobody']) {
      expect(refusal(await h.core.removeParticipant(s.sessionId, s.agentParticipantId, target))).toEqual(onlyJoined);
    }
    for (const c of [s.customerCredential, s.agentCredential, elsewhere.credential]) unwrap(await h.core.authenticate(c));
  });

  it('[S5] a party that already left or was removed cannot be removed again', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const left = await inviteGuest(h, s, 'has-left');
    const removed = await inviteGuest(h, s, 'was-removed');
    unwrap(await h.core.leave(s.sessionId, left.participantId));
    unwrap(await h.core.removeParticipant(s.sessionId, s.agentParticipantId, removed.participantId));
    h.effects.length = 0;
    const already = { reason: 'not_found', message: 'That party has already left.' };
    expect(refusal(await h.core.removeParticipant(s.sessionId, s.agentParticipantId, left.participantId))).toEqual(already);
    expect(refusal(await h.core.removeParticipant(s.sessionId, s.agentParticipantId, removed.participantId))).toEqual(already);
    expect(h.effects).toEqual([]);
    // A left party stays "left" (its own choice), not "removed".
    expect(refusal(await h.core.authenticate(left.credential)).message).toBe('You left this session. To come back, ask the agent for a new handle.');
  });

  it('[S5] leaving twice, or leaving after being removed, changes nothing and tells no one', async () => {
    const h = makeHarness();
    const s = await openSession(h);
    const left = await inviteGuest(h, s, 'leaves-twice');
    const removed = await inviteGuest(h, s, 'removed-then-leaves');
    unwrap(await h.core.leave(s.sessionId, left.participantId));
    unwrap(await h.core.removeParticipant(s.sessionId, s.agentParticipantId, removed.participantId));
    h.effects.length = 0;
    expect(await h.core.leave(s.sessionId, left.participantId)).toEqual({ ok: true, value: {} });
    expect(refusal(await h.core.leave(s.sessionId, removed.participantId))).toEqual({
      reason: 'removed',
      message: 'The agent removed you from the session.',
    });
    expect(h.effects).toEqual([]);
    expect((await h.store.getParticipant(left.participantId))?.state).toBe('left');
    expect((await h.store.getParticipant(removed.participantId))?.state).toBe('removed');
  });

  it('[S5] a removed party that was re-attaching at that moment does not stay in the room', async () => {
    for (const order of ['attach-first', 'remove-first'] as const) {
      const h = makeHarness();
      const s = await openSession(h);
      const g = await inviteGuest(h, s, 'sneaky-reload');
      await h.core.detach(g.peerId);
      const attach = () => h.core.attach(g.credential, nextConnectionId());
      const remove = () => h.core.removeParticipant(s.sessionId, s.agentParticipantId, g.participantId);
      const [attached, removed] =
        order === 'attach-first' ? await Promise.all([attach(), remove()]) : (([r, a]) => [a, r] as const)(await Promise.all([remove(), attach()]));
      expect(removed, order).toEqual({ ok: true, value: {} });
      const peersOfGuest = (await h.store.listPeers(s.sessionId)).filter((p) => p.participantId === g.participantId);
      expect(peersOfGuest, `${order}: attach answered ${JSON.stringify(attached)}`).toEqual([]);
      if (attached.ok) {
        expect(refusal(await h.core.checkRelay(attached.value.peerId, s.sessionId, s.agentPeerId)).reason).toBe('forbidden');
      } else {
        expect(attached.error.reason).toBe('removed');
      }
    }
  });
});

describe('S6 several sessions per agent', () => {
  it('[S6] agentSessions lists all of the agent’s open sessions, each with a fresh credential', async () => {
    const h = makeHarness();
    const t0 = h.clock.now();
    const s1 = await openSession(h, 'alice', 'Ann', 'Billing');
    h.clock.advance(SECOND);
    const s2 = await openSession(h, 'alice', 'Ben', 'Delivery');
    h.clock.advance(SECOND);
    const s3 = await openSession(h, 'alice', 'Cat', 'Returns');
    const bobs = await openSession(h, 'bob', 'Dan', 'Other');

    const list = await h.core.agentSessions('alice');
    expect(list.map(({ credential: _c, ...rest }) => rest)).toEqual([
      { sessionId: s1.sessionId, customerName: 'Ann', topic: 'Billing', startedAt: t0 },
      { sessionId: s2.sessionId, customerName: 'Ben', topic: 'Delivery', startedAt: t0 + SECOND },
      { sessionId: s3.sessionId, customerName: 'Cat', topic: 'Returns', startedAt: t0 + 2 * SECOND },
    ]);
    const fresh = [s1, s2, s3];
    for (const [i, entry] of list.entries()) {
      expectSecret256(entry.credential);
      expect(entry.credential).not.toBe(fresh[i]?.agentCredential);
      expect(unwrap(await h.core.authenticate(entry.credential))).toEqual({
        sessionId: fresh[i]?.sessionId,
        participantId: fresh[i]?.agentParticipantId,
        role: 'agent',
        name: 'alice',
      });
    }
    // Asking again issues new credentials; the earlier ones keep working (another console tab).
    const again = await h.core.agentSessions('alice');
    expect(again.map((e) => e.credential)).not.toEqual(list.map((e) => e.credential));
    for (const e of [...list, ...again]) unwrap(await h.core.authenticate(e.credential));

    expect(await h.core.agentSessionList('alice')).toEqual(list.map(({ credential: _c, ...rest }) => rest));
    expect((await h.core.agentSessions('bob')).map((e) => e.sessionId)).toEqual([bobs.sessionId]);
    expect(await h.core.agentSessions('carol')).toEqual([]);

    unwrap(await h.core.endSession(s2.sessionId, s2.customerParticipantId));
    expect((await h.core.agentSessionList('alice')).map((e) => e.sessionId)).toEqual([s1.sessionId, s3.sessionId]);
  });

  it('[S6] an agent works in several sessions at once, each kept apart', async () => {
    const h = makeHarness();
    const s1 = await openSession(h, 'alice', 'Ann');
    const s2 = await openSession(h, 'alice', 'Ben');
    unwrap(await h.core.reserveHandle('alice', s1.sessionId, 'for-session-one'));
    unwrap(await h.core.reserveHandle('alice', s2.sessionId, 'for-session-two'));
    expect((await h.core.reservedHandles(s1.sessionId)).map((r) => r.handle)).toEqual(['for-session-one']);
    expect((await h.core.reservedHandles(s2.sessionId)).map((r) => r.handle)).toEqual(['for-session-two']);
    expect(unwrap(await h.core.loginWithHandle('Gus', 'for-session-two')).sessionId).toBe(s2.sessionId);
    // The agent's peer in session 1 cannot signal into session 2.
    expect(refusal(await h.core.checkRelay(s1.agentPeerId, s2.sessionId, s2.customerPeerId)).reason).toBe('forbidden');
    // Leaving session 1's room starts only session 1's grace clock.
    await h.core.detach(s1.agentPeerId);
    h.clock.advance(30 * SECOND);
    await h.core.sweep();
    expect(await state(h, s1.sessionId)).toBe('ended');
    expect(await state(h, s2.sessionId)).toBe('active');
  });
});

/** A memory store whose method `name` throws StoreUnavailableError on its next call once `failNext` is set. */
function flakyStore(name: keyof MemoryStore) {
  const memory = new MemoryStore();
  const control = { failNext: false };
  const store = new Proxy(memory, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        if (key === name && control.failNext) {
          control.failNext = false;
          throw new StoreUnavailableError();
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, control };
}

describe('clean-ups cut short by the store (S4)', () => {
  it('[S4] a disconnect tried again after the store failed between marking the peer away and starting the grace clock starts it, as of the first try', async () => {
    const { store, control } = flakyStore('setOfflineSince');
    const h = makeHarness({ store, config: { graceMs: 30 * SECOND } });
    const s = await openSession(h);
    const conn = (await h.store.getPeer(s.agentPeerId))!.connectionId!;
    const first = h.clock.now();
    control.failNext = true;
    await expect(h.core.disconnect(s.agentPeerId, conn)).rejects.toThrow(StoreUnavailableError);
    expect(await h.store.getSession(s.sessionId)).toMatchObject({ agentOfflineSince: null });
    h.clock.advance(5 * SECOND);
    await h.core.disconnect(s.agentPeerId, conn);
    expect(await h.store.getSession(s.sessionId)).toMatchObject({ agentOfflineSince: first });
  });

  it('[S4] a detach tried again after the peer was deleted starts the grace clock from what the connection knew', async () => {
    const { store, control } = flakyStore('setOfflineSince');
    const h = makeHarness({ store, config: { graceMs: 30 * SECOND } });
    const s = await openSession(h);
    const who = { sessionId: s.sessionId, participantId: s.customerParticipantId };
    control.failNext = true;
    await expect(h.core.detach(s.customerPeerId, who)).rejects.toThrow(StoreUnavailableError);
    expect(await h.store.getPeer(s.customerPeerId)).toBeNull();
    await h.core.detach(s.customerPeerId, who);
    expect(await h.store.getSession(s.sessionId)).toMatchObject({ customerOfflineSince: h.clock.now() });
    h.clock.advance(30 * SECOND);
    await h.core.sweep();
    expect(await h.store.getSession(s.sessionId)).toMatchObject({ state: 'ended', endReason: 'customer_disconnected' });
  });

  it('[S4] never tried again: the sweep retiring the away peer starts the clock as of its going, and the session drops', async () => {
    const { store, control } = flakyStore('setOfflineSince');
    const h = makeHarness({ store, config: { graceMs: 30 * SECOND } });
    const s = await openSession(h);
    const conn = (await h.store.getPeer(s.agentPeerId))!.connectionId!;
    control.failNext = true;
    await expect(h.core.disconnect(s.agentPeerId, conn)).rejects.toThrow(StoreUnavailableError);
    h.clock.advance(30 * SECOND);
    await h.core.sweep(); // retires the peer, starts the clock as of 30 s ago
    expect(await h.store.getPeer(s.agentPeerId)).toBeNull();
    await h.core.sweep();
    expect(await h.store.getSession(s.sessionId)).toMatchObject({ state: 'ended', endReason: 'agent_disconnected' });
  });
});

describe('a node that died (S4 across nodes)', () => {
  it('[S4][H4] its connections count as gone as of a lease back; a sweep that fails half-way is finished by the next, and the session drops after the grace period', async () => {
    // The store out of reach for one call in the middle of the first sweep's reaping.
    const { store, control } = flakyStore('markPeerAway');
    const h = makeHarness({ store, config: { graceMs: 30 * SECOND, nodeLeaseMs: 10 * SECOND } });
    const start = h.clock.now();
    const waiting = await h.core.requestHelp('Ann', 'Billing', { connectionId: 'dead/ann' });
    const req = await h.core.requestHelp('Ben', 'Delivery', { connectionId: 'alive/ben' });
    const summary = unwrap(await h.core.acceptRequest('alice', req.requestId));
    unwrap(await h.core.attach(summary.credential, 'dead/agent'));
    unwrap(await h.core.attach(req.requestToken, 'alive/customer'));
    await h.store.renewNodeLease('dead', start + 10 * SECOND);
    await h.store.renewNodeLease('alive', start + HOUR);

    h.clock.advance(10 * SECOND);
    control.failNext = true;
    await expect(h.core.sweep()).rejects.toThrow(StoreUnavailableError);
    expect(await h.store.getSession(summary.sessionId)).toMatchObject({ agentOfflineSince: null });
    expect(await h.store.listReapingNodes()).toEqual(['dead']);

    await h.core.sweep();
    // As of a lease back: about when the node went quiet.
    expect(await h.store.getSession(summary.sessionId)).toMatchObject({ agentOfflineSince: start, customerOfflineSince: null });
    expect((await h.store.findRequestByTokenHash(hashSecret(waiting.requestToken)))?.offlineSince).toBe(start);
    expect(await h.store.listReapingNodes()).toEqual([]);

    h.clock.advance(20 * SECOND - 1);
    await h.core.sweep();
    expect(await state(h, summary.sessionId)).toBe('active');
    h.clock.advance(1);
    await h.core.sweep();
    expect(await h.store.getSession(summary.sessionId)).toMatchObject({ state: 'ended', endReason: 'agent_disconnected' });
    expect((await h.core.queueSnapshot(10)).count).toBe(0);
  });
});
