/**
 * Integration harness: boots the REAL signaling server (node:http + createSignaling on port 0, the
 * memory store, node:crypto randomness) and connects real socket.io clients to it over websockets.
 *
 * Time is a FakeClock by default: a test advances it and then calls `h.signaling.core.sweep()`
 * instead of sleeping. Everything a test opens is closed by the `afterEach` registered below, so a
 * failing test cannot leak a server or a socket into the next one.
 */
import type { FormDefinition } from '../../features/forms/schema';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { io, type Socket } from 'socket.io-client';
import { afterEach, expect } from 'vitest';
import type {
  Ack,
  AckData,
  ClientEvent,
  ClientToServerEvents,
  ErrorReason,
  IceServer,
  IceTransportPolicy,
  Payload,
  ProtocolError,
  ServerToClientEvents,
} from '../../lib/protocol';
import {
  createSignaling,
  defaultJoinRateLimits,
  defaultSignInLimits,
  type JoinRateLimits,
  type SignInLimits,
  type Signaling,
} from '../../signaling/server';
import type { TrustProxy } from '../../signaling/edge';
import { FakeClock, systemClock, type Clock } from '../../signaling/core/clock';
import { defaultCoreConfig } from '../../signaling/core/core';
import { MemoryStore } from '../../signaling/store/memory';
import type { TurnConfig } from '../../signaling/core/turn';
import type { Store } from '../../signaling/store/types';

/** How long a test waits for something that should happen before it fails (a deadline, not a sleep). */
export const WAIT_MS = 5_000;

// ------------------------------------------------------------------ teardown

type Cleanup = () => Promise<void> | void;
const cleanups: Cleanup[] = [];

/** Run `fn` after the current test, newest first (clients close before their server). */
export function onTeardown(fn: Cleanup): void {
  cleanups.push(fn);
}

afterEach(async () => {
  const errors: unknown[] = [];
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw errors[0];
});

// ------------------------------------------------------------------ the server

export const testAgents: Readonly<Record<string, string>> = {
  alice: 'alice-password',
  bob: 'bob-password',
  carol: 'carol-password',
};

type ClockKind = 'fake' | 'system';

export interface HarnessOptions<C extends ClockKind = 'fake'> {
  /** 'fake' (default): a FakeClock the test moves by hand. 'system': the wall clock. */
  clock?: C;
  /** username → password. @default testAgents */
  agents?: Record<string, string>;
  /** @default 900_000 (the product default) */
  handleTtlMs?: number;
  /** @default 30_000 (the product default) */
  graceMs?: number;
  /**
   * Merged over the product defaults (5 per address, 100 in total, per minute), except that proofs of
   * work are made cheap (20 steps) unless a test asks for more: the tests solve them in node.
   */
  joinRateLimits?: Partial<JoinRateLimits>;
  /** Merged over the product defaults. */
  signInLimits?: Partial<SignInLimits>;
  /** JOINUS_LOBBY. @default false */
  lobbyByDefault?: boolean;
  /** JOINUS_TRUST_PROXY. @default null */
  trustProxy?: TrustProxy;
  /** JOINUS_ALLOWED_ORIGINS. @default [] */
  allowedOrigins?: string[];
  /** @default 200 (the product default) */
  eventsPerSecond?: number;
  /** Another store implementation to run the same tests against. @default a new MemoryStore */
  store?: Store;
  iceServers?: IceServer[];
  /** A TURN relay whose credentials are minted per participant at admission. */
  turn?: TurnConfig;
  iceTransportPolicy?: IceTransportPolicy;
  /** C3: ask pushed pages' sites whether they may be framed. @default true (the product default) */
  frameCheck?: boolean;
  /** C4: the form catalog handed out on attach. @default the built-in forms */
  forms?: FormDefinition[];
  /**
   * The server's own sweep timer. With the fake clock it is pushed out of the way (an hour) so the
   * test decides when a sweep happens; with the system clock it runs at the product default.
   */
  sweepIntervalMs?: number;
}

export interface LogEntry {
  level: number;
  msg?: string;
  [key: string]: unknown;
}

export interface SignalingHarness<C extends ClockKind = 'fake'> {
  url: string;
  port: number;
  signaling: Signaling;
  clock: C extends 'system' ? Clock : FakeClock;
  store: Store;
  /** Everything the server logged at warn level or above (nothing is printed). */
  logs: LogEntry[];
  /** Connect a client; it is closed after the test. */
  client(options?: ClientOptions): Promise<TestClient>;
  close(): Promise<void>;
}

export async function startSignaling<C extends ClockKind = 'fake'>(
  options: HarnessOptions<C> = {},
): Promise<SignalingHarness<C>> {
  const fake = (options.clock ?? 'fake') === 'fake';
  const clock: Clock = fake ? new FakeClock() : systemClock;
  const store = options.store ?? new MemoryStore();
  const logs: LogEntry[] = [];
  // Silent: nothing reaches stdout, but warnings and errors are kept for assertions.
  const logger = pino({ level: 'warn' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogEntry) });

  const httpServer = createServer();
  const signaling = createSignaling(httpServer, {
    store,
    clock,
    randomBytes: (n) => randomBytes(n),
    config: {
      ...defaultCoreConfig,
      agents: new Map(Object.entries(options.agents ?? testAgents)),
      handleTtlMs: options.handleTtlMs ?? defaultCoreConfig.handleTtlMs,
      graceMs: options.graceMs ?? defaultCoreConfig.graceMs,
      lobbyByDefault: options.lobbyByDefault ?? false,
    },
    iceServers: options.iceServers ?? [],
    turn: options.turn ?? null,
    iceTransportPolicy: options.iceTransportPolicy ?? 'all',
    logger,
    joinRateLimits: { ...defaultJoinRateLimits, proofSteps: 20, ...options.joinRateLimits },
    signInLimits: { ...defaultSignInLimits, ...options.signInLimits },
    trustProxy: options.trustProxy ?? null,
    allowedOrigins: options.allowedOrigins ?? [],
    eventsPerSecond: options.eventsPerSecond,
    frameCheck: options.frameCheck ?? true,
    ...(options.forms ? { forms: options.forms } : {}),
    sweepIntervalMs: options.sweepIntervalMs ?? (fake ? 60 * 60_000 : 1_000),
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await signaling.close();
    if (httpServer.listening) await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  };
  onTeardown(close);

  let clientCount = 0;
  return {
    url,
    port,
    signaling,
    clock: clock as SignalingHarness<C>['clock'],
    store,
    logs,
    client: (clientOptions = {}) => connectClient(url, { name: `client-${++clientCount}`, ...clientOptions }),
    close,
  };
}

// ------------------------------------------------------------------ clients

export type ServerEvent = keyof ServerToClientEvents;
export type ServerPayload<K extends ServerEvent> = Parameters<ServerToClientEvents[K]>[0];
export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface ClientOptions {
  /** Shown in failure messages. */
  name?: string;
  /** Connect from this loopback address (127.0.0.2, …) to look like another client address. */
  localAddress?: string;
  /** Handshake headers (Origin, X-Forwarded-For), as a browser or a proxy would send them. */
  headers?: Record<string, string>;
}

export interface TestClient {
  readonly name: string;
  readonly socket: ClientSocket;
  /** Emit a typed event and resolve with the server's ack (fails the test if none comes). */
  request<E extends ClientEvent>(event: E, payload: Payload<E>): Promise<Ack<AckData[E]>>;
  /** Emit anything (malformed payloads, unknown events) and resolve with the ack. */
  requestRaw(event: string, ...args: unknown[]): Promise<unknown>;
  /** Emit without an ack callback. */
  emitRaw(event: string, ...args: unknown[]): void;
  /** Resolve on the next matching server event from now on; fail after `timeoutMs`. */
  waitFor<K extends ServerEvent>(
    event: K,
    predicate?: (payload: ServerPayload<K>) => boolean,
    timeoutMs?: number,
  ): Promise<ServerPayload<K>>;
  /** Every payload of `event` this client has received so far, oldest first. */
  received<K extends ServerEvent>(event: K): ServerPayload<K>[];
  /** Names of every server event received so far, in order. */
  receivedEvents(): string[];
  /**
   * One request/ack round trip with no side effects. Whatever the server emitted to this socket
   * before handling it has arrived once this resolves (one ordered connection), so a test can then
   * assert that something was NOT received without sleeping.
   */
  roundTrip(): Promise<void>;
  /** Resolves with the disconnect reason. */
  disconnected(timeoutMs?: number): Promise<string>;
  close(): void;
}

/** Resolve on the next `event` on `socket` that satisfies `predicate`; reject after `timeoutMs`. */
export function waitFor<K extends ServerEvent>(
  socket: ClientSocket,
  event: K,
  predicate: (payload: ServerPayload<K>) => boolean = () => true,
  timeoutMs = WAIT_MS,
  label = 'client',
): Promise<ServerPayload<K>> {
  // Untyped listeners: the generic event name defeats socket.io's listener typing.
  const untyped = socket as unknown as { on(e: string, l: (...a: never[]) => void): void; off(e: string, l: (...a: never[]) => void): void };
  return new Promise((resolve, reject) => {
    const seen: unknown[] = [];
    const done = () => {
      clearTimeout(timer);
      untyped.off(event, listener);
      untyped.off('disconnect', onDisconnect);
    };
    const timer = setTimeout(() => {
      done();
      reject(
        new Error(
          `${label}: no matching "${event}" within ${timeoutMs} ms` +
            (seen.length ? `; got ${JSON.stringify(seen).slice(0, 1000)}` : ''),
        ),
      );
    }, timeoutMs);
    const listener = (payload: ServerPayload<K>) => {
      seen.push(payload);
      let match: boolean;
      try {
        match = predicate(payload);
      } catch (err) {
        done();
        reject(err as Error);
        return;
      }
      if (match) {
        done();
        resolve(payload);
      }
    };
    const onDisconnect = (reason: string) => {
      done();
      reject(new Error(`${label}: disconnected (${reason}) while waiting for "${event}"`));
    };
    untyped.on(event, listener);
    untyped.on('disconnect', onDisconnect);
  });
}

export async function connectClient(url: string, options: ClientOptions = {}): Promise<TestClient> {
  const name = options.name ?? 'client';
  const socket: ClientSocket = io(url, {
    transports: ['websocket'],
    forceNew: true,
    // A test sees a disconnect as it happened; nothing reconnects behind its back.
    reconnection: false,
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    ...(options.headers ? { extraHeaders: options.headers } : {}),
  });
  const untyped = socket as unknown as Socket;
  const log: { event: string; payload: unknown }[] = [];
  untyped.onAny((event: string, payload: unknown) => log.push({ event, payload }));
  onTeardown(() => {
    socket.close();
  });

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: could not connect within ${WAIT_MS} ms`)), WAIT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${name}: connect_error: ${err.message}`));
    });
  });

  const requestRaw = async (event: string, ...args: unknown[]): Promise<unknown> => {
    try {
      return await untyped.timeout(WAIT_MS).emitWithAck(event, ...args);
    } catch (err) {
      throw new Error(`${name}: no ack for "${event}" within ${WAIT_MS} ms (${(err as Error).message})`);
    }
  };

  return {
    name,
    socket,
    request: (event, payload) => requestRaw(event, payload) as Promise<Ack<AckData[typeof event]>>,
    requestRaw,
    emitRaw: (event, ...args) => {
      untyped.emit(event, ...args);
    },
    waitFor: (event, predicate, timeoutMs) => waitFor(socket, event, predicate, timeoutMs, name),
    received: <K extends ServerEvent>(event: K) =>
      log.filter((e) => e.event === event).map((e) => e.payload as ServerPayload<K>),
    receivedEvents: () => log.map((e) => e.event),
    roundTrip: async () => {
      // An id that fails validation: answered with invalid_request, changes nothing.
      const ack = (await requestRaw('session:detach', { sessionId: '!' })) as Ack;
      if (ack.ok || ack.error.reason !== 'invalid_request') {
        throw new Error(`${name}: unexpected round-trip answer ${JSON.stringify(ack)}`);
      }
    },
    disconnected: (timeoutMs = WAIT_MS) =>
      new Promise<string>((resolve, reject) => {
        if (socket.disconnected) {
          resolve('already disconnected');
          return;
        }
        const timer = setTimeout(() => reject(new Error(`${name}: still connected after ${timeoutMs} ms`)), timeoutMs);
        socket.once('disconnect', (reason) => {
          clearTimeout(timer);
          resolve(reason);
        });
      }),
    close: () => {
      socket.close();
    },
  };
}

// ------------------------------------------------------------------ acks and conditions

/** Assert an ack is ok and return its data. */
export function expectOk<T extends object>(ack: Ack<T>): T {
  if (!ack.ok) {
    expect.fail(`expected ok, got ${ack.error.reason}: ${ack.error.message}`);
  }
  const { ok: _ok, ...rest } = ack as { ok: true } & T;
  return rest as unknown as T;
}

/** Assert an ack is a refusal with `reason` and return the error. */
export function expectRefused(ack: Ack<object> | unknown, reason: ErrorReason): ProtocolError {
  const a = ack as Ack<object>;
  if (a.ok) expect.fail(`expected refusal "${reason}", got ok: ${JSON.stringify(a)}`);
  expect(a.error.reason, a.error.message).toBe(reason);
  expect(typeof a.error.message).toBe('string');
  expect(a.error.message.length).toBeGreaterThan(0);
  return a.error;
}

/**
 * Wait until `condition` holds (for state that changes after an event was already sent, e.g. a
 * store write that follows the notification). Checks on every turn of the event loop; fails after
 * `timeoutMs`.
 */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
