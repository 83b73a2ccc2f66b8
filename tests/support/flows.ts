/**
 * The steps most tests need before they get to their point, done over real sockets and checked
 * along the way: an agent signs in, a customer asks for help and is accepted, both attach, a guest is
 * invited with a handle.
 */
import { expect } from 'vitest';
import type { AgentSessionSummary, AttachResult } from '../../lib/protocol';
import { expectOk, testAgents, type SignalingHarness, type TestClient } from './signaling';

type Harness = SignalingHarness<'fake'> | SignalingHarness<'system'>;

export interface SignedInAgent {
  client: TestClient;
  name: string;
  token: string;
}

export async function signInAgent(h: Harness, name = 'alice', password = testAgents[name]): Promise<SignedInAgent> {
  const client = await h.client({ name: `agent ${name}` });
  const ack = expectOk(await client.request('agent:signIn', { username: name, password: password ?? '' }));
  expect(ack.name).toBe(name);
  return { client, name, token: ack.token };
}

export interface WaitingCustomer {
  client: TestClient;
  requestId: string;
  requestToken: string;
}

export async function requestHelp(h: Harness, name = 'Carla Customer', topic = 'My invoice is wrong'): Promise<WaitingCustomer> {
  const client = await h.client({ name: `customer ${name}` });
  const ack = expectOk(await client.request('customer:request', { name, topic }));
  return { client, requestId: ack.requestId, requestToken: ack.requestToken };
}

export interface Party {
  client: TestClient;
  credential: string;
  attach: AttachResult;
  peerId: string;
  participantId: string;
}

export async function attach(client: TestClient, credential: string): Promise<Party> {
  const a = expectOk(await client.request('session:attach', { credential }));
  return { client, credential, attach: a, peerId: a.peerId, participantId: a.participantId };
}

export interface OpenSession {
  sessionId: string;
  summary: AgentSessionSummary;
  agent: Party & { name: string; token: string };
  customer: Party & { requestId: string; requestToken: string };
}

/** A customer asks, `agent` accepts, both attach. Pass an agent to give it another session (S6). */
export async function openSession(
  h: Harness,
  opts: { agent?: SignedInAgent | string; customerName?: string; topic?: string } = {},
): Promise<OpenSession> {
  const agent = typeof opts.agent === 'object' ? opts.agent : await signInAgent(h, opts.agent ?? 'alice');
  const customer = await requestHelp(h, opts.customerName, opts.topic);
  const admitted = customer.client.waitFor('customer:admitted');
  const summary = expectOk(await agent.client.request('queue:accept', { requestId: customer.requestId })).session;
  expect((await admitted).sessionId).toBe(summary.sessionId);

  const agentParty = await attach(agent.client, summary.credential);
  const customerJoined = agent.client.waitFor('peer:joined', (p) => p.sessionId === summary.sessionId);
  const customerParty = await attach(customer.client, customer.requestToken);
  expect((await customerJoined).peerId).toBe(customerParty.peerId);
  expect(customerParty.attach.role).toBe('customer');
  return {
    sessionId: summary.sessionId,
    summary,
    agent: { ...agentParty, name: agent.name, token: agent.token },
    customer: { ...customerParty, requestId: customer.requestId, requestToken: customer.requestToken },
  };
}

/** The agent reserves `handle`, a guest logs in with it on a new connection and attaches. */
export async function inviteGuest(
  h: Harness,
  session: OpenSession,
  opts: { handle: string; name?: string },
): Promise<Party & { name: string }> {
  const name = opts.name ?? 'Gus Guest';
  expectOk(await session.agent.client.request('handle:reserve', { sessionId: session.sessionId, handle: opts.handle }));
  const client = await h.client({ name: `guest ${name}` });
  const login = expectOk(await client.request('handle:login', { name, handle: opts.handle }));
  expect(login.sessionId).toBe(session.sessionId);
  const joined = session.agent.client.waitFor('peer:joined', (p) => p.sessionId === session.sessionId);
  const party = await attach(client, login.credential);
  expect((await joined).peerId).toBe(party.peerId);
  expect(party.attach.role).toBe('guest');
  return { ...party, name };
}
