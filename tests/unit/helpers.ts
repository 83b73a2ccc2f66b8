/**
 * Test doubles and a small harness around JoinUsCore: a fake clock, deterministic randomness (seeded,
 * with the option to script the next draws), an in-memory store and a record of every effect.
 */
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { FakeClock, type RandomBytes } from '../../signaling/core/clock';
import { defaultCoreConfig, JoinUsCore, type CoreConfig, type Effect } from '../../signaling/core/core';
import type { Result } from '../../signaling/core/result';
import { MemoryStore } from '../../signaling/store/memory';
import type { Store } from '../../signaling/store/types';

/** A deterministic byte stream: sha256(seed:counter) blocks, so sequences are stable across runs. */
export function seededRandomBytes(seed: string): RandomBytes {
  let counter = 0;
  let pool = Buffer.alloc(0);
  return (n: number) => {
    while (pool.length < n) {
      pool = Buffer.concat([pool, createHash('sha256').update(`${seed}:${counter++}`).digest()]);
    }
    const out = new Uint8Array(pool.subarray(0, n));
    pool = pool.subarray(n);
    return out;
  };
}

/**
 * Randomness whose next draws a test can dictate. Scripted chunks are handed out first (each must
 * be asked for with exactly its length, so a test notices when the code draws differently than it
 * assumed); after that the seeded stream takes over.
 */
export class ScriptedRandom {
  private readonly script: Uint8Array[] = [];
  private readonly fallback: RandomBytes;
  /** Every request size, in order: lets a test see how much randomness was asked for. */
  readonly requests: number[] = [];

  constructor(seed = 'join-us-tests') {
    this.fallback = seededRandomBytes(seed);
  }

  push(...chunks: (Uint8Array | number[])[]): void {
    for (const c of chunks) this.script.push(c instanceof Uint8Array ? c : Uint8Array.from(c));
  }

  get pending(): number {
    return this.script.length;
  }

  readonly bytes: RandomBytes = (n: number) => {
    this.requests.push(n);
    const next = this.script.shift();
    if (next === undefined) return this.fallback(n);
    if (next.length !== n) throw new Error(`scripted ${next.length} random bytes but ${n} were requested`);
    return next;
  };
}

export const AGENTS: ReadonlyMap<string, string> = new Map([
  ['alice', 'alice-password'],
  ['bob', 'bob-password'],
  ['carol', 'carol:has:colons'],
]);

export interface Harness {
  core: JoinUsCore;
  store: Store;
  clock: FakeClock;
  random: ScriptedRandom;
  effects: Effect[];
  config: CoreConfig;
}

export function makeHarness(
  opts: { config?: Partial<CoreConfig>; store?: Store; clock?: FakeClock; random?: ScriptedRandom } = {},
): Harness {
  const clock = opts.clock ?? new FakeClock();
  const store = opts.store ?? new MemoryStore();
  const random = opts.random ?? new ScriptedRandom();
  const effects: Effect[] = [];
  const config: CoreConfig = { ...defaultCoreConfig, agents: AGENTS, ...opts.config };
  const core = new JoinUsCore({ store, clock, randomBytes: random.bytes, config, onEffect: (e) => effects.push(e) });
  return { core, store, clock, random, effects, config };
}

/** Effects of one type, narrowed. */
export function effectsOf<T extends Effect['type']>(effects: readonly Effect[], type: T): Extract<Effect, { type: T }>[] {
  return effects.filter((e): e is Extract<Effect, { type: T }> => e.type === type);
}

/** The value of a successful result; fails the test with the refusal otherwise. */
export function unwrap<T>(r: Result<T>): T {
  if (!r.ok) {
    expect.fail(`expected ok, got ${r.error.reason}: ${r.error.message}`);
  }
  return r.value;
}

/** The error of a refused result; fails the test if it succeeded. */
export function refusal<T>(r: Result<T>): { reason: string; message: string } {
  if (r.ok) {
    expect.fail(`expected a refusal, got ok: ${JSON.stringify(r.value)}`);
  }
  return r.error;
}

export interface OpenSession {
  sessionId: string;
  agentName: string;
  requestId: string;
  agentCredential: string;
  /** The customer's request token, which becomes its credential on admission. */
  customerCredential: string;
  agentParticipantId: string;
  customerParticipantId: string;
  agentPeerId: string;
  customerPeerId: string;
}

let connectionCounter = 0;
export const nextConnectionId = (label = 'conn'): string => `${label}-${++connectionCounter}`;

/** A customer asks for help, `agentName` accepts, and both attach to the session's room. */
export async function openSession(
  h: Harness,
  agentName = 'alice',
  customerName = 'Cleo Customer',
  topic = 'My invoice',
): Promise<OpenSession> {
  const req = await h.core.requestHelp(customerName, topic);
  const summary = unwrap(await h.core.acceptRequest(agentName, req.requestId));
  const agent = unwrap(await h.core.attach(summary.credential, nextConnectionId('agent')));
  const customer = unwrap(await h.core.attach(req.requestToken, nextConnectionId('customer')));
  expect(agent.role).toBe('agent');
  expect(customer.role).toBe('customer');
  return {
    sessionId: summary.sessionId,
    agentName,
    requestId: req.requestId,
    agentCredential: summary.credential,
    customerCredential: req.requestToken,
    agentParticipantId: agent.participantId,
    customerParticipantId: customer.participantId,
    agentPeerId: agent.peerId,
    customerPeerId: customer.peerId,
  };
}

export interface JoinedGuest {
  handle: string;
  credential: string;
  participantId: string;
  peerId: string;
}

/** The agent reserves `handle`, a third party logs in with it and attaches. */
export async function inviteGuest(h: Harness, s: OpenSession, handle: string, name = 'Gus Guest'): Promise<JoinedGuest> {
  unwrap(await h.core.reserveHandle(s.agentName, s.sessionId, handle));
  const login = unwrap(await h.core.loginWithHandle(name, handle));
  expect(login.sessionId).toBe(s.sessionId);
  const attached = unwrap(await h.core.attach(login.credential, nextConnectionId('guest')));
  expect(attached.role).toBe('guest');
  return { handle, credential: login.credential, participantId: attached.participantId, peerId: attached.peerId };
}

/** base64url of exactly 32 bytes: 256 random bits. */
export function expectSecret256(secret: string): void {
  expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(Buffer.from(secret, 'base64url').length).toBe(32);
}
