/**
 * Scale-out (issue 10) with REAL signaling nodes: each node is its own process (`npm run signaling`,
 * tests/support/nodes.ts), all share one real redis-server (tests/support/redis.ts) under a key
 * prefix of their own, and real socket.io clients talk to them over websockets. Handles, sessions and
 * limits live in Redis, room events and signals cross nodes through socket.io's Redis adapter, a node
 * crashes by SIGKILL. The test reads Redis through a RedisStore of its own to check what the nodes
 * wrote.
 *
 * Speed: one Redis for the file; the tests that leave their nodes alone share one set of three
 * (one prefix; each test its own handles, sessions and client addresses); the tests that kill,
 * restart or cut off nodes start their own. Nothing sleeps: every wait is on a condition.
 *
 * Client addresses: the nodes trust one proxy hop (JOINUS_TRUST_PROXY=1) and every client sends an
 * X-Forwarded-For of its own, so per-address limits (H8, help requests) count what a test means.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import type { Redis } from 'ioredis';
import { Messages, type Ack, type AckData, type ClientEvent, type Payload } from '../../lib/protocol';
import { request, type ClientSocket } from '../../lib/client/socket';
import { SessionConnection } from '../../lib/client/session-connection';
import { readTranscript } from '../../features/transcript/doc';
import { createRedisClient, RedisStore, redisReady } from '../../signaling/store/redis';
import { startRedis, uniquePrefix, type RedisServer } from '../support/redis';
import { startNodes, type NodeProcess, type NodeSet } from '../support/nodes';
import { connectClient, eventually, expectOk, expectRefused, onTeardown, testAgents, WAIT_MS, type TestClient } from '../support/signaling';
import { attach, type Party } from '../support/flows';
import { FakeNetwork } from '../support/fake-peers';
import { solveProof } from '../support/proof';

/** Generous deadlines: several node processes share two cores with the test. */
const SLOW_MS = 15_000;
const TEST_MS = 60_000;

let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.stop();
});

// ------------------------------------------------------------------ clients

let addresses = 0;
/** A client address nobody else uses (10.0.0.0/8, through the trusted proxy hop). */
const newAddress = () => {
  const n = ++addresses;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
};

/** A test client (no reconnection) on `node`, from `address`. Closed after the test. */
const clientOn = (node: NodeProcess, name: string, address = newAddress()) =>
  connectClient(node.url, { name: `${name} on ${node.name}`, headers: { 'x-forwarded-for': address } });

/** A socket as a page holds it: it reconnects by itself (quickly, for the test). Closed after the test. */
function socketOn(node: NodeProcess, address = newAddress()): Promise<ClientSocket> {
  const socket: ClientSocket = io(node.url, {
    transports: ['websocket'],
    forceNew: true,
    reconnectionDelay: 50,
    reconnectionDelayMax: 200,
    extraHeaders: { 'x-forwarded-for': address },
  });
  onTeardown(() => {
    socket.close();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no connection to ${node.name} within ${WAIT_MS} ms`)), WAIT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
  });
}

/** The product's own request helper (lib/client/socket.ts), ack checked. */
async function ask<E extends ClientEvent>(socket: ClientSocket, event: E, payload: Payload<E>): Promise<AckData[E]> {
  return expectOk(await request(socket, event, payload)) as AckData[E];
}

/**
 * Ask until the answer is ok: what a page does with `unavailable` (and with a request lost to a
 * reconnect). A short pause between attempts, to be polite to a node that is coming back.
 */
async function untilOk<T extends object>(what: string, attempt: () => Promise<Ack<T>>, timeoutMs = SLOW_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: Ack<T> | null = null;
  while (Date.now() < deadline) {
    last = await attempt();
    if (last.ok) return expectOk(last);
    const lostToReconnect = last.error.reason === 'internal' && last.error.message.startsWith('The server did not answer');
    if (last.error.reason !== 'unavailable' && !lostToReconnect) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${what}: not ok within ${timeoutMs} ms; last answer ${JSON.stringify(last)}`);
}

/** `eventually`, with what is seen at the deadline in the failure (not what was seen at the start). */
async function until(condition: () => boolean | Promise<boolean>, what: string, seen: () => string, timeoutMs = SLOW_MS): Promise<void> {
  try {
    await eventually(condition, what, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}; seen: ${seen()}`);
  }
}

/** What the nodes wrote, read by the test (its own Redis connection, the nodes' prefix). */
async function storeOf(prefix: string, server: RedisServer = redis): Promise<{ store: RedisStore; client: Redis }> {
  const client = createRedisClient(server.url);
  onTeardown(async () => {
    await client.quit().catch(() => client.disconnect());
  });
  await redisReady(client);
  return { store: new RedisStore(client, { prefix }), client };
}

/** The node's lease in Redis (its expiry), or null when it holds none: RedisStore's key layout. */
async function leaseOf(client: Redis, prefix: string, node: NodeProcess): Promise<number | null> {
  const score = await client.zscore(`jus:{${prefix}}:node-leases`, node.nodeId()!);
  return score === null ? null : Number(score);
}

// ------------------------------------------------------------------ flows across nodes

interface Agent {
  client: TestClient;
  name: string;
}

async function signIn(node: NodeProcess, name = 'alice'): Promise<Agent> {
  const client = await clientOn(node, `agent ${name}`);
  expect(expectOk(await client.request('agent:signIn', { username: name, password: testAgents[name]! })).name).toBe(name);
  return { client, name };
}

interface Session {
  sessionId: string;
  agent: Party & { name: string };
  customer: Party & { requestToken: string };
}

/** A customer on `customerNode` asks, `agent` accepts (wherever it is), both attach. */
async function openSession(agent: Agent, customerNode: NodeProcess, customerName = 'Carla Customer'): Promise<Session> {
  const customer = await clientOn(customerNode, `customer ${customerName}`);
  const asked = expectOk(await customer.request('customer:request', { name: customerName, topic: 'My invoice is wrong' }));
  const admitted = customer.waitFor('customer:admitted');
  const { session } = expectOk(await agent.client.request('queue:accept', { requestId: asked.requestId }));
  expect((await admitted).sessionId).toBe(session.sessionId);
  const agentParty = await attach(agent.client, session.credential);
  const joined = agent.client.waitFor('peer:joined', (p) => p.sessionId === session.sessionId);
  const customerParty = await attach(customer, asked.requestToken);
  expect((await joined).peerId).toBe(customerParty.peerId);
  return {
    sessionId: session.sessionId,
    agent: { ...agentParty, name: agent.name },
    customer: { ...customerParty, requestToken: asked.requestToken },
  };
}

/** The agent reserves `handle` (on its node); a guest logs in with it on `node` and attaches there. */
async function inviteGuest(node: NodeProcess, s: Session, handle: string, name = 'Gus Guest'): Promise<Party> {
  expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle }));
  const client = await clientOn(node, `guest ${name}`);
  const login = expectOk(await client.request('handle:login', { name, handle }));
  expect(login.sessionId).toBe(s.sessionId);
  const joined = s.agent.client.waitFor('peer:joined', (p) => p.sessionId === s.sessionId);
  const party = await attach(client, login.credential);
  expect((await joined).peerId).toBe(party.peerId);
  return party;
}

/** `from` signals `to` (simple-peer's offer, as the mesh sends it) and `to` receives it, unchanged. */
async function relays(sessionId: string, from: Party, to: Party): Promise<void> {
  const data = { type: 'offer', sdp: `v=0 from ${from.peerId} to ${to.peerId}` };
  const heard = to.client.waitFor('signal:recv', (p) => p.from === from.peerId && p.data.sdp === data.sdp);
  expectOk(await from.client.request('signal:send', { sessionId, to: to.peerId, data }));
  expect(await heard).toEqual({ sessionId, from: from.peerId, data });
}

// ------------------------------------------------------------------ the session connection (pages' client)

interface Participant {
  name: string;
  socket: ClientSocket;
  conn: SessionConnection;
}

/** A page's session connection on `socket`, with simulated peer connections (tests/support/fake-peers.ts). */
function connect(net: FakeNetwork, sessionId: string, name: string, socket: ClientSocket, credential: string): Participant {
  const conn = new SessionConnection(socket, sessionId, credential, {
    mesh: { createPeer: net.factory(name), connectTimeoutMs: 5000, retryMs: 100, maxRetryMs: 1000 },
  });
  onTeardown(() => conn.destroy());
  return { name, socket, conn };
}

const chats = (p: Participant) =>
  readTranscript(p.conn.doc, p.conn.auth)
    .filter((e) => e.kind === 'chat')
    .map((e) => e.text)
    .sort();

const live = (p: Participant) => p.conn.getSnapshot().phase.kind === 'live';

/**
 * Agent, customer and one guest as pages hold them (sockets that reconnect by themselves), each on the
 * node given, with a credential each; not attached yet.
 */
async function pagesOn(agentNode: NodeProcess, customerNode: NodeProcess, guestNode: NodeProcess, handle: string) {
  const agentSocket = await socketOn(agentNode);
  await ask(agentSocket, 'agent:signIn', { username: 'alice', password: testAgents.alice! });
  const customerSocket = await socketOn(customerNode);
  const req = await ask(customerSocket, 'customer:request', { name: 'Cleo', topic: 'Router' });
  const { session } = await ask(agentSocket, 'queue:accept', { requestId: req.requestId });
  await ask(agentSocket, 'handle:reserve', { sessionId: session.sessionId, handle });
  const guestSocket = await socketOn(guestNode);
  const login = await ask(guestSocket, 'handle:login', { name: 'Gwen', handle });
  return {
    sessionId: session.sessionId,
    people: [
      { name: 'alice', socket: agentSocket, credential: session.credential },
      { name: 'Cleo', socket: customerSocket, credential: req.requestToken },
      { name: 'Gwen', socket: guestSocket, credential: login.credential },
    ],
  };
}

// ================================================================== three nodes that stay up

describe('three signaling nodes on one Redis', { timeout: TEST_MS }, () => {
  let cluster: NodeSet;
  let n1: NodeProcess;
  let n2: NodeProcess;
  let n3: NodeProcess;
  let prefix: string;

  beforeAll(async () => {
    prefix = uniquePrefix();
    cluster = await startNodes(3, { redisUrl: redis.url, prefix, scope: 'file' });
    [n1, n2, n3] = cluster.nodes as [NodeProcess, NodeProcess, NodeProcess];
  }, TEST_MS);

  afterAll(async () => {
    await cluster?.close();
  });

  // No node of the shared set may have died during a test (its output is in the failure).
  afterEach(() => {
    expect(cluster.crashes()).toEqual([]);
  });

  it('[S1][S2] agent on node 1, customer on node 2, joined party on node 3: the whole flow, signals relayed both ways between every pair', async () => {
    const { store } = await storeOf(prefix);
    const alice = await signIn(n1, 'alice');
    const bob = await signIn(n3, 'bob');

    // [S1] Two agents on two nodes accept one customer at once: exactly one gets the session, and
    // the other sees it gone.
    const racer = await clientOn(n2, 'customer Rex');
    const raced = expectOk(await racer.request('customer:request', { name: 'Rex Race', topic: 'Who takes me?' }));
    const goneForAlice = alice.client.waitFor('queue:changed', (c) => c.removed?.requestId === raced.requestId);
    const goneForBob = bob.client.waitFor('queue:changed', (c) => c.removed?.requestId === raced.requestId);
    const accepts = await Promise.all([alice, bob].map((a) => a.client.request('queue:accept', { requestId: raced.requestId })));
    expect(accepts.filter((a) => a.ok)).toHaveLength(1);
    expectRefused(accepts.find((a) => !a.ok), 'already_taken');
    for (const gone of await Promise.all([goneForAlice, goneForBob])) expect(gone.removed?.because).toBe('taken');

    // [S1] The request made on node 2 reaches every signed-in agent, on node 1 and on node 3.
    const customer = await clientOn(n2, 'customer Carla');
    const seenByAlice = alice.client.waitFor('queue:changed', (c) => c.added?.name === 'Carla Across');
    const seenByBob = bob.client.waitFor('queue:changed', (c) => c.added?.name === 'Carla Across');
    const asked = expectOk(await customer.request('customer:request', { name: 'Carla Across', topic: 'Three nodes' }));
    expect((await seenByAlice).added?.requestId).toBe(asked.requestId);
    expect((await seenByBob).added?.requestId).toBe(asked.requestId);
    const admitted = customer.waitFor('customer:admitted');
    const takenForBob = bob.client.waitFor('queue:changed', (c) => c.removed?.requestId === asked.requestId);
    const { session } = expectOk(await alice.client.request('queue:accept', { requestId: asked.requestId }));
    expect((await admitted).sessionId).toBe(session.sessionId);
    expect((await takenForBob).removed?.because).toBe('taken');
    expect(expectOk(await bob.client.request('queue:list', { limit: 200 })).entries.map((e) => e.requestId)).not.toContain(asked.requestId);

    // [S2] Each attaches on its own node with its own credential.
    const agent = await attach(alice.client, session.credential);
    const customerJoined = agent.client.waitFor('peer:joined', (p) => p.sessionId === session.sessionId);
    const cust = await attach(customer, asked.requestToken);
    expect(cust.attach.role).toBe('customer');
    expect((await customerJoined).peerId).toBe(cust.peerId);
    expect(cust.attach.peers).toEqual([{ peerId: agent.peerId, participantId: agent.participantId }]);

    // [H2][H3] A handle reserved through node 1 logs a party in through node 3.
    const handlesNow = agent.client.waitFor('handles:update', (u) => u.handles.some((h) => h.handle === 'three-nodes-42'));
    expectOk(await agent.client.request('handle:reserve', { sessionId: session.sessionId, handle: 'three-nodes-42' }));
    await handlesNow;
    const guestClient = await clientOn(n3, 'guest Gus');
    const consumed = agent.client.waitFor('handles:update', (u) => u.sessionId === session.sessionId && u.handles.length === 0);
    const login = expectOk(await guestClient.request('handle:login', { name: 'Gus', handle: 'three-nodes-42' }));
    expect(login).toMatchObject({ sessionId: session.sessionId, waiting: false });
    await consumed;
    const guestJoinedAgent = agent.client.waitFor('peer:joined', (p) => p.sessionId === session.sessionId);
    const guestJoinedCustomer = customer.waitFor('peer:joined', (p) => p.sessionId === session.sessionId);
    const guest = await attach(guestClient, login.credential);
    expect(guest.attach.role).toBe('guest');
    expect((await guestJoinedAgent).peerId).toBe(guest.peerId);
    expect((await guestJoinedCustomer).peerId).toBe(guest.peerId);
    expect(guest.attach.peers.map((p) => p.peerId).sort()).toEqual([agent.peerId, cust.peerId].sort());

    // The store holds one peer per participant, each on the node its connection is on.
    const peers = await store.listPeers(session.sessionId);
    const nodeOfPeer = Object.fromEntries(peers.map((p) => [p.peerId, p.connectionId?.split('/')[0]]));
    expect(nodeOfPeer).toEqual({ [agent.peerId]: n1.nodeId(), [cust.peerId]: n2.nodeId(), [guest.peerId]: n3.nodeId() });

    // [S2] Signaling relayed between admitted peers on different nodes, both ways, every pair.
    const parties = [agent, cust, guest];
    for (const from of parties) for (const to of parties) if (from !== to) await relays(session.sessionId, from, to);
    // Not to anyone outside the session: a connection that is not attached is refused.
    const outsider = await clientOn(n2, 'outsider');
    expectRefused(await outsider.request('signal:send', { sessionId: session.sessionId, to: agent.peerId, data: { type: 'offer' } }), 'forbidden');

    // [S4] The customer ends it on node 2: the agent (node 1) and the guest (node 3) are told.
    const told = [agent.client, guest.client].map((c) => c.waitFor('session:ended'));
    expectOk(await customer.request('session:end', { sessionId: session.sessionId }));
    for (const t of await Promise.all(told)) expect(t).toEqual({ sessionId: session.sessionId, reason: 'ended_by_customer' });
    expectRefused(await (await clientOn(n3, 'late')).request('session:attach', { credential: login.credential }), 'session_ended');
  });

  it('[C1][C9] pages on three nodes: the mesh forms through cross-node signaling and every chat message reaches everyone', async () => {
    const { sessionId, people } = await pagesOn(n1, n2, n3, 'mesh-across-7');
    const net = new FakeNetwork();
    const all = people.map((p) => connect(net, sessionId, p.name, p.socket, p.credential));
    await eventually(
      () => all.every((p) => p.conn.getSnapshot().mesh.connected === 2),
      `a full mesh (${all.map((p) => p.conn.getSnapshot().mesh.connected).join(' ')})`,
      SLOW_MS,
    );
    expect(net.opened).toBe(3);
    for (const p of all) await p.conn.sendChat(`hello from ${p.name}`);
    const everything = all.map((p) => `hello from ${p.name}`).sort();
    await eventually(() => all.every((p) => chats(p).length === 3), 'every message everywhere', SLOW_MS);
    for (const p of all) expect(chats(p), p.name).toEqual(everything);
  });

  it('[H2][H3][H6] a handle reserved through node 1 is refused to other sessions, consumed through node 3 once, then free again', async () => {
    const { store } = await storeOf(prefix);
    const a = await openSession(await signIn(n1, 'alice'), n2, 'Ann');
    const b = await openSession(await signIn(n2, 'bob'), n3, 'Ben');

    expectOk(await a.agent.client.request('handle:reserve', { sessionId: a.sessionId, handle: 'Cross-Node-1' }));
    // [H2] In use for every agent on every node, in any spelling.
    for (const raw of ['cross-node-1', ' CROSS-NODE-1 ']) {
      expect(expectRefused(await b.agent.client.request('handle:reserve', { sessionId: b.sessionId, handle: raw }), 'handle_in_use').message).toBe(
        Messages.handleInUse,
      );
    }
    expect(await store.getHandle('cross-node-1', Date.now())).toMatchObject({ sessionId: a.sessionId, reservedBy: 'alice' });

    // [H3] Consumed through node 3; the agent on node 1 sees it gone.
    const consumed = a.agent.client.waitFor('handles:update', (u) => u.handles.length === 0);
    const guest = await clientOn(n3, 'guest');
    expect(expectOk(await guest.request('handle:login', { name: 'Gus', handle: 'CROSS-node-1' })).sessionId).toBe(a.sessionId);
    await consumed;
    // [H6] A second log-in, on another node, is refused with the one answer for unusable handles.
    const late = await clientOn(n2, 'late guest');
    expect(expectRefused(await late.request('handle:login', { name: 'Lou', handle: 'cross-node-1' }), 'handle_unusable').message).toBe(
      Messages.handleUnusable,
    );
    // [H3] Free again, for any agent: bob's session on node 2 reserves it.
    expect(await store.getHandle('cross-node-1', Date.now())).toBeNull();
    expectOk(await b.agent.client.request('handle:reserve', { sessionId: b.sessionId, handle: 'cross-node-1' }));
    expect(await store.getHandle('cross-node-1', Date.now())).toMatchObject({ sessionId: b.sessionId, reservedBy: 'bob' });
  });

  // Was "[H2] is unique across signaling nodes that share one store" (tests/unit/core-handles.test.ts,
  // two cores on one in-memory store): now three nodes on Redis, all at once.
  it('[H2] of concurrent reservations of one handle by sessions on three nodes, exactly one succeeds', async () => {
    const { store } = await storeOf(prefix);
    const sessions = [
      await openSession(await signIn(n1, 'alice'), n2, 'Ada'),
      await openSession(await signIn(n2, 'bob'), n3, 'Bea'),
      await openSession(await signIn(n3, 'carol'), n1, 'Cai'),
    ];
    const acks = await Promise.all(
      sessions.map((s) => s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'contested-across' })),
    );
    expect(acks.filter((a) => a.ok)).toHaveLength(1);
    for (const a of acks) if (!a.ok) expect(expectRefused(a, 'handle_in_use').message).toBe(Messages.handleInUse);
    const holder = sessions[acks.findIndex((a) => a.ok)]!;
    expect(await store.getHandle('contested-across', Date.now())).toMatchObject({ sessionId: holder.sessionId });
  });

  // Was "[H6] exactly one succeeds when the log-ins arrive on different nodes sharing one store"
  // (tests/unit/core-handles.test.ts, three cores on one in-memory store).
  it('[H6] of 50 concurrent log-ins with one handle spread over three nodes, exactly one is admitted', async () => {
    const { store } = await storeOf(prefix);
    const s = await openSession(await signIn(n1, 'alice'), n2, 'Hana');
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'only-one-across' }));
    const nodes = [n1, n2, n3];
    // Separate connections from separate addresses: the atomic consume is what stops the other 49, not H8.
    const clients = await Promise.all(Array.from({ length: 50 }, (_, i) => clientOn(nodes[i % 3]!, `party ${i}`)));
    const consumed = s.agent.client.waitFor('handles:update', (u) => u.handles.length === 0);
    const acks = await Promise.all(
      clients.map((c, i) => c.request('handle:login', { name: `Party ${i}`, handle: i % 2 ? 'ONLY-ONE-ACROSS' : 'only-one-across' })),
    );

    const winners = acks.flatMap((a, i) => (a.ok ? [{ login: a, client: clients[i]! }] : []));
    expect(winners).toHaveLength(1);
    for (const a of acks) if (!a.ok) expect(expectRefused(a, 'handle_unusable').message).toBe(Messages.handleUnusable);
    await consumed;
    expect(await store.getHandle('only-one-across', Date.now())).toBeNull();
    const guests = (await store.listParticipants(s.sessionId)).filter((p) => p.role === 'guest');
    expect(guests).toHaveLength(1);
    const winner = winners[0]!;
    const party = await attach(winner.client, winner.login.credential);
    expect(party.participantId).toBe(guests[0]!.participantId);
    expect(party.attach.sessionId).toBe(s.sessionId);
  });

  it('[H8] failed log-ins from one address spread over the nodes reach the per-address limit in total, not per node', async () => {
    const s = await openSession(await signIn(n1, 'alice'), n2, 'Hugo');
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'right-across' }));
    const address = newAddress();
    const nodes = [n1, n2, n3];
    const guests = await Promise.all(nodes.map((n) => clientOn(n, 'guesser', address)));

    // Five failures (the product's limit per address), one node after another: each counts in total.
    const left: (number | undefined)[] = [];
    for (let i = 0; i < 5; i++) {
      const error = expectRefused(await guests[i % 3]!.request('handle:login', { name: 'G', handle: `wrong-across-${i}` }), 'handle_unusable');
      left.push(error.attemptsLeft);
    }
    expect(left).toEqual([4, 3, 2, 1, 0]);
    // Past it, on every node (each saw at most two): a proof of work first, even with the right handle.
    for (const g of guests) {
      const asked = expectRefused(await g.request('handle:login', { name: 'G', handle: 'right-across' }), 'proof_required');
      expect(asked.message).toContain('from your connection (more than 5 a minute)');
      expect(asked.challenge).toBeDefined();
    }
    // Another address is not held back, on any node.
    const other = await clientOn(n3, 'someone else');
    expect(expectRefused(await other.request('handle:login', { name: 'O', handle: 'wrong-across-x' }), 'handle_unusable').attemptsLeft).toBe(4);
    // The handle was never tried: still reserved. A proof is the deployment's: node 3's challenge,
    // solved and answered on node 1, admits; spent there, it is spent on node 2 as well.
    const asked = expectRefused(await guests[2]!.request('handle:login', { name: 'G', handle: 'right-across' }), 'proof_required');
    const proof = await solveProof(asked.challenge!);
    expect(expectOk(await guests[0]!.request('handle:login', { name: 'G', handle: 'right-across', proof })).sessionId).toBe(s.sessionId);
    const replayed = expectRefused(await guests[1]!.request('handle:login', { name: 'G', handle: 'right-across', proof }), 'proof_required');
    expect(replayed.message).toBe('The check did not pass or has expired. Try again: your browser will do a new one.');
  });

  it('[S1] help requests from one address are limited in total over the nodes (30 per window), not per node', async () => {
    const address = newAddress();
    const customers = await Promise.all([n1, n2, n3].map((n) => clientOn(n, 'customer', address)));
    for (let i = 0; i < 30; i++) {
      const c = customers[i % 3]!;
      const r = expectOk(await c.request('customer:request', { name: `Asker ${i}`, topic: 'Again' }));
      expectOk(await c.request('customer:cancel', { requestToken: r.requestToken }));
    }
    for (const c of customers) {
      const refused = expectRefused(await c.request('customer:request', { name: 'One too many', topic: 'Again' }), 'rate_limited');
      expect(refused.message).toMatch(/^Too many help requests from your connection\. Wait \d+ seconds, then try again\.$/);
      expect(refused.retryAfterMs).toBeGreaterThan(0);
    }
    // Someone else, behind another address, is served.
    const elsewhere = await clientOn(n2, 'another customer');
    const r = expectOk(await elsewhere.request('customer:request', { name: 'Other', topic: 'Fine' }));
    expectOk(await elsewhere.request('customer:cancel', { requestToken: r.requestToken }));
  });

  it('agent sign-in failures from one address are limited in total over the nodes, not per node', async () => {
    const address = newAddress();
    const consoles = await Promise.all([n1, n2, n3].map((n) => clientOn(n, 'console', address)));
    // 10 failures per account and address (the product's limit), spread over the three nodes.
    for (let i = 0; i < 10; i++) {
      expectRefused(await consoles[i % 3]!.request('agent:signIn', { username: 'carol', password: `guess-${i}` }), 'sign_in_failed');
    }
    for (const c of consoles) {
      const refused = expectRefused(await c.request('agent:signIn', { username: 'carol', password: testAgents.carol! }), 'rate_limited');
      expect(refused.message).toMatch(/^Too many failed sign-ins for this account from your connection\. Wait \d+ minutes?, then try again\.$/);
    }
    // The account itself is not locked: carol signs in from elsewhere.
    const elsewhere = await clientOn(n2, 'carol elsewhere');
    expectOk(await elsewhere.request('agent:signIn', { username: 'carol', password: testAgents.carol! }));
  });
});

// ================================================================== a node dies (S4, H4)

describe('a node dies', { timeout: TEST_MS }, () => {
  const GRACE_MS = 1500;
  const LEASE_MS = 600;

  it('[S4][H4] killing the node that holds the agent: the session drops after the grace period, the customer on another node is told, its handles are free', async () => {
    const prefix = uniquePrefix();
    const { store, client } = await storeOf(prefix);
    const cluster = await startNodes(3, {
      redisUrl: redis.url,
      prefix,
      env: { JOINUS_GRACE_MS: String(GRACE_MS), JOINUS_NODE_LEASE_MS: String(LEASE_MS) },
    });
    const [n1, n2, n3] = cluster.nodes as [NodeProcess, NodeProcess, NodeProcess];
    // A node that has run for a while holds a lease (a node killed before its first one is the next test).
    for (const n of cluster.nodes) await eventually(async () => (await leaseOf(client, prefix, n)) !== null, `${n.name} holds a lease`);
    const s = await openSession(await signIn(n1, 'alice'), n2, 'Dora');
    const guest = await inviteGuest(n3, s, 'guest-of-dead');
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'held-by-dead' }));
    // Another session, wholly on the nodes that stay: untouched by the crash.
    const other = await openSession(await signIn(n2, 'bob'), n3, 'Olga');

    const customerTold = s.customer.client.waitFor('session:ended', () => true, SLOW_MS);
    const guestTold = guest.client.waitFor('session:ended', () => true, SLOW_MS);
    const killedAt = Date.now();
    await cluster.nodes[0]!.kill();
    expect(await customerTold).toEqual({ sessionId: s.sessionId, reason: 'agent_disconnected' });
    const droppedAfterMs = Date.now() - killedAt;
    expect(await guestTold).toEqual({ sessionId: s.sessionId, reason: 'agent_disconnected' });
    // Not before the grace period (counted from when the dead node last renewed its lease, at most a lease back).
    expect(droppedAfterMs).toBeGreaterThanOrEqual(GRACE_MS - LEASE_MS);

    // [H4] Its handles are free: logging in with one fails as unknown, and another session reserves it.
    expect(await store.listSessionHandles(s.sessionId, Date.now())).toEqual([]);
    expect(await store.getSession(s.sessionId)).toMatchObject({ state: 'ended', endReason: 'agent_disconnected' });
    const prober = await clientOn(n3, 'prober');
    expect(expectRefused(await prober.request('handle:login', { name: 'P', handle: 'held-by-dead' }), 'handle_unusable').message).toBe(
      Messages.handleUnusable,
    );
    expectOk(await other.agent.client.request('handle:reserve', { sessionId: other.sessionId, handle: 'held-by-dead' }));
    // [S4] Every credential of it is revoked, on the nodes that remain.
    for (const credential of [s.customer.requestToken, guest.credential]) {
      expectRefused(await (await clientOn(n2, 'late')).request('session:attach', { credential }), 'session_ended');
    }
    // The other session goes on, across the two remaining nodes.
    await relays(other.sessionId, other.agent, other.customer);
    await relays(other.sessionId, other.customer, other.agent);
    expect(await store.getSession(other.sessionId)).toMatchObject({ state: 'active' });
    // The survivors are fine.
    for (const n of [n2, n3]) {
      expect(n.running(), n.name).toBe(true);
      expect((await n.healthz()).status).toBe(200);
    }
  });

  it('[S4][H4] a node that crashes soon after it started (a crash loop) still has its connections counted as gone: the session drops, its handles are free', async () => {
    // A longer lease, so that the first third of it (before a node's first renewal that can reach
    // Redis) is long enough to open a session in.
    const YOUNG_LEASE_MS = 4500;
    const prefix = uniquePrefix();
    const { store, client } = await storeOf(prefix);
    const env = { JOINUS_GRACE_MS: String(GRACE_MS), JOINUS_NODE_LEASE_MS: String(YOUNG_LEASE_MS) };
    const [n2] = (await startNodes(1, { redisUrl: redis.url, prefix, env, names: ['node 2'] })).nodes as [NodeProcess];
    // Node 1 starts (again, as in a crash loop), takes the agent's connection and dies at once.
    const [n1] = (await startNodes(1, { redisUrl: redis.url, prefix, env, names: ['node 1 (young)'] })).nodes as [NodeProcess];
    const s = await openSession(await signIn(n1, 'alice'), n2, 'Vera');
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'held-by-young' }));
    const leaseAtDeath = await leaseOf(client, prefix, n1);

    // Counted as gone once a lease has passed, dropped a grace period after that (plus a sweep or two).
    const within = YOUNG_LEASE_MS + GRACE_MS + 4_000;
    const told = s.customer.client.waitFor('session:ended', () => true, within);
    await n1.kill();
    try {
      expect(await told).toEqual({ sessionId: s.sessionId, reason: 'agent_disconnected' });
    } catch (err) {
      // What Redis says now, for the report.
      const [peer, session, leases] = await Promise.all([
        store.getPeer(s.agent.peerId),
        store.getSession(s.sessionId),
        client.zrange(`jus:{${prefix}}:node-leases`, 0, -1),
      ]);
      throw new Error(
        `${(err as Error).message}\nnode 1 (${n1.nodeId()}) died ${leaseAtDeath === null ? 'before it had written any lease to Redis' : 'holding a lease'}; ` +
          `now the agent's peer is ${JSON.stringify(peer)}, the session ${JSON.stringify(session)}, the leases ${JSON.stringify(leases)}`,
      );
    }
    expect(await store.listSessionHandles(s.sessionId, Date.now())).toEqual([]);
    expect(await store.getHandle('held-by-young', Date.now())).toBeNull();
  });
});

// ================================================================== Redis goes away and comes back

describe('Redis stops and comes back', { timeout: TEST_MS }, () => {
  it('no node crashes; meanwhile requests get "unavailable" and /healthz 503; when Redis is back every node serves again, and the pages connected to it too', async () => {
    // A Redis of its own: this test takes it away (and it comes back empty: no persistence).
    const own = await startRedis();
    onTeardown(() => own.stop());
    const prefix = uniquePrefix();
    const cluster = await startNodes(3, { redisUrl: own.url, prefix, env: { JOINUS_NODE_LEASE_MS: '600' } });
    const nodes = cluster.nodes;
    const { client } = await storeOf(prefix, own);
    // Nodes that have run for a while: each holds its lease.
    for (const n of nodes) await eventually(async () => (await leaseOf(client, prefix, n)) !== null, `${n.name} holds a lease`);
    // Connections made before: pages (they reconnect by themselves) and plain ones.
    const pages = await Promise.all(nodes.map((n) => socketOn(n)));
    const pageDisconnects = pages.map(() => [] as string[]);
    pages.forEach((p, i) => p.on('disconnect', (reason) => pageDisconnects[i]!.push(reason)));
    const before = await Promise.all(nodes.map((n) => clientOn(n, 'connected before')));

    await own.stop();
    for (const n of nodes) {
      await eventually(async () => (await n.healthz()).status === 503, `${n.name} answers /healthz with 503`, SLOW_MS);
    }
    // Requests meanwhile, on connections from before and on new ones: a clear "temporarily unavailable".
    const during = await Promise.all(nodes.map((n) => clientOn(n, 'connected during')));
    for (const c of [...before, ...during]) {
      for (const ack of [
        await c.request('customer:request', { name: 'Una', topic: 'During the outage' }),
        await c.request('agent:signIn', { username: 'alice', password: testAgents.alice! }),
        await c.request('handle:login', { name: 'Gil', handle: 'during-outage' }),
        await c.request('session:attach', { credential: 'c'.repeat(43) }),
      ]) {
        const error = expectRefused(ack, 'unavailable');
        expect(error.message).toBe('Join Us is temporarily unavailable. Try again in a few seconds.');
        expect(error.retryAfterMs).toBeGreaterThan(0);
      }
    }
    for (const n of nodes) {
      expect(n.running(), `${n.name} is still running`).toBe(true);
      expect((await n.healthz()).body).toMatchObject({ ok: false, store: 'redis' });
    }

    await own.restart();
    for (const n of nodes) {
      await eventually(async () => (await n.healthz()).status === 200, `${n.name} answers /healthz with 200 again`, SLOW_MS);
    }
    // Every node holds a lease again (it has seen that Redis forgot the old one, and done what it does then).
    // The test's own connection reconnects on its own schedule: until it has, a read fails, and is asked again.
    await redisReady(client, SLOW_MS);
    for (const n of nodes) {
      await eventually(async () => (await leaseOf(client, prefix, n).catch(() => null)) !== null, `${n.name} holds a lease again`, SLOW_MS);
    }

    // A fresh flow across all three nodes: store, limits and cross-node events all work again.
    const [n1, n2, n3] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    const s = await openSession(await signIn(n1, 'alice'), n2, 'Rita');
    const guest = await inviteGuest(n3, s, 'after-outage');
    for (const [from, to] of [
      [s.agent, s.customer],
      [s.customer, guest],
      [guest, s.agent],
    ] as const) {
      await relays(s.sessionId, from, to);
      await relays(s.sessionId, to, from);
    }

    // The pages connected before are served again too, by whatever means (kept, or reconnected by
    // themselves): a page cannot be asked to reload because Redis restarted.
    for (const [i, page] of pages.entries()) {
      await until(
        () => page.connected,
        `the page on ${nodes[i]!.name} is connected again`,
        () => `disconnects seen: ${JSON.stringify(pageDisconnects[i])}, socket.active ${page.active}`,
      );
      await untilOk(`sign-in on ${nodes[i]!.name}`, () => request(page, 'agent:signIn', { username: 'bob', password: testAgents.bob! }));
    }
    for (const n of nodes) expect(n.running(), n.name).toBe(true);
  });
});

// ================================================================== the queue across nodes (S1)

describe('the queue across nodes', { timeout: TEST_MS }, () => {
  it('[S1] a customer waiting on one node is told its new place when the one ahead, on another node, is accepted through a third; agents on every node hear each change', async () => {
    // Nodes and a queue of their own: the shared set's queue holds other tests' customers.
    const cluster = await startNodes(3, { redisUrl: redis.url, prefix: uniquePrefix() });
    const [n1, n2, n3] = cluster.nodes as [NodeProcess, NodeProcess, NodeProcess];
    const alice = await signIn(n1, 'alice');
    const bob = await signIn(n3, 'bob');
    const first = await clientOn(n2, 'first customer');
    const second = await clientOn(n3, 'second customer');
    const bobHearsAdded = bob.client.waitFor('queue:changed', (c) => c.added?.name === 'Ada');
    const a = expectOk(await first.request('customer:request', { name: 'Ada', topic: 'First in line' }));
    await bobHearsAdded;
    const b = expectOk(await second.request('customer:request', { name: 'Ben', topic: 'Second in line' }));
    expect([a.position, b.position]).toEqual([1, 2]);

    const moved = second.waitFor('queue:position', (p) => p.position === 1);
    const bobHearsTaken = bob.client.waitFor('queue:changed', (c) => c.removed?.requestId === a.requestId);
    expectOk(await alice.client.request('queue:accept', { requestId: a.requestId }));
    expect((await bobHearsTaken).removed).toEqual({ requestId: a.requestId, because: 'taken' });
    expect((await moved).position).toBe(1);
    expect(cluster.crashes()).toEqual([]);
  });
});

// ================================================================== a node restarts mid-session (S3)

describe('a node restarts mid-session', { timeout: TEST_MS }, () => {
  /**
   * Agent and customer pages on node 1, a guest's page on node 2, all live in a full mesh; a second
   * guest removed (a revocation) and a handle reserved, both before the restart.
   */
  async function liveSession(cluster: NodeSet, prefix: string) {
    const [n1, n2] = cluster.nodes as [NodeProcess, NodeProcess];
    const { store } = await storeOf(prefix);
    const { sessionId, people } = await pagesOn(n1, n1, n2, 'first-guest');
    const net = new FakeNetwork();
    const [agent, customer, guest] = people.map((p) => connect(net, sessionId, p.name, p.socket, p.credential)) as [
      Participant,
      Participant,
      Participant,
    ];
    const all = [agent, customer, guest];
    await eventually(() => all.every((p) => p.conn.getSnapshot().mesh.connected === 2), 'a full mesh', SLOW_MS);

    // A second guest joins through node 2 and is removed: its credential is revoked.
    await ask(agent.socket, 'handle:reserve', { sessionId, handle: 'removed-guest' });
    const removedClient = await clientOn(n2, 'guest to be removed');
    const removedLogin = expectOk(await removedClient.request('handle:login', { name: 'Rob', handle: 'removed-guest' }));
    const rob = (await store.listParticipants(sessionId)).find((p) => p.name === 'Rob')!;
    expectOk(await agent.conn.remove(rob.participantId, 'Rob'));
    // A handle reserved, not used yet.
    await ask(agent.socket, 'handle:reserve', { sessionId, handle: 'kept-across-restart' });
    await eventually(() => agent.conn.getSnapshot().handles.some((h) => h.handle === 'kept-across-restart'), 'the agent sees the handle');

    for (const p of all) await p.conn.sendChat(`before, from ${p.name}`);
    await eventually(() => all.every((p) => chats(p).length === 3), 'the chat before', SLOW_MS);
    const peerIds = all.map((p) => p.conn.attachInfo!.peerId);
    return { n1, n2, store, sessionId, net, agent, customer, guest, all, peerIds, rob, removedCredential: removedLogin.credential };
  }

  /** After the restart: the same session, peers, handle and revocation; nothing closed, nothing lost. */
  async function expectAsBefore(
    x: Awaited<ReturnType<typeof liveSession>>,
    restarted: NodeProcess,
    reconnected: Participant[],
    typedMeanwhile: string[],
  ) {
    const { store, sessionId, net, all, agent, peerIds } = x;
    // Re-admitted by themselves, with the credentials they hold, under the peer ids they had.
    await until(
      () =>
        all.every((p) => live(p) && p.conn.getSnapshot().connection.text === 'Connected to 2 of 2 participants') &&
        reconnected.every((p) => p.conn.attachInfo?.resumed === true),
      'everyone is live again',
      () => all.map((p) => `${p.name}: ${p.conn.getSnapshot().phase.kind}, "${p.conn.getSnapshot().connection.text}", resumed ${p.conn.attachInfo?.resumed}`).join('; '),
    );
    expect(all.map((p) => p.conn.attachInfo!.peerId)).toEqual(peerIds);
    expect(all.map((p) => p.conn.attachInfo!.sessionId)).toEqual([sessionId, sessionId, sessionId]);
    // The store agrees: the session is active, each peer connected, those on the restarted node through its new process.
    expect(await store.getSession(sessionId)).toMatchObject({ state: 'active', agentOfflineSince: null, customerOfflineSince: null });
    const peers = await store.listPeers(sessionId);
    expect(peers.map((p) => p.peerId).sort()).toEqual([...peerIds].sort());
    for (const p of peers) expect(p.connectionId, `peer ${p.peerId}`).not.toBeNull();
    expect(peers.filter((p) => p.connectionId!.startsWith(`${restarted.nodeId()}/`)).length).toBeGreaterThan(0);

    // What was typed while the node was away went over the peers' own channels: nothing closed, nothing lost.
    const expected = [...all.map((p) => `before, from ${p.name}`), ...typedMeanwhile].sort();
    await eventually(() => all.every((p) => chats(p).length === expected.length), 'every message everywhere', SLOW_MS);
    for (const p of all) expect(chats(p), p.name).toEqual(expected);
    expect(net.closed).toBe(0);

    // The revocation holds, on either node.
    for (const n of [x.n1, x.n2]) {
      expectRefused(await (await clientOn(n, 'removed guest again')).request('session:attach', { credential: x.removedCredential }), 'removed');
    }
    expect(await store.getParticipant(x.rob.participantId)).toMatchObject({ state: 'removed' });
    // The handle is still reserved for the session, and admits a party through the restarted node.
    expect(agent.conn.getSnapshot().handles.map((h) => h.handle)).toContain('kept-across-restart');
    const late = await clientOn(restarted, 'late guest');
    expect(expectOk(await late.request('handle:login', { name: 'Lena', handle: 'kept-across-restart' })).sessionId).toBe(sessionId);
    // And the session goes on: a chat after reaches everyone.
    await agent.conn.sendChat('after the restart');
    await eventually(() => all.every((p) => chats(p).includes('after the restart')), 'the chat after', SLOW_MS);
  }

  it('[S3] node 1 (agent and customer) stops and starts again: the pages reconnect and are re-admitted, nothing of the session is lost', async () => {
    const prefix = uniquePrefix();
    const cluster = await startNodes(2, { redisUrl: redis.url, prefix, env: { JOINUS_NODE_LEASE_MS: '600' } });
    const x = await liveSession(cluster, prefix);
    const { n1, agent, customer, guest } = x;

    await n1.stop();
    await eventually(() => !live(agent) && !live(customer), 'the agent and the customer see the node go', SLOW_MS);
    // The peers keep talking over their own channels meanwhile.
    await agent.conn.sendChat('while node 1 is down, from alice');
    await guest.conn.sendChat('while node 1 is down, from Gwen');
    await n1.restart();
    await expectAsBefore(x, n1, [agent, customer], ['while node 1 is down, from alice', 'while node 1 is down, from Gwen']);
  });

  it('[S3] node 2 (the guest) crashes and comes back on its port: the guest is re-admitted; the dead process is reaped without touching it', async () => {
    const prefix = uniquePrefix();
    const cluster = await startNodes(2, { redisUrl: redis.url, prefix, env: { JOINUS_NODE_LEASE_MS: '600' } });
    const x = await liveSession(cluster, prefix);
    const { n2, guest, agent, store } = x;
    const deadNode = n2.nodeId()!;
    const { client } = await storeOf(prefix);

    await n2.kill();
    await eventually(() => !live(guest), 'the guest sees its node go', SLOW_MS);
    await guest.conn.sendChat('while node 2 is down, from Gwen');
    await n2.restart();
    expect(n2.nodeId()).not.toBe(deadNode);
    await expectAsBefore(x, n2, [guest], ['while node 2 is down, from Gwen']);

    // The dead process's lease runs out and a sweep reaps what it held: the guest, back on the new
    // process, stays connected, and nobody is told it left.
    await eventually(async () => (await client.zscore(`jus:{${prefix}}:node-leases`, deadNode)) === null, 'the dead node is reaped', SLOW_MS);
    const peer = await store.getPeer(guest.conn.attachInfo!.peerId);
    expect(peer?.connectionId?.startsWith(`${n2.nodeId()}/`)).toBe(true);
    expect(peer?.disconnectedAt).toBeNull();
    expect(agent.conn.getSnapshot().mesh.connected).toBe(2);
    await agent.conn.sendChat('after the reaping');
    await eventually(() => guest.conn.getSnapshot().phase.kind === 'live' && chats(guest).includes('after the reaping'), 'the guest still hears', SLOW_MS);
  });
});
