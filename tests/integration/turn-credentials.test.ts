/**
 * TURN for every network (issue 5): the signaling server hands each admitted participant, with its
 * admission, TURN credentials of its own in the REST form coturn checks (`use-auth-secret`), that
 * expire; nobody else gets any. Checked against a real coturn (tests/support/coturn.ts).
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCoturn, turnAllocate, type Coturn } from '../support/coturn';
import { expectOk, startSignaling } from '../support/signaling';
import { inviteGuest, openSession } from '../support/flows';

let coturn: Coturn;
beforeAll(async () => {
  coturn = await startCoturn();
});
afterAll(async () => {
  await coturn?.stop();
});

const HOUR = 60 * 60_000;

describe('[TURN] credentials with the admission', () => {
  it('[TURN][S2] every admitted participant gets its own short-lived TURN credential, which the relay accepts', async () => {
    const h = await startSignaling({
      clock: 'system',
      turn: { urls: coturn.urls, secret: coturn.secret, ttlMs: 2 * HOUR },
      iceServers: [{ urls: 'stun:stun.example.org:3478' }],
      iceTransportPolicy: 'relay',
    });
    const s = await openSession(h);
    const guest = await inviteGuest(h, s, { handle: 'relay-guest' });
    for (const party of [s.agent, s.customer, guest]) {
      const { iceServers, iceTransportPolicy } = party.attach;
      expect(iceTransportPolicy).toBe('relay');
      expect(iceServers[0]).toEqual({ urls: 'stun:stun.example.org:3478' });
      const turn = iceServers[1]!;
      expect(turn.urls).toEqual(coturn.urls);
      // username `expiry:participantId`, password base64(HMAC-SHA1(secret, username)).
      const [expiry, id] = turn.username!.split(':');
      expect(id).toBe(party.participantId);
      expect(Number(expiry) - Date.now() / 1000).toBeGreaterThan(2 * 60 * 60 - 60);
      expect(Number(expiry) - Date.now() / 1000).toBeLessThanOrEqual(2 * 60 * 60);
      expect(turn.credential).toBe(createHmac('sha1', coturn.secret).update(turn.username!).digest('base64'));
      const allocated = await turnAllocate(coturn.port, turn.username!, turn.credential!);
      expect(allocated, `${party.client.name} allocates a relay`).toMatchObject({ ok: true });
    }
    // Each participant's is its own.
    const usernames = [s.agent, s.customer, guest].map((p) => p.attach.iceServers[1]!.username);
    expect(new Set(usernames).size).toBe(3);
  });

  it('[TURN] a credential made with another secret, or one that has expired, is refused by the relay', async () => {
    const h = await startSignaling({ turn: { urls: coturn.urls, secret: 'not-the-relay-secret', ttlMs: 2 * HOUR } });
    const s = await openSession(h);
    const wrong = s.agent.attach.iceServers[0]!;
    expect(await turnAllocate(coturn.port, wrong.username!, wrong.credential!)).toMatchObject({ ok: false, code: 401 });

    const expiredName = `${Math.floor(Date.now() / 1000) - 60}:${s.agent.participantId}`;
    const expired = createHmac('sha1', coturn.secret).update(expiredName).digest('base64');
    expect(await turnAllocate(coturn.port, expiredName, expired)).toMatchObject({ ok: false });
  });

  it('[TURN] nobody gets TURN credentials before admission: not a signed-in agent, a waiting customer or a handle log-in', async () => {
    const h = await startSignaling({ turn: { urls: coturn.urls, secret: coturn.secret, ttlMs: HOUR } });
    const s = await openSession(h);
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'not-yet-used' }));
    const guest = await h.client({ name: 'guest' });
    const login = expectOk(await guest.request('handle:login', { name: 'Gus', handle: 'not-yet-used' }));
    const waiting = await h.client({ name: 'waiting' });
    const request = expectOk(await waiting.request('customer:request', { name: 'Wanda', topic: 'Later' }));
    for (const answer of [login, request]) {
      expect(JSON.stringify(answer)).not.toMatch(/turn:|username/);
      expect(JSON.stringify(answer)).not.toContain(coturn.secret);
    }
    // What every client received outside its acks carries none either.
    for (const c of [s.agent.client, s.customer.client, guest, waiting]) {
      expect(JSON.stringify(c.receivedEvents().map((e) => c.received(e as never)))).not.toContain(coturn.secret);
      expect(JSON.stringify(c.receivedEvents().map((e) => c.received(e as never)))).not.toMatch(/turn:127/);
    }
  });

  it('[TURN] a participant that attaches again (a reconnect) gets a fresh credential', async () => {
    const h = await startSignaling({ turn: { urls: coturn.urls, secret: coturn.secret, ttlMs: HOUR } });
    const s = await openSession(h);
    const first = s.customer.attach.iceServers[0]!.username!;
    h.clock.advance(30 * 60_000);
    const again = expectOk(await (await h.client()).request('session:attach', { credential: s.customer.requestToken }));
    const second = again.iceServers[0]!.username!;
    expect(Number(second.split(':')[0]) - Number(first.split(':')[0])).toBe(30 * 60);
  });
});
