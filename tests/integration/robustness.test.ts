/**
 * "The signaling server never crashes on any input" (PRODUCT.md, quality bars): malformed events,
 * missing acks, unknown events, raw garbage on the websocket and oversized frames are each answered
 * or cut off, and nobody else notices.
 */
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { Limits, type Ack } from '../../lib/protocol';
import { Schemas } from '../../lib/protocol-schemas';
import { WAIT_MS, eventually, expectOk, expectRefused, onTeardown, startSignaling, type SignalingHarness } from '../support/signaling';
import { inviteGuest, openSession, type OpenSession } from '../support/flows';

const validId = 'AAAAAAAAAAAAAAAAAAAAAA';
const offer = { type: 'offer', sdp: 'v=0' };

// ------------------------------------------------------------------ bystanders

interface Bystanders {
  session: OpenSession;
  guest: Awaited<ReturnType<typeof inviteGuest>>;
}

/** A running session that the abuse must not disturb. */
async function bystanders(h: SignalingHarness): Promise<Bystanders> {
  const session = await openSession(h, { agent: 'alice', customerName: 'Bystander' });
  const guest = await inviteGuest(h, session, { handle: 'bystander-guest' });
  expectOk(await session.agent.client.request('handle:reserve', { sessionId: session.sessionId, handle: 'bystander-spare' }));
  return { session, guest };
}

/** The server still serves a newcomer end to end, and the bystanders noticed nothing. */
async function expectUndisturbed(h: SignalingHarness, b: Bystanders): Promise<void> {
  const { session, guest } = b;
  const parties = [session.agent, session.customer, guest];
  for (const p of parties) {
    expect(p.client.socket.connected, `${p.client.name} is still connected`).toBe(true);
    await p.client.roundTrip();
    for (const event of ['session:ended', 'peer:left', 'participant:removed', 'protocol:error'] as const) {
      expect(p.client.received(event), `${p.client.name} received ${event}`).toEqual([]);
    }
  }
  expect((await h.store.getSession(session.sessionId))?.state).toBe('active');
  expect((await h.store.listPeers(session.sessionId)).map((p) => p.peerId).sort()).toEqual(parties.map((p) => p.peerId).sort());
  expect(await h.store.getHandle('bystander-spare', h.clock.now())).toMatchObject({ sessionId: session.sessionId });
  // Signals still flow between them.
  const atGuest = guest.client.waitFor('signal:recv');
  expectOk(await session.customer.client.request('signal:send', { sessionId: session.sessionId, to: guest.peerId, data: offer }));
  expect((await atGuest).from).toBe(session.customer.peerId);
  // A newcomer gets the whole service.
  const fresh = await openSession(h, { agent: 'bob', customerName: 'Newcomer' });
  await inviteGuest(h, fresh, { handle: 'newcomer-guest' });
  // Nothing went wrong inside.
  expect(h.logs.filter((l) => l.level >= 50)).toEqual([]);
}

// ------------------------------------------------------------------ malformed events

const huge = (n: number) => 'x'.repeat(n);

/** Well-formed socket.io events whose payload the schema must refuse. */
function invalidPayloads(): [event: string, payload: unknown][] {
  const notObjects: unknown[] = [null, 42, 'a string', true, [], [1, 2, 3]];
  const cases: [string, unknown][] = [];
  for (const event of Object.keys(Schemas)) {
    for (const p of notObjects) cases.push([event, p]);
    if (event !== 'agent:signOut') cases.push([event, {}], [event, { unrelated: 'field' }]);
  }
  cases.push(
    ['agent:signIn', { username: 1, password: 'x' }],
    ['agent:signIn', { username: 'alice' }],
    ['agent:signIn', { username: '   ', password: 'x' }],
    ['agent:signIn', { username: huge(65), password: 'x' }],
    ['agent:signIn', { username: 'alice', password: huge(Limits.passwordChars + 1) }],
    ['agent:signIn', { username: 'alice', password: '' }],
    ['agent:resume', { token: 123 }],
    ['agent:resume', { token: 'short' }],
    ['agent:resume', { token: huge(Limits.tokenChars + 1) }],
    ['agent:resume', { token: 'has spaces and !!! in it' }],
    ['queue:accept', { requestId: 'short' }],
    ['queue:accept', { requestId: '../../../etc/passwd' }],
    ['queue:accept', { requestId: { $ne: null } }],
    ['queue:accept', { requestId: huge(65) }],
    ['customer:request', { name: '', topic: 'x' }],
    ['customer:request', { name: '    ', topic: 'x' }],
    ['customer:request', { name: huge(Limits.nameChars + 1), topic: 'x' }],
    ['customer:request', { name: 'x', topic: huge(Limits.topicChars + 1) }],
    ['customer:request', { name: 'x' }],
    ['customer:request', { name: ['x'], topic: 'y' }],
    ['customer:request', { name: 'x', topic: huge(60_000) }],
    ['customer:resume', { requestToken: 5 }],
    ['customer:cancel', { requestToken: null }],
    ['handle:reserve', { sessionId: 'x', handle: 'abcd' }],
    ['handle:reserve', { sessionId: validId, handle: huge(Limits.handleInputChars + 1) }],
    ['handle:reserve', { sessionId: validId, handle: 5 }],
    ['handle:suggest', { sessionId: 5 }],
    ['handle:cancel', { sessionId: validId }],
    ['handle:login', { name: '', handle: 'abcd' }],
    ['handle:login', { name: 'x', handle: huge(1000) }],
    ['handle:login', { name: huge(10_000), handle: 'abcd' }],
    ['handle:login', { handle: 'abcd' }],
    ['handle:login', { name: 'x', handle: ['abcd'] }],
    ['session:attach', { credential: '' }],
    ['session:attach', { credential: huge(Limits.tokenChars + 1) }],
    ['session:attach', { credential: null }],
    ['session:detach', { sessionId: '' }],
    ['session:end', { sessionId: 'a b c d e f g h' }],
    ['session:leave', { sessionId: huge(65) }],
    ['participant:remove', { sessionId: validId }],
    ['participant:remove', { sessionId: validId, participantId: 7 }],
    ['signal:send', { sessionId: validId, to: validId }],
    ['signal:send', { sessionId: validId, to: validId, data: 'string' }],
    ['signal:send', { sessionId: validId, to: validId, data: [1, 2] }],
    ['signal:send', { sessionId: validId, to: validId, data: null }],
    ['signal:send', { sessionId: validId, data: offer }],
  );
  return cases;
}

describe('robustness', () => {
  it('[robustness] every well-formed but invalid event is answered with invalid_request and changes nothing', async () => {
    const h = await startSignaling({ eventsPerSecond: 100_000 });
    const b = await bystanders(h);
    const attacker = await h.client({ name: 'attacker' });
    const cases = invalidPayloads();
    expect(cases.length).toBeGreaterThan(100);

    const acks = await Promise.all(cases.map(([event, payload]) => attacker.requestRaw(event, payload)));
    acks.forEach((ack, i) => {
      const [event, payload] = cases[i]!;
      const label = `${event} ${JSON.stringify(payload)?.slice(0, 80)}`;
      expect(ack, label).toMatchObject({ ok: false, error: { reason: 'invalid_request', message: expect.any(String) } });
      expect(Object.keys(ack as object).sort(), label).toEqual(['error', 'ok']);
    });
    // The same from a socket that is attached to the bystanders' session.
    const insider = b.guest.client;
    for (const [event, payload] of cases.filter(([e]) => e.startsWith('signal:') || e.startsWith('session:'))) {
      expectRefused(await insider.requestRaw(event, payload), 'invalid_request');
    }

    // Nothing was created, and no schema failure counted as a failed handle log-in (H8).
    expect(await h.store.listQueue()).toEqual([]);
    expect(await h.store.listActiveSessions()).toHaveLength(1);
    const login = expectRefused(await attacker.request('handle:login', { name: 'x', handle: 'wrong-one' }), 'handle_unusable');
    expect(login.attemptsLeft).toBe(4);
    await expectUndisturbed(h, b);
  });

  it('[robustness] an event without an ack callback gets protocol:error and does nothing', async () => {
    const h = await startSignaling();
    const b = await bystanders(h);
    const c = await h.client();
    const errors = c.waitFor('protocol:error', () => c.received('protocol:error').length === 3);
    c.emitRaw('agent:signIn', { username: 'alice', password: 'alice-password' });
    c.emitRaw('customer:request', { name: 'No ack', topic: '' });
    c.emitRaw('session:end', { sessionId: b.session.sessionId });
    await errors;
    for (const e of c.received('protocol:error')) expect(e).toMatchObject({ reason: 'invalid_request', message: expect.stringMatching(/acknowledgement/) });
    // None of them ran.
    expectRefused(await c.request('queue:accept', { requestId: validId }), 'unauthorized');
    expect(await h.store.listQueue()).toEqual([]);
    await expectUndisturbed(h, b);
  });

  it('[robustness] an event with an ack but no payload, or with extra arguments, is answered', async () => {
    const h = await startSignaling();
    const b = await bystanders(h);
    const c = await h.client();
    expectRefused(await c.requestRaw('session:detach'), 'invalid_request');
    expectRefused(await c.requestRaw('agent:signOut'), 'invalid_request');
    expectRefused(await c.requestRaw('handle:login', { name: 'x', handle: 'abcd' }, 'extra'), 'invalid_request');
    expectRefused(await c.requestRaw('agent:signIn', { username: 'alice', password: 'alice-password' }, { more: 1 }, 3), 'invalid_request');
    // The extra-argument sign-in did not sign in.
    expectRefused(await c.request('queue:accept', { requestId: validId }), 'unauthorized');
    await expectUndisturbed(h, b);
  });

  it('[robustness] unknown events are answered, including names that exist on every object', async () => {
    const h = await startSignaling();
    const b = await bystanders(h);
    const c = await h.client();
    const names = ['nope', 'agent:hack', 'Agent:SignIn', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'x'.repeat(5000)];
    for (const name of names) {
      expectRefused(await c.requestRaw(name, {}), 'invalid_request');
    }
    const errors = c.waitFor('protocol:error', () => c.received('protocol:error').length >= names.length);
    for (const name of names) c.emitRaw(name, {});
    await errors;
    for (const e of c.received('protocol:error')) expect(e.reason).toBe('invalid_request');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await expectUndisturbed(h, b);
  });

  it('[robustness] a signal over the signaling limit is refused as too_large and the connection stays', async () => {
    const h = await startSignaling();
    const b = await bystanders(h);
    const { session } = b;
    const big = { type: 'offer', sdp: 'x'.repeat(Limits.signalBytes + 1) };
    const ack = await session.customer.client.request('signal:send', { sessionId: session.sessionId, to: session.agent.peerId, data: big });
    expect(expectRefused(ack, 'too_large').message).toContain(String(Limits.signalBytes));
    await session.agent.client.roundTrip();
    expect(session.agent.client.received('signal:recv')).toEqual([]);
    await expectUndisturbed(h, b);
  });

  it('[robustness] a flood of events from one connection is slowed down, not served, and others are unaffected', async () => {
    const h = await startSignaling({ eventsPerSecond: 20 });
    const b = await bystanders(h);
    const c = await h.client({ name: 'flooder' });
    const acks = (await Promise.all(
      Array.from({ length: 40 }, () => c.requestRaw('session:detach', { sessionId: '!' })),
    )) as Ack[];
    const limited = acks.filter((a) => !a.ok && a.error.reason === 'rate_limited');
    expect(limited.length).toBeGreaterThanOrEqual(20);
    for (const a of limited) {
      expect(!a.ok && a.error.retryAfterMs).toBeGreaterThan(0);
      expect(!a.ok && a.error.message).toMatch(/Slow down/);
    }
    expect(c.socket.connected).toBe(true);
    await expectUndisturbed(h, b);
  });

  it('[robustness] an oversized frame (> 64 KiB) disconnects only that client', async () => {
    const h = await startSignaling();
    const b = await bystanders(h);
    const waiting = await h.client({ name: 'waiting customer' });
    expectOk(await waiting.request('customer:request', { name: 'Waiting', topic: 'Still here' }));

    const big = await h.client({ name: 'oversized' });
    const gone = big.disconnected();
    big.emitRaw('customer:request', { name: 'Big', topic: 'y'.repeat(Limits.frameBytes + 1024) });
    expect(await gone).toBe('transport close');
    expect((await h.store.listQueue()).map((r) => r.name)).toEqual(['Waiting']);
    expect(waiting.socket.connected).toBe(true);
    await waiting.roundTrip();

    // An attached peer sending one is cut off too; its session survives it (S3: it may come back),
    // and its peer waits for it, away, so the others' data channels to it are not torn down.
    const { session } = b;
    const guestGone = b.guest.client.disconnected();
    b.guest.client.emitRaw('signal:send', { sessionId: session.sessionId, to: session.agent.peerId, data: { sdp: 'x'.repeat(70_000) } }, () => {});
    await guestGone;
    await eventually(async () => (await h.store.getPeer(b.guest.peerId))?.connectionId === null, 'the guest is away');
    await session.agent.client.roundTrip();
    expect(session.agent.client.received('signal:recv')).toEqual([]);
    expect(session.agent.client.received('peer:left')).toEqual([]);
    const back = await h.client({ name: 'guest, reconnected' });
    const again = expectOk(await back.request('session:attach', { credential: b.guest.credential, peerId: b.guest.peerId }));
    expect(again).toMatchObject({ participantId: b.guest.participantId, peerId: b.guest.peerId, resumed: true });
    expect((await h.store.getSession(session.sessionId))?.state).toBe('active');
    expect(h.logs.filter((l) => l.level >= 50)).toEqual([]);
  });
});

// ------------------------------------------------------------------ raw websocket

interface RawClient {
  ws: WebSocket;
  frames: string[];
  closed: boolean;
  send(data: string | Buffer): void;
  /** Resolve with the first frame (old or new) matching, or 'closed' if the connection closes first. */
  next(match: (frame: string) => boolean, from?: number): Promise<string | 'closed'>;
}

/** A websocket speaking engine.io v4 / socket.io v5 by hand. */
async function rawClient(h: SignalingHarness, opts: { namespace?: boolean } = {}): Promise<RawClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${h.port}/socket.io/?EIO=4&transport=websocket`);
  onTeardown(() => ws.terminate());
  const frames: string[] = [];
  const waiters = new Set<() => void>();
  const client: RawClient = {
    ws,
    frames,
    closed: false,
    send: (data) => ws.send(data),
    next: (match, from = 0) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = frames.slice(from).find(match);
          if (found !== undefined) return finish(found);
          if (client.closed) return finish('closed');
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`raw client: nothing matching within ${WAIT_MS} ms; frames: ${JSON.stringify(frames).slice(0, 500)}`));
        }, WAIT_MS);
        const finish = (r: string) => {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(r);
        };
        waiters.add(check);
        check();
      }),
  };
  const wake = () => [...waiters].forEach((w) => w());
  ws.on('message', (data, isBinary) => {
    frames.push(isBinary ? `<binary ${(data as Buffer).length}>` : data.toString());
    wake();
  });
  ws.on('close', () => {
    client.closed = true;
    wake();
  });
  ws.on('error', () => {});
  const open = await client.next((f) => f.startsWith('0{'));
  expect(open).toMatch(/^0\{"sid"/);
  if (opts.namespace ?? true) {
    client.send('40');
    expect(await client.next((f) => f.startsWith('40{'))).toMatch(/^40\{"sid"/);
  }
  return client;
}

let ackIds = 100;
/** A request over the raw socket; resolves with the ack payload, or 'closed'. */
async function rawRequest(c: RawClient, event: string, payload: unknown): Promise<unknown> {
  const id = ++ackIds;
  const from = c.frames.length;
  if (c.closed) return 'closed';
  c.send(`42${id}${JSON.stringify([event, payload])}`);
  const frame = await c.next((f) => f.startsWith(`43${id}[`), from);
  return frame === 'closed' ? 'closed' : (JSON.parse(frame.slice(`43${id}`.length)) as unknown[])[0];
}

/** Garbage at the engine.io and socket.io levels, after the namespace is joined. */
const garbage: (string | Buffer)[] = [
  '',
  'garbage',
  '9',
  '4',
  '42',
  '42[',
  '42{}',
  '42"just a string"',
  '42[]',
  '42[null]',
  '42[{}]',
  '42[1,2,3]',
  '42["disconnect"]',
  '42["connect"]',
  '42["newListener","x"]',
  '42-1["agent:signIn",{}]',
  '4299999999999999999999999999["agent:signIn",{}]',
  '421e309["agent:signIn",{}]',
  '43["ack without a request"]',
  '431[{"ok":true}]',
  '44{"message":"connect_error from a client"}',
  '40/nonexistent,',
  '40/admin,{}',
  '41/nonexistent,',
  '45-["agent:signIn",{"_placeholder":true,"num":0}]',
  '451-["agent:signIn",{"_placeholder":true,"num":7}]',
  '45999999-["x"]',
  '46-[]',
  '2',
  '3',
  '2probe',
  '5',
  '6',
  '1',
  `42${'['.repeat(10_000)}${']'.repeat(10_000)}`,
  `42["signal:send",{"sessionId":"${validId}","to":"${validId}","data":{"__proto__":{"polluted":"yes"}}}]`,
  `421["customer:request",{"__proto__":{"polluted":"yes"},"name":"x","topic":"y"}]`,
  Buffer.from([0, 1, 2, 3, 255, 254]),
  Buffer.alloc(1000, 0xff),
  '\u0000\u0001\u0002',
  '42["agent:signIn",{"username":"\ud800","password":"\udfff"}]',
];

describe('robustness: raw websocket frames', () => {
  it('[robustness] garbage frames are answered or cut off; the server and other sessions carry on', async () => {
    const h = await startSignaling();
    const b = await bystanders(h);
    const outcomes: Record<string, string> = {};
    for (const frame of garbage) {
      const c = await rawClient(h);
      c.send(frame);
      // A harmless request after the garbage: either it is answered (the frame was ignored or
      // refused) or the server closed this connection. Anything else (a hang) fails.
      const probe = await rawRequest(c, 'session:detach', { sessionId: '!' });
      const label = typeof frame === 'string' ? frame.slice(0, 60) : `<binary ${frame.length}>`;
      if (probe === 'closed') outcomes[label] = 'closed';
      else {
        expect(probe, label).toMatchObject({ ok: false, error: { reason: 'invalid_request' } });
        outcomes[label] = 'answered';
      }
    }
    // Some garbage must have been cut off, and the sockets that stayed were still served.
    expect(Object.values(outcomes)).toContain('closed');
    expect(Object.values(outcomes)).toContain('answered');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await expectUndisturbed(h, b);
  });

  it('[robustness] garbage before the namespace handshake is cut off', async () => {
    const h = await startSignaling();
    const b = await bystanders(h);
    for (const frame of ['42["agent:signIn",{}]', '4', 'x', '40{"token":1}x', Buffer.from([1, 2, 3])]) {
      const c = await rawClient(h, { namespace: false });
      c.send(frame);
      c.send('40');
      const r = await c.next((f) => f.startsWith('40{') || f.startsWith('44'));
      expect(['closed', expect.stringMatching(/^40\{|^44/)]).toContainEqual(r);
    }
    await expectUndisturbed(h, b);
  });

  it('[robustness] well-formed events over a raw websocket get invalid_request acks, in a burst', async () => {
    const h = await startSignaling();
    const b = await bystanders(h);
    const c = await rawClient(h);
    const payloads: unknown[] = [null, 1, 'x', [], {}, { sessionId: 1 }, { credential: 'short' }, { name: huge(60_000) }];
    const from = c.frames.length;
    const ids: number[] = [];
    for (const p of payloads) {
      for (const event of ['session:attach', 'handle:login', 'signal:send', 'queue:accept']) {
        const id = ++ackIds;
        ids.push(id);
        c.send(`42${id}${JSON.stringify([event, p])}`);
      }
    }
    for (const id of ids) {
      const frame = await c.next((f) => f.startsWith(`43${id}[`), from);
      expect(frame).not.toBe('closed');
      expect(JSON.parse(frame.slice(`43${id}`.length))).toEqual([
        { ok: false, error: { reason: 'invalid_request', message: expect.any(String) } },
      ]);
    }
    // A numeric event name is not a known event either.
    const id = ++ackIds;
    c.send(`42${id}[7,{}]`);
    expect(await c.next((f) => f.startsWith(`43${id}[`) || f.startsWith('42["protocol:error"'), from)).not.toBe('closed');
    await expectUndisturbed(h, b);
  });

  it('[robustness] a deeply nested signal from an attached peer is refused, not fatal; a normal one is relayed', async () => {
    const h = await startSignaling();
    const b = await bystanders(h);
    const { session } = b;
    const c = await rawClient(h);
    const attached = (await rawRequest(c, 'session:attach', { credential: session.customer.requestToken })) as Ack<{ peerId: string }>;
    if (!attached.ok) expect.fail(JSON.stringify(attached));
    const nested = (depth: number) => {
      let data = '{"type":"candidate"}';
      for (let i = 1; i < depth; i++) data = `{"a":${data}}`;
      return data;
    };
    const send = async (data: string) => {
      const id = ++ackIds;
      const from = c.frames.length;
      c.send(`42${id}["signal:send",{"sessionId":"${session.sessionId}","to":"${session.agent.peerId}","data":${data}}]`);
      const frame = await c.next((f) => f.startsWith(`43${id}[`), from);
      expect(frame).not.toBe('closed');
      return (JSON.parse(frame.slice(`43${id}`.length)) as [Ack])[0];
    };

    for (const depth of [17, 5_000, 10_000]) {
      const ack = await send(nested(depth));
      expect(ack, `depth ${depth}`).toMatchObject({ ok: false, error: { reason: 'invalid_request' } });
    }
    const relayed = session.agent.client.waitFor('signal:recv');
    expect((await send(nested(16))).ok).toBe(true);
    expect((await relayed).from).toBe(attached.peerId);
    expect(session.agent.client.received('signal:recv')).toHaveLength(1);
    expect(h.logs.filter((l) => l.level >= 50)).toEqual([]);
  });
});
