/**
 * The session connection (lib/client/session-connection.ts: attach, mesh, signaling port) against the
 * REAL signaling server, with peer connections simulated (tests/support/fake-peers.ts) so that the
 * timing of signaling is what is tested: a store slowed like Redis, ten participants attaching at the
 * same moment, a socket that drops and comes back while people chat.
 */
import { io } from 'socket.io-client';
import { describe, expect, it, vi } from 'vitest';
import { captureEvents, type ClientSocket } from '../../lib/client/socket';
import { keepTabKeys, newTabKeys } from '../../lib/collab/authorship';
import type { AttachResult } from '../../lib/protocol';
import { SessionConnection } from '../../lib/client/session-connection';
import { dedupe, joinedText, readTranscript } from '../../features/transcript/doc';
import { MemoryStore } from '../../signaling/store/memory';
import { FakeNetwork } from '../support/fake-peers';
import { withLatency } from '../support/latency-store';
import { eventually, expectOk, onTeardown, startSignaling, testAgents, type SignalingHarness } from '../support/signaling';

const SLOW_MS = 15_000;

function socketTo(h: SignalingHarness<'system'>): Promise<ClientSocket> {
  const socket: ClientSocket = io(h.url, {
    transports: ['websocket'],
    forceNew: true,
    reconnectionDelay: 50,
    reconnectionDelayMax: 200,
  });
  onTeardown(() => {
    socket.close();
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

async function ask<T>(socket: ClientSocket, event: string, payload: unknown): Promise<T> {
  const untyped = socket as unknown as { timeout(ms: number): { emitWithAck(e: string, p: unknown): Promise<unknown> } };
  return expectOk((await untyped.timeout(5000).emitWithAck(event, payload)) as never) as T;
}

interface Participant {
  name: string;
  socket: ClientSocket;
  conn: SessionConnection;
}

/** Agent, customer and `guests` joined parties, each with a credential and its own socket (not yet attached). */
async function credentials(h: SignalingHarness<'system'>, guests: number) {
  const agentSocket = await socketTo(h);
  await ask(agentSocket, 'agent:signIn', { username: 'alice', password: testAgents.alice });
  const customerSocket = await socketTo(h);
  const req = await ask<{ requestId: string; requestToken: string }>(customerSocket, 'customer:request', { name: 'Cleo', topic: 'Router' });
  const { session } = await ask<{ session: { sessionId: string; credential: string } }>(agentSocket, 'queue:accept', {
    requestId: req.requestId,
  });
  const out = [
    { name: 'alice', socket: agentSocket, credential: session.credential },
    { name: 'Cleo', socket: customerSocket, credential: req.requestToken },
  ];
  for (let i = 0; i < guests; i++) {
    await ask(agentSocket, 'handle:reserve', { sessionId: session.sessionId, handle: `guest-number-${i}` });
    const socket = await socketTo(h);
    const login = await ask<{ credential: string }>(socket, 'handle:login', { name: `Guest ${i}`, handle: `guest-number-${i}` });
    out.push({ name: `Guest ${i}`, socket, credential: login.credential });
  }
  return { sessionId: session.sessionId, people: out };
}

function connect(
  net: FakeNetwork,
  sessionId: string,
  p: { name: string; socket: ClientSocket; credential: string },
  options: { viewWaitMs?: number } = {},
): Participant {
  const conn = new SessionConnection(p.socket, sessionId, p.credential, {
    mesh: { createPeer: net.factory(p.name), connectTimeoutMs: 5000, retryMs: 100, maxRetryMs: 1000 },
    ...options,
  });
  onTeardown(() => conn.destroy());
  return { name: p.name, socket: p.socket, conn };
}

/** The agent and the customer (the first two of `people`) connected to each other and in sync. */
async function agentAndCustomerInSync(net: FakeNetwork, sessionId: string, people: { name: string; socket: ClientSocket; credential: string }[]) {
  const pair = people.slice(0, 2).map((p) => connect(net, sessionId, p)) as [Participant, Participant];
  await eventually(() => pair.every((p) => p.conn.getSnapshot().mesh.synced && p.conn.getSnapshot().mesh.connected === 1), 'agent and customer in sync', SLOW_MS);
  return pair;
}

const chats = (p: Participant) =>
  readTranscript(p.conn.doc, p.conn.auth)
    .filter((e) => e.kind === 'chat')
    .map((e) => e.text);

describe('[C9] the mesh over the real signaling server', () => {
  it('[S2][C9] ten participants attaching at the same moment, with the store slowed like Redis, all end up connected to all', async () => {
    const h = await startSignaling({ clock: 'system', store: withLatency(new MemoryStore()) });
    const { sessionId, people } = await credentials(h, 8);
    const net = new FakeNetwork();
    // All at once: each SessionConnection attaches as soon as it exists.
    const all = people.map((p) => connect(net, sessionId, p));
    await eventually(
      () => all.every((p) => p.conn.getSnapshot().mesh.connected === 9),
      `everyone connected to 9 (${all.map((p) => p.conn.getSnapshot().mesh.connected).join(' ')})`,
      SLOW_MS,
    );
    expect(net.opened).toBe(45);
    for (const p of all) p.conn.sendChat(`hello from ${p.name}`);
    const everything = all.map((p) => `hello from ${p.name}`).sort();
    await eventually(() => all.every((p) => chats(p).length === 10), 'every message everywhere', SLOW_MS);
    for (const p of all) expect(chats(p).sort(), p.name).toEqual(everything);
    for (const p of all) expect(p.conn.getSnapshot().connection.text, p.name).toBe('Connected to 9 of 9 participants');
  }, 30_000);

  it('[S2][C9] a party attached by its log-in (decision 0014): what the room said before its connection listened is not lost', async () => {
    const h = await startSignaling({ clock: 'system' });
    const { sessionId, people } = await credentials(h, 0);
    // Long timeouts: only the signals said before the connection existed can connect the newcomer in time.
    const slowRetry = { connectTimeoutMs: 60_000, retryMs: 60_000, maxRetryMs: 60_000 };
    const net = new FakeNetwork();
    const mesh = (name: string) => ({ mesh: { createPeer: net.factory(name), ...slowRetry } });
    const [agent, customer] = people.map((p): Participant => {
      const conn = new SessionConnection(p.socket, sessionId, p.credential, mesh(p.name));
      onTeardown(() => conn.destroy());
      return { name: p.name, socket: p.socket, conn };
    }) as [Participant, Participant];
    await eventually(() => [agent, customer].every((p) => p.conn.getSnapshot().mesh.connected === 1), 'agent and customer connected', SLOW_MS);

    await ask(agent.socket, 'handle:reserve', { sessionId, handle: 'early-words' });
    const socket = await socketTo(h);
    const heard = captureEvents(socket);
    const early: unknown[] = [];
    socket.on('signal:recv', (p) => early.push(p));
    const keys = await newTabKeys();
    const login = await ask<{ sessionId: string; credential: string; attached: AttachResult }>(socket, 'handle:login', {
      name: 'Nina',
      handle: 'early-words',
      publicKey: keys.publicKey,
    });
    expect(login.attached.role).toBe('guest');
    // Both others react to the newcomer before it has a session connection: one dials it, the other
    // asks to be dialled. Those signals wait in `heard`.
    await eventually(() => early.length >= 2, 'both others signalled the newcomer', SLOW_MS);
    keepTabKeys(sessionId, keys, null);
    const guest = new SessionConnection(socket, sessionId, login.credential, {
      ...mesh('Nina'),
      keys,
      attached: login.attached,
      heardBefore: heard.take,
    });
    onTeardown(() => guest.destroy());
    const everyone = [agent.conn, customer.conn, guest];
    await eventually(() => everyone.every((c) => c.getSnapshot().mesh.connected === 2), 'a full mesh, first try', SLOW_MS);
    expect(guest.attachInfo?.peerId).toBe(login.attached.peerId);
    expect(net.opened).toBe(3);
    guest.sendChat('here at once');
    await eventually(() => [agent, customer].every((p) => chats(p).includes('here at once')), 'the newcomer heard', SLOW_MS);
  }, 30_000);

  it('[S2] from a newcomer\'s arrival while its link is being set up, the views of those in sync hear of changes only after it is up or 250 ms (decision 0014)', async () => {
    // Every store call takes 8 ms, as against a remote store: the newcomer's directory entry reaches
    // the others tens of milliseconds before its peer does, and the views wait from the entry on.
    const h = await startSignaling({ clock: 'system', store: withLatency(new MemoryStore(), { maxMs: 4, random: () => 0.999 }) });
    const { sessionId, people } = await credentials(h, 0);
    const net = new FakeNetwork();
    const [agent, customer] = people.map((p) => connect(net, sessionId, p)) as [Participant, Participant];
    // Reserved while the mesh forms: its use, later, is announced to the agent at once (the server
    // sends a handle list at most every 50 ms, so a use right after the reservation would come late).
    await ask(agent.socket, 'handle:reserve', { sessionId, handle: 'held-arrival' });
    await eventually(() => [agent, customer].every((p) => p.conn.getSnapshot().mesh.synced && p.conn.getSnapshot().mesh.connected === 1), 'agent and customer in sync', SLOW_MS);
    await eventually(() => agent.conn.getSnapshot().handles.length === 1, 'the handle listed', SLOW_MS);

    // Every notice the agent's views get: what the snapshot said, and when.
    const notices: { at: number; handles: number; connecting: boolean }[] = [];
    agent.conn.subscribe(() => {
      const snap = agent.conn.getSnapshot();
      notices.push({ at: Date.now(), handles: snap.handles.length, connecting: snap.mesh.peers.some((p) => p.link === 'connecting') });
    });
    // A newcomer nobody can connect to (not even through the customer), as the Join Us page logs in.
    net.block('alice', 'Nina');
    net.block('Cleo', 'Nina');
    // The newcomer arrives with its log-in: the agent hears of the handle's use (its handle list
    // shrinks) and of the newcomer's directory entry, then of its peer.
    let arrivedAt = 0;
    let joinedAt = 0;
    agent.socket.on('handles:update', () => (arrivedAt ||= Date.now()));
    agent.socket.on('directory:add', () => (arrivedAt ||= Date.now()));
    agent.socket.on('peer:joined', () => (joinedAt ||= Date.now()));
    const socket = await socketTo(h);
    const heard = captureEvents(socket);
    const keys = await newTabKeys();
    const login = await ask<{ credential: string; attached: AttachResult }>(socket, 'handle:login', {
      name: 'Nina',
      handle: 'held-arrival',
      publicKey: keys.publicKey,
    });
    const guest = new SessionConnection(socket, sessionId, login.credential, {
      mesh: { createPeer: net.factory('Nina'), connectTimeoutMs: 10_000, retryMs: 10_000, maxRetryMs: 10_000 },
      keys,
      attached: login.attached,
      heardBefore: heard.take,
    });
    onTeardown(() => guest.destroy());
    await eventually(() => agent.conn.getSnapshot().mesh.peers.some((p) => p.link === 'connecting'), 'the agent dialling the newcomer', SLOW_MS);

    // Another change while the link is being set up: the agent's handle list.
    const before = notices.length;
    await ask(agent.socket, 'handle:reserve', { sessionId, handle: 'during-the-dial' });
    await eventually(() => notices.slice(before).some((n) => n.handles === 1), 'the new handle reaches the views', SLOW_MS);
    // From the newcomer's arrival on (its handle's use, before its peer), the views heard nothing
    // until the wait was over, and then all of it.
    expect(arrivedAt).toBeGreaterThan(0);
    expect(joinedAt).toBeGreaterThanOrEqual(arrivedAt);
    const since = notices.filter((n) => n.at >= arrivedAt);
    expect(since.length).toBeGreaterThan(0);
    for (const n of since) {
      expect(n.connecting).toBe(true);
      expect(n.at - arrivedAt).toBeGreaterThanOrEqual(240);
    }
  }, 30_000);

  it('[S2] the views of those in sync wait until the newcomer\'s sync step 1 is answered, not just until its link opens (decision 0014)', async () => {
    const h = await startSignaling({ clock: 'system' });
    const { sessionId, people } = await credentials(h, 1);
    // The newcomer reaches only the agent, over a link with 60 ms of latency: its step 1 arrives 60 ms
    // after the link opens.
    const slow = (x: string, y: string) => [x, y].includes('alice') && [x, y].includes('Guest 0');
    const net = new FakeNetwork({ latencyMs: (x, y) => (slow(x, y) ? 60 : 0) });
    net.block('Cleo', 'Guest 0');
    const [agent] = await agentAndCustomerInSync(net, sessionId, people);
    // Settled: the views have shown the session in sync.
    await eventually(() => agent.conn.getSnapshot().mesh.peers.every((p) => p.answered), 'the customer answered', SLOW_MS);
    await new Promise((r) => setTimeout(r, 50));

    // What the agent's views are told of the newcomer's link, notice by notice.
    const customerPeer = agent.conn.getSnapshot().mesh.peers[0]!.peerId;
    const notices: string[] = [];
    agent.conn.subscribe(() => {
      const guest = agent.conn.getSnapshot().mesh.peers.find((p) => p.peerId !== customerPeer);
      notices.push(guest ? `${guest.link}${guest.answered ? ', answered' : ''}` : 'none');
    });
    const guest = connect(net, sessionId, people[2]!);
    await eventually(() => guest.conn.getSnapshot().mesh.synced, 'the newcomer in sync', SLOW_MS);
    await eventually(() => notices.includes('direct, answered'), 'the agent\'s views hear of the open link', SLOW_MS);
    // Never told of a link open but not yet answered (the render would have come between the
    // newcomer's step 1 and our answer).
    expect(notices).not.toContain('direct');
  }, 30_000);

  it('[S2] the joining page builds its view once the mesh is in sync, or after its wait when no channel opens (whenInSync, decision 0014)', async () => {
    const h = await startSignaling({ clock: 'system' });
    const { sessionId, people } = await credentials(h, 2);
    const net = new FakeNetwork();
    await agentAndCustomerInSync(net, sessionId, people);

    // A newcomer the others can reach: the wait ends in sync, long before its limit.
    const reachable = connect(net, sessionId, people[2]!);
    const t0 = Date.now();
    expect(await reachable.conn.whenInSync(10_000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(reachable.conn.getSnapshot().mesh.synced).toBe(true);

    // A newcomer nobody can reach: the view is built after the wait, without a channel.
    net.block('alice', 'Guest 1');
    net.block('Cleo', 'Guest 1');
    net.block('Guest 0', 'Guest 1');
    const unreachable = connect(net, sessionId, people[3]!);
    const t1 = Date.now();
    expect(await unreachable.conn.whenInSync(300)).toBe(false);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(295);
    expect(unreachable.conn.getSnapshot().mesh.connected).toBe(0);
    expect(unreachable.conn.getSnapshot().phase.kind).toBe('live');
  }, 30_000);

  it('[S2][C1] a newcomer writes its arrival line once its view is on screen, or after a short wait without one (decision 0024)', async () => {
    const h = await startSignaling({ clock: 'system' });
    const { sessionId, people } = await credentials(h, 2);
    const net = new FakeNetwork();
    const [agent, customer] = await agentAndCustomerInSync(net, sessionId, people);
    const arrived = (p: Participant, name: string) =>
      readTranscript(p.conn.doc, p.conn.auth).some((e) => e.kind === 'system' && e.event === 'joined' && e.text === joinedText(name, 'guest'));

    // Its view is slow to come: the line waits for it, after the sync and the presence that follow it.
    const guest = connect(net, sessionId, people[2]!, { viewWaitMs: 60_000 });
    await eventually(
      () => guest.conn.getSnapshot().mesh.synced && [agent, customer].every((p) => p.conn.getSnapshot().reached.has(guest.conn.getSnapshot().me?.participantId ?? '')),
      'the newcomer in sync, and here for the others',
      SLOW_MS,
    );
    expect(arrived(guest, 'Guest 0')).toBe(false);
    guest.conn.viewShown();
    await eventually(() => [agent, customer, guest].every((p) => arrived(p, 'Guest 0')), 'the line, once the view is on screen', SLOW_MS);

    // No view at all (a page that never shows one): the line goes after the wait.
    const viewless = connect(net, sessionId, people[3]!, { viewWaitMs: 200 });
    await eventually(() => [agent, customer].every((p) => arrived(p, 'Guest 1')), 'the line, after the wait', SLOW_MS);
    expect(arrived(viewless, 'Guest 1')).toBe(true);
  }, 30_000);

  it('[S3][C9] a socket that drops and comes back while people chat: no channel closes, no message is lost or doubled', async () => {
    const h = await startSignaling({ clock: 'system' });
    const { sessionId, people } = await credentials(h, 1);
    const net = new FakeNetwork();
    const [agent, customer, guest] = people.map((p) => connect(net, sessionId, p)) as [Participant, Participant, Participant];
    await eventually(() => [agent, customer, guest].every((p) => p.conn.getSnapshot().mesh.connected === 2), 'a full mesh', SLOW_MS);
    const peerId = guest.conn.attachInfo!.peerId;
    const leftEvents: unknown[] = [];
    agent.socket.on('peer:left', (p) => leftEvents.push(p));

    // The guest's transport drops (as on a network blip); socket.io reconnects by itself.
    const reconnected = new Promise<void>((resolve) => guest.socket.io.once('reconnect', () => resolve()));
    guest.socket.io.engine.close();
    guest.conn.sendChat('typed during the blip');
    agent.conn.sendChat('answered during the blip');
    await reconnected;
    await eventually(async () => {
      const peer = await h.store.getPeer(peerId);
      return !!peer?.connectionId?.endsWith(`/${guest.socket.id}`) && guest.conn.getSnapshot().phase.kind === 'live';
    }, 'the guest took its peer back', SLOW_MS);
    guest.conn.sendChat('after the blip');

    const expected = ['after the blip', 'answered during the blip', 'typed during the blip'];
    await eventually(() => [agent, customer, guest].every((p) => chats(p).length === 3), 'every message everywhere', SLOW_MS);
    for (const p of [agent, customer, guest]) expect(chats(p).sort(), p.name).toEqual(expected);
    expect(guest.conn.attachInfo!.peerId).toBe(peerId);
    expect(guest.conn.attachInfo!.resumed).toBe(true);
    expect(net.closed).toBe(0);
    expect(net.opened).toBe(3);
    expect(leftEvents).toEqual([]);
  }, 30_000);

  it('[S5][C1] a refused End or Leave writes no entry; the confirmed one is written once and reaches those who stay', async () => {
    const h = await startSignaling({ clock: 'system' });
    const { sessionId, people } = await credentials(h, 1);
    const net = new FakeNetwork();
    const [agent, customer, guest] = people.map((p) => connect(net, sessionId, p)) as [Participant, Participant, Participant];
    await eventually(() => [agent, customer, guest].every((p) => p.conn.getSnapshot().mesh.connected === 2), 'a full mesh', SLOW_MS);
    const systemEvents = (p: Participant) => readTranscript(p.conn.doc, p.conn.auth).filter((e) => e.kind === 'system').map((e) => e.event);

    // A joined party cannot end the session, and the agent cannot leave it: both are refused.
    const refusedEnd = await guest.conn.end();
    expect(refusedEnd.ok).toBe(false);
    const refusedLeave = await agent.conn.leave();
    expect(refusedLeave.ok).toBe(false);
    expect(systemEvents(guest)).not.toContain('session_ended');
    expect(systemEvents(agent)).not.toContain('left');
    expect(guest.conn.getSnapshot().phase.kind).toBe('live');

    // The guest leaves for real: written once, seen by those who stay.
    expect((await guest.conn.leave()).ok).toBe(true);
    expect(guest.conn.getSnapshot().phase.kind).toBe('left');
    await eventually(
      () => [agent, customer].every((p) => dedupe(readTranscript(p.conn.doc, p.conn.auth)).filter((e) => e.event === 'left').length === 1),
      'the departure recorded once by those who stay',
      SLOW_MS,
    );
    // The agent ends it: the agent's own line, once. The customer is told by the server (its page
    // says why); it does not write the agent's words itself (only the agent may: decision 0010), so
    // it has the line only if the agent's arrived before the mesh closed, and never twice.
    expect((await agent.conn.end()).ok).toBe(true);
    await eventually(() => customer.conn.getSnapshot().phase.kind === 'ended', 'the customer told', SLOW_MS);
    const phase = customer.conn.getSnapshot().phase;
    expect(phase.kind === 'ended' && phase.message).toContain('The agent ended the session.');
    await eventually(() => readTranscript(agent.conn.doc, agent.conn.auth).some((e) => e.event === 'session_ended'), 'the agent has the end', SLOW_MS);
    const ends = (p: Participant) => dedupe(readTranscript(p.conn.doc, p.conn.auth)).filter((e) => e.event === 'session_ended');
    expect(ends(agent).map((e) => e.role)).toEqual(['agent']);
    expect(ends(customer).length).toBeLessThanOrEqual(1);
    expect(ends(customer).every((e) => e.role === 'agent')).toBe(true);
  }, 30_000);

  it('[S2] a page without WebCrypto (plain http on a network address) says why it cannot enter, and does not attach', async () => {
    const h = await startSignaling({ clock: 'system' });
    const { sessionId, people } = await credentials(h, 0);
    const customer = people[1]!;
    vi.stubGlobal('crypto', { getRandomValues: globalThis.crypto.getRandomValues.bind(globalThis.crypto) });
    let conn: SessionConnection;
    try {
      conn = connect(new FakeNetwork(), sessionId, customer).conn;
    } finally {
      vi.unstubAllGlobals();
    }
    await eventually(() => conn.getSnapshot().phase.kind === 'refused', 'refused');
    const phase = conn.getSnapshot().phase;
    expect(phase.kind === 'refused' && phase.message).toMatch(/secure connection \(an https address\)/);
    expect((await h.store.listPeers(sessionId)).length).toBe(0);
  });
});
