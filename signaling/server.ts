/**
 * The socket.io shell around the core: parse (zod), call the core, acknowledge, deliver effects.
 * Nothing here decides a rule; every handler is a few lines.
 */
import type { Server as HttpServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Server, type ServerOptions, type Socket } from 'socket.io';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Logger } from 'pino';
import {
  ErrorReason,
  Limits,
  type AckData,
  type AttachResult,
  type ClientEvent,
  type ClientToServerEvents,
  type IceServer,
  type IceTransportPolicy,
  type Parsed,
  type ReservedHandle,
  type Role,
  type ServerToClientEvents,
} from '../lib/protocol';
import { Schemas } from '../lib/protocol-schemas';
import { JoinUsCore, type CoreConfig, type Effect } from './core/core';
import type { Clock, RandomBytes } from './core/clock';
import { fail, ok, Refusals, type Result } from './core/result';
import { turnCredential, type TurnConfig } from './core/turn';
import { checkFraming } from './frame-check';
import { keyedThrottle } from './throttle';
import { batchWritesPerTick } from './write-batching';
import { builtInForms } from '../features/forms/catalog';
import type { FormDefinition } from '../features/forms/schema';
import { checkWebAddress } from '../features/page-push/address';
import { connectionIdOf, StoreUnavailableError, type Store } from './store/types';
import { memoryLimiters, type LimiterFactory, type ProofLedger } from './limiters';
import { QueuePositions } from './queue-positions';
import { clientAddressResolver, originAllowed, type TrustProxy } from './edge';
import { JoinGuard, SignInGuard, defaultJoinRateLimits, defaultSignInLimits, type JoinRateLimits, type SignInLimits } from './guards';

/** Requests that may wait at once; beyond it new customers are asked to come back. */
const MAX_QUEUE = 1000;

/**
 * How often at most an agent's console is told of its session's handles (the first change of a burst
 * at once, its last state at the end): well below what a person notices, and enough to turn the
 * handle cycles of a busy session into one message per window.
 */
const HANDLES_UPDATE_EVERY_MS = 50;

export { defaultJoinRateLimits, defaultSignInLimits, type JoinRateLimits, type SignInLimits } from './guards';

export interface SignalingOptions {
  store: Store;
  clock: Clock;
  randomBytes: RandomBytes;
  config: CoreConfig;
  /** Static STUN/TURN entries handed to every admitted participant (JOINUS_ICE_SERVERS). */
  iceServers: IceServer[];
  /** A TURN relay whose credentials are minted per participant at admission. */
  turn?: TurnConfig | null;
  /** @default 'all' */
  iceTransportPolicy?: IceTransportPolicy;
  logger: Logger;
  joinRateLimits?: JoinRateLimits;
  /** Agent sign-in failures allowed per account and address, per address, per account. */
  signInLimits?: SignInLimits;
  /** How far X-Forwarded-For is believed (JOINUS_TRUST_PROXY). @default null: not at all */
  trustProxy?: TrustProxy;
  /** Page origins besides the server's own that may connect (JOINUS_ALLOWED_ORIGINS). @default [] */
  allowedOrigins?: string[];
  /** How often expiries and grace periods are checked. @default 1000 */
  sweepIntervalMs?: number;
  /** Events one connection may send per second before it is told to slow down. @default 200 */
  eventsPerSecond?: number;
  /**
   * C3: ask a pushed page's site whether it may be framed (JOINUS_FRAME_CHECK). Off: every push is
   * `unknown`, shown in a frame with "open in a new tab" beside it. @default true
   */
  frameCheck?: boolean;
  /** C4: the forms handed to every admitted participant. @default the built-in catalog */
  forms?: FormDefinition[];
  /**
   * Where counted limits live (help requests, H8, sign-ins, frame checks): in Redis with several
   * nodes, so that they hold in total. Per-connection flood control stays in this process.
   * @default in memory
   */
  limiters?: LimiterFactory;
  /** H8's proof-of-work secrets and spent proofs: in Redis with several nodes. @default in memory */
  proofLedger?: ProofLedger;
  /** socket.io's adapter: its Redis adapter carries room events across nodes. @default in memory */
  adapter?: ServerOptions['adapter'];
  /** This node's name in connection ids and leases. @default random */
  nodeId?: string;
  /**
   * Hold a lease on this node's connections (a store shared with other nodes: Redis). With the
   * embedded store the connections and the store live and die together: no lease. @default false
   */
  leases?: boolean;
}

/** Events between signaling nodes (through the adapter). */
interface InterServerEvents {
  /** Someone left the queue: every node tells its own waiting customers their new places. */
  'queue:moved': () => void;
}

/** What a connection remembers of a peer it attached: who, never what state (the store's). */
interface Held {
  peerId: string;
  participantId: string;
}

interface SocketData {
  agent?: { name: string; token: string };
  request?: { requestId: string; requestToken: string };
  /**
   * Which peer this connection holds in each session it attached to: a pointer only. Whether it
   * still holds it, and as whom, is the store's to say (`core.attachedAs`), on every node alike; the
   * socket.io rooms only deliver.
   */
  peers: Map<string, Held>;
}

type JoinUsSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type Reply<E extends ClientEvent> = Result<AckData[E]> | Promise<Result<AckData[E]>>;

const rooms = {
  agents: 'agents',
  agent: (name: string) => `agent:${name}`,
  request: (id: string) => `request:${id}`,
  session: (id: string) => `session:${id}`,
  sessionAgent: (id: string) => `session-agent:${id}`,
  peer: (id: string) => `peer:${id}`,
  /** A party waiting in a session's admission lobby, and all of that session's waiting parties. */
  lobby: (participantId: string) => `lobby:${participantId}`,
  lobbySession: (sessionId: string) => `lobby-session:${sessionId}`,
};

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Stands for "not exactly one payload argument": no schema accepts it. */
const invalidArgs = Symbol('invalid arguments');

/** simple-peer's signals nest three or four levels; anything near this is not one. */
const maxSignalDepth = 16;

/** Iterative, so that it cannot itself overflow the stack on hostile input. */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

export interface Signaling {
  io: Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
  core: JoinUsCore;
  /** This node's name in connection ids and leases. */
  nodeId: string;
  /** Resolves once the node holds its first lease (at once without leases). */
  leaseHeld: Promise<void>;
  close(): Promise<void>;
}

export function createSignaling(httpServer: HttpServer, opts: SignalingOptions): Signaling {
  const log = opts.logger;
  const allowedOrigins = new Set(opts.allowedOrigins ?? []);
  const addressOf = clientAddressResolver(opts.trustProxy ?? null);
  const io = new Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>(httpServer, {
    serveClient: false,
    ...(opts.adapter ? { adapter: opts.adapter } : {}),
    maxHttpBufferSize: Limits.frameBytes,
    // Pages are served from the same origin; nothing else may open a connection from a browser.
    cors: { origin: false },
    // CORS does not cover WebSockets: the Origin check is what keeps other sites' pages out.
    allowRequest: (req, callback) => {
      const allowed = originAllowed(req, allowedOrigins);
      if (!allowed) log.warn({ origin: req.headers.origin }, 'connection refused: origin not allowed');
      callback(allowed ? null : 'origin not allowed', allowed);
    },
  });

  // Every packet written to a connection within one tick goes out in one write (write-batching.ts).
  io.engine.on('connection', batchWritesPerTick);

  const positions = new QueuePositions({
    order: () => opts.store.queueOrder(),
    // This process's connections only: with several nodes, each tells its own customers.
    isHere: (requestId) => io.of('/').adapter.rooms.has(rooms.request(requestId)),
    send: (requestId, at) => io.local.to(rooms.request(requestId)).emit('queue:position', at),
    onError: (err) => log.error({ err }, 'queue positions failed'),
  });

  /**
   * An agent's console hears of its session's handles at most once per HANDLES_UPDATE_EVERY_MS: a
   * lone change at once, a burst as its last state at the end of the window, read afresh then (a
   * change on another node since is not overwritten by an older list). Every cycle of a handle
   * (reserved, then used) was two messages to the agent, and with Redis two publishes, each echoed
   * back to every node (issue 11).
   */
  const handleUpdates = keyedThrottle<ReservedHandle[]>(HANDLES_UPDATE_EVERY_MS, (sessionId, handles, late) => {
    const send = (now: ReservedHandle[]) => io.to(rooms.sessionAgent(sessionId)).emit('handles:update', { sessionId, handles: now });
    if (!late) return send(handles);
    // Should the store be out of reach, the list this node last had is better than none.
    void core.reservedHandles(sessionId).then(send, () => send(handles));
  });

  const deliver = (effect: Effect) => {
    void deliverEffect(effect).catch((err: unknown) => log.error({ err, effect: effect.type }, 'effect delivery failed'));
  };
  const core = new JoinUsCore({
    store: opts.store,
    clock: opts.clock,
    randomBytes: opts.randomBytes,
    config: opts.config,
    onEffect: deliver,
  });

  async function deliverEffect(effect: Effect): Promise<void> {
    switch (effect.type) {
      case 'queue_changed':
        // One message per agent whatever the queue's length; the customers behind one who left move
        // up, and hear it in the next batch. A newcomer is last: nobody else moves.
        io.to(rooms.agents).emit('queue:changed', effect.change);
        if (effect.change.removed) {
          positions.changed();
          // The other nodes' waiting customers move up too (the in-memory adapter has no others).
          if (opts.adapter) io.serverSideEmit('queue:moved');
        }
        return;
      case 'customer_admitted':
        io.to(rooms.request(effect.requestId)).emit('customer:admitted', { sessionId: effect.sessionId });
        io.in(rooms.request(effect.requestId)).socketsLeave(rooms.request(effect.requestId));
        return;
      case 'agent_sessions_changed':
        io.to(rooms.agent(effect.agentName)).emit('agent:sessions', {
          sessions: await core.agentSessionList(effect.agentName),
        });
        return;
      case 'handles_changed':
        handleUpdates.push(effect.sessionId, effect.handles);
        return;
      case 'peer_joined':
        io.to(rooms.session(effect.peer.sessionId))
          .except(rooms.peer(effect.peer.peerId))
          .emit('peer:joined', {
            sessionId: effect.peer.sessionId,
            peerId: effect.peer.peerId,
            participantId: effect.peer.participantId,
          });
        return;
      case 'key_added':
        io.to(rooms.session(effect.sessionId)).emit('directory:add', { sessionId: effect.sessionId, ...effect.entry });
        return;
      case 'peer_left':
        io.to(rooms.session(effect.peer.sessionId)).emit('peer:left', {
          sessionId: effect.peer.sessionId,
          peerId: effect.peer.peerId,
          participantId: effect.peer.participantId,
        });
        return;
      case 'session_ended': {
        const room = rooms.session(effect.sessionId);
        const lobby = rooms.lobbySession(effect.sessionId);
        io.to([room, lobby]).emit('session:ended', { sessionId: effect.sessionId, reason: effect.reason });
        io.in([room, lobby]).socketsLeave([room, lobby, rooms.sessionAgent(effect.sessionId)]);
        for (const p of effect.peers) io.in(rooms.peer(p.peerId)).socketsLeave(rooms.peer(p.peerId));
        return;
      }
      case 'lobby_changed':
        io.to(rooms.sessionAgent(effect.sessionId)).emit('lobby:update', {
          sessionId: effect.sessionId,
          ...(await core.lobby(effect.sessionId)),
        });
        return;
      case 'lobby_decided': {
        const room = rooms.lobby(effect.participantId);
        io.to(room).emit(effect.admitted ? 'lobby:admitted' : 'lobby:declined', { sessionId: effect.sessionId });
        io.in(room).socketsLeave([room, rooms.lobbySession(effect.sessionId)]);
        return;
      }
      case 'participant_gone': {
        // A removal and a departure are announced apart: a party that left must not be told "the
        // agent removed you". Those who stay record either in the shared transcript, since the
        // departing party's own last writes may not make it out before its connections close.
        io.to(rooms.session(effect.sessionId)).emit(
          effect.because === 'removed' ? 'participant:removed' : 'participant:left',
          { sessionId: effect.sessionId, participantId: effect.participantId },
        );
        for (const p of effect.peers) {
          io.to(rooms.session(effect.sessionId)).emit('peer:left', {
            sessionId: effect.sessionId,
            peerId: p.peerId,
            participantId: p.participantId,
          });
          io.in(rooms.peer(p.peerId)).socketsLeave([rooms.session(effect.sessionId), rooms.peer(p.peerId)]);
        }
        return;
      }
    }
  }

  io.on('queue:moved', () => positions.changed());

  /**
   * This node's name in connection ids, leases and turns. A node whose lease was taken (the sweep
   * counted its connections as gone) takes a new name and closes every connection, so that its
   * clients attach again under the new one while the old one is reaped. (A connection made under
   * the old name after the take and before the node noticed is reaped too; its client reconnects.)
   */
  let nodeId = opts.nodeId ?? randomBytes(6).toString('hex');
  const limiters = opts.limiters ?? memoryLimiters;
  const limits = opts.joinRateLimits ?? defaultJoinRateLimits;
  const windowSec = Math.max(1, Math.round(limits.windowMs / 1000));
  const joinGuard = new JoinGuard(limits, limiters, opts.proofLedger);
  const signInGuard = new SignInGuard(opts.signInLimits ?? defaultSignInLimits, joinGuard.proofs, limiters);
  /** Help requests one client address may start per window (a queue is not a free-for-all). */
  const requests = limiters({ keyPrefix: 'help', points: 30, duration: windowSec });
  /** C3 frame checks an agent may make (each is a request from this server to some site). */
  const pageChecks = limiters({ keyPrefix: 'page-check', points: 30, duration: windowSec });
  /** Disconnect clean-ups still writing to the store (a clean shutdown waits for them). */
  const cleanups = new Set<Promise<unknown>>();
  /** Clean-ups that failed (the store was out of reach): each is idempotent and tried again. */
  const failedCleanups: (() => Promise<unknown>)[] = [];
  const settleCleanup = async (work: () => Promise<unknown>): Promise<void> => {
    try {
      await work();
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) {
        log.error({ err }, 'disconnect clean-up failed');
        return;
      }
      log.warn({ err: errorText(err) }, 'disconnect clean-up failed: trying again when the store is back');
      failedCleanups.push(work);
    }
  };
  const retryCleanups = async () => {
    for (const work of failedCleanups.splice(0)) await settleCleanup(work);
  };
  const flood = new RateLimiterMemory({ keyPrefix: 'events', points: opts.eventsPerSecond ?? 200, duration: 1 });
  const forms = opts.forms ?? builtInForms;

  io.on('connection', (rawSocket) => {
    const socket = rawSocket as JoinUsSocket;
    socket.data.peers = new Map();
    const address = addressOf(socket.request);
    /** This connection in the store: node-qualified, so a dead node's connections can be found. */
    const connectionId = connectionIdOf(nodeId, socket.id);
    /** Peers this connection is replacing (a second attach to one session), until they are gone. */
    const lettingGo = new Map<string, { sessionId: string; participantId: string }>();

    // One connection's events are handled strictly in arrival order: WebRTC signaling (an offer,
    // then its ICE candidates) breaks if a later message overtakes an earlier one.
    let inOrder: Promise<void> = Promise.resolve();

    /** The edge: validate, call, acknowledge; never throw, never leave a caller without an answer. */
    function on<E extends ClientEvent>(event: E, handler: (payload: Parsed<E>) => Reply<E>): void {
      (socket as unknown as Socket).on(event as string, (...args: unknown[]) => {
        // socket.io passes the ack last, after however many arguments the client sent: take it
        // from there, so `emitWithAck(event)` or an extra argument still gets its answer.
        const ack = typeof args.at(-1) === 'function' ? args.pop() : undefined;
        const payload = args.length === 1 ? args[0] : invalidArgs;
        inOrder = inOrder.then(() => handle(payload, ack));
      });
      const handle = async (payload: unknown, ack: unknown): Promise<void> => {
        const reply = (r: Result<AckData[E]>) => {
          if (typeof ack !== 'function') return;
          (ack as (x: unknown) => void)(r.ok ? { ok: true, ...r.value } : { ok: false, error: r.error });
        };
        if (typeof ack !== 'function') {
          try {
            await flood.consume(socket.id);
          } catch {
            socket.disconnect(true);
            return;
          }
          socket.emit('protocol:error', {
            reason: ErrorReason.invalidRequest,
            message: `"${event}" needs an acknowledgement callback.`,
          });
          return;
        }
        try {
          await flood.consume(socket.id);
        } catch {
          reply(fail(ErrorReason.rateLimited, 'Too many requests. Slow down.', 1000));
          return;
        }
        const parsed = Schemas[event].safeParse(payload);
        if (!parsed.success) {
          const first = parsed.error.issues[0];
          reply(fail(ErrorReason.invalidRequest, first ? `${first.path.join('.') || 'payload'}: ${first.message}` : 'Invalid request.'));
          return;
        }
        try {
          reply(await handler(parsed.data as Parsed<E>));
        } catch (err) {
          if (err instanceof StoreUnavailableError) {
            log.warn({ event, err: err.message }, 'store unavailable');
            reply(fail(ErrorReason.unavailable, 'Join Us is temporarily unavailable. Try again in a few seconds.', 2000));
            return;
          }
          log.error({ err, event }, 'handler failed');
          reply(fail(ErrorReason.internal, 'Something went wrong on our side. Try again.'));
        }
      };
    }

    socket.onAny((event: unknown, ...args: unknown[]) => {
      // Own keys only: "constructor" or "toString" are in every object, not in the protocol.
      if (typeof event === 'string' && Object.hasOwn(Schemas, event)) return;
      // Garbage counts against the same per-connection budget as real requests; a client that
      // keeps sending it past the budget is cut off rather than answered without end.
      void flood.consume(socket.id).catch(() => socket.disconnect(true));
      const error = { reason: ErrorReason.invalidRequest, message: 'Unknown event.' };
      const ack = args.at(-1);
      if (typeof ack === 'function') (ack as (x: unknown) => void)({ ok: false, error });
      else socket.emit('protocol:error', error);
    });

    /**
     * This connection stops holding its current request (it resumes or starts another). A waiting
     * request is offline only when no connection at all, on any node, holds it: the customer's new
     * connection (after a reload) may have resumed it before this one's disconnect was noticed. The
     * store counts the holds (no cluster-wide look at sockets).
     */
    const forgetRequest = async () => {
      const old = socket.data.request;
      if (!old) return;
      delete socket.data.request;
      await socket.leave(rooms.request(old.requestId));
      await core.releaseRequest(old.requestId, connectionId);
    };

    const requireAgent = () => socket.data.agent ?? null;
    /** This connection's peer in the session, as the store has it now; refused when it holds none. */
    const attachment = async (sessionId: string) => {
      const held = socket.data.peers.get(sessionId);
      if (!held) return Refusals.notAttached();
      return core.attachedAs(sessionId, held, connectionId);
    };

    const signedIn = async (name: string, token: string) => {
      // Another account on this connection before: stop hearing that account's queue and sessions.
      const before = socket.data.agent?.name;
      if (before && before !== name) await socket.leave(rooms.agent(before));
      socket.data.agent = { name, token };
      await socket.join([rooms.agents, rooms.agent(name)]);
      return { name, sessions: await core.agentSessions(name), queue: await core.queueSnapshot(Limits.queueHead) };
    };

    on('agent:signIn', async ({ username, password, proof }) => {
      const gate = await signInGuard.admit(username, address, proof);
      if (!gate.ok) return gate;
      let r: Awaited<ReturnType<typeof core.signInAgent>>;
      try {
        r = await core.signInAgent(username, password);
      } catch (err) {
        await gate.attempt.settle(false); // frees its place among the checks running at once
        throw err;
      }
      await gate.attempt.settle(r.ok);
      if (!r.ok) return r;
      return { ok: true, value: { token: r.value.token, ...(await signedIn(r.value.name, r.value.token)) } };
    });

    on('agent:resume', async ({ token }) => {
      const r = await core.resumeAgent(token);
      if (!r.ok) return r;
      return { ok: true, value: await signedIn(r.value.name, token) };
    });

    on('agent:signOut', async () => {
      const agent = requireAgent();
      if (agent) {
        await core.signOutAgent(agent.token);
        socket.leave(rooms.agents);
        socket.leave(rooms.agent(agent.name));
        delete socket.data.agent;
      }
      return { ok: true, value: {} };
    });

    on('queue:accept', async ({ requestId }) => {
      const agent = requireAgent();
      if (!agent) return fail(ErrorReason.unauthorized, 'Sign in as an agent first.');
      const r = await core.acceptRequest(agent.name, requestId);
      return r.ok ? { ok: true, value: { session: r.value } } : r;
    });

    on('queue:list', async ({ limit }) => {
      if (!requireAgent()) return fail(ErrorReason.unauthorized, 'Sign in as an agent first.');
      return { ok: true, value: await core.queueSnapshot(limit) };
    });

    on('customer:request', async ({ name, topic }) => {
      // Only a request still in the queue blocks another: once accepted (or dropped) it is history.
      const waiting = socket.data.request && (await core.queuePosition(socket.data.request.requestId)) !== null;
      if (waiting) return fail(ErrorReason.invalidRequest, 'You are already waiting for an agent.');
      try {
        await requests.consume(address);
      } catch (res) {
        const waitMs = res instanceof RateLimiterRes ? res.msBeforeNext : windowSec * 1000;
        return fail(
          ErrorReason.rateLimited,
          `Too many help requests from your connection. Wait ${Math.ceil(waitMs / 1000)} seconds, then try again.`,
          waitMs,
        );
      }
      if ((await core.queueSnapshot(0)).count >= MAX_QUEUE) {
        return fail(ErrorReason.rateLimited, 'All our agents are busy and the queue is full. Please try again in a few minutes.', 60_000);
      }
      await forgetRequest();
      // In the request's room before the request exists: its acceptance and every batch of
      // positions after the answer below reach this connection.
      let room: string | null = null;
      const r = await core
        .requestHelp(name, topic, {
          beforeEnqueue: async (requestId) => {
            room = rooms.request(requestId);
            await socket.join(room);
          },
          connectionId,
        })
        .catch(async (err: unknown) => {
          // Not queued for this connection after all: it must not hear that request's news.
          if (room) await socket.leave(room);
          throw err;
        });
      socket.data.request = { requestId: r.requestId, requestToken: r.requestToken };
      positions.answered(r.requestId, { position: r.position, version: r.version });
      return { ok: true, value: r };
    });

    on('customer:resume', async ({ requestToken }) => {
      let joined: string | null = null;
      const r = await core.resumeRequest(requestToken, {
        connectionId,
        // In the room before the place is read: no batch and no acceptance after it is missed.
        beforeResume: async (requestId) => {
          if (socket.data.request?.requestId !== requestId) await forgetRequest();
          socket.data.request = { requestId, requestToken };
          joined = requestId;
          await socket.join(rooms.request(requestId));
        },
      });
      if (r.ok && 'requestId' in r.value) {
        positions.answered(r.value.requestId, { position: r.value.position, version: r.value.version });
        return r;
      }
      // Taken or gone meanwhile: the answer says which; this connection holds no waiting request.
      if (joined) {
        await socket.leave(rooms.request(joined));
        if (socket.data.request?.requestId === joined) delete socket.data.request;
      }
      return r;
    });

    on('customer:cancel', async ({ requestToken }) => {
      await core.cancelRequest(requestToken);
      if (socket.data.request?.requestToken === requestToken) {
        await core.releaseRequest(socket.data.request.requestId, connectionId);
        socket.leave(rooms.request(socket.data.request.requestId));
        delete socket.data.request;
      }
      return { ok: true, value: {} };
    });

    on('handle:reserve', async ({ sessionId, handle }) => {
      const agent = requireAgent();
      if (!agent) return fail(ErrorReason.unauthorized, 'Sign in as an agent first.');
      return core.reserveHandle(agent.name, sessionId, handle);
    });

    on('handle:suggest', async ({ sessionId }) => {
      const agent = requireAgent();
      if (!agent) return fail(ErrorReason.unauthorized, 'Sign in as an agent first.');
      return core.suggestHandle(agent.name, sessionId);
    });

    on('handle:cancel', async ({ sessionId, handle }) => {
      const agent = requireAgent();
      if (!agent) return fail(ErrorReason.unauthorized, 'Sign in as an agent first.');
      return core.cancelHandle(agent.name, sessionId, handle);
    });

    on('handle:login', async ({ name, handle, proof, publicKey }) => {
      const gate = await joinGuard.admit(address, proof);
      if (!gate.ok) return gate;
      const r = await core.loginWithHandle(name, handle);
      await gate.attempt.settle(r.ok);
      if (!r.ok) return { ok: false, error: { ...r.error, attemptsLeft: gate.attempt.attemptsLeft } };
      if (!publicKey || r.value.waiting) return r;
      // The key came with the handle: attach now, saving the tab a round trip (decision 0014). The
      // handle is spent whatever happens here, so a failure only leaves the attach to the tab.
      try {
        const attached = await attachHere({ credential: r.value.credential, publicKey });
        return attached.ok ? ok({ ...r.value, attached: attached.value }) : r;
      } catch (err) {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'attach with the login failed; the tab attaches itself');
        return r;
      }
    });

    /** This connection enters the session `credential` admits to (`session:attach`, or a login that carried a key). */
    async function attachHere({ credential, peerId: resumePeerId, publicKey }: Parsed<'session:attach'>): Promise<Result<AttachResult>> {
      let entered: { peerId: string; sessionId: string; role: Role } | null = null;
      const leaveRooms = (p: { peerId: string; sessionId: string }) => {
        void socket.leave(rooms.session(p.sessionId));
        void socket.leave(rooms.sessionAgent(p.sessionId));
        void socket.leave(rooms.peer(p.peerId));
      };
      const r = await core.attach(credential, connectionId, {
        ...(resumePeerId ? { resumePeerId } : {}),
        ...(publicKey ? { publicKey } : {}),
        // In the rooms before the peer is listed or announced: nothing said about it is missed.
        beforeEnter: async (p) => {
          entered = p;
          await socket.join([rooms.session(p.sessionId), rooms.peer(p.peerId)]);
          if (p.role === 'agent') await socket.join(rooms.sessionAgent(p.sessionId));
        },
      });
      if (!r.ok) {
        if (entered) leaveRooms(entered);
        return r;
      }
      const a = r.value;
      if (socket.disconnected) {
        // The connection went while we admitted it: its disconnect cleanup has run already.
        await core.disconnect(a.peerId, connectionId);
        return fail(ErrorReason.internal, 'The connection closed. Reconnecting…');
      }
      // The pointer first, with no wait since the check above: a disconnect from here on finds it.
      const previous = socket.data.peers.get(a.sessionId);
      socket.data.peers.set(a.sessionId, { peerId: a.peerId, participantId: a.participantId });
      if (previous && previous.peerId !== a.peerId) {
        // Until it is gone, the disconnect's clean-up knows the previous peer too.
        lettingGo.set(previous.peerId, { sessionId: a.sessionId, participantId: previous.participantId });
        // Only if this connection still holds it: another tab may have taken it back meanwhile.
        if ((await core.attachedAs(a.sessionId, previous, connectionId)).ok) await core.detach(previous.peerId);
        lettingGo.delete(previous.peerId);
        void socket.leave(rooms.peer(previous.peerId));
      }
      const iceServers = opts.turn
        ? [...opts.iceServers, turnCredential(opts.turn, a.participantId, opts.clock.now())]
        : opts.iceServers;
      return {
        ok: true,
        value: {
          sessionId: a.sessionId,
          participantId: a.participantId,
          role: a.role,
          name: a.name,
          peerId: a.peerId,
          resumed: a.resumed,
          peers: a.peers,
          directory: a.directory,
          iceServers,
          iceTransportPolicy: opts.iceTransportPolicy ?? 'all',
          ...(a.role === 'agent'
            ? { handles: await core.reservedHandles(a.sessionId), lobby: await core.lobby(a.sessionId) }
            : {}),
          forms,
        },
      };
    }

    on('session:attach', attachHere);

    on('lobby:set', async ({ sessionId, enabled }) => {
      const agent = requireAgent();
      if (!agent) return fail(ErrorReason.unauthorized, 'Sign in as an agent first.');
      return core.setLobby(agent.name, sessionId, enabled);
    });

    on('lobby:decide', async ({ sessionId, participantId, admit }) => {
      const agent = requireAgent();
      if (!agent) return fail(ErrorReason.unauthorized, 'Sign in as an agent first.');
      return core.decide(agent.name, sessionId, participantId, admit);
    });

    on('lobby:wait', async ({ credential }) => {
      const r = await core.lobbyStatus(credential);
      if (!r.ok || r.value.admitted) return r.ok ? { ok: true, value: { sessionId: r.value.sessionId, admitted: true } } : r;
      // In the rooms first, then asked again: a decision made in between is not missed.
      await socket.join([rooms.lobby(r.value.participantId), rooms.lobbySession(r.value.sessionId)]);
      const now = await core.lobbyStatus(credential);
      if (!now.ok || now.value.admitted) {
        await socket.leave(rooms.lobby(r.value.participantId));
        await socket.leave(rooms.lobbySession(r.value.sessionId));
      }
      return now.ok ? { ok: true, value: { sessionId: now.value.sessionId, admitted: now.value.admitted } } : now;
    });

    on('session:detach', async ({ sessionId }) => {
      const held = socket.data.peers.get(sessionId);
      if (held) {
        // The pointer goes only once the store has the peer gone: should the store be out of reach,
        // the disconnect's clean-up still knows this connection's peer.
        if ((await core.attachedAs(sessionId, held, connectionId)).ok) await core.detach(held.peerId, { sessionId, ...held });
        socket.data.peers.delete(sessionId);
        socket.leave(rooms.session(sessionId));
        socket.leave(rooms.sessionAgent(sessionId));
        socket.leave(rooms.peer(held.peerId));
      }
      return { ok: true, value: {} };
    });

    on('session:end', async ({ sessionId }) => {
      const a = await attachment(sessionId);
      if (!a.ok) return a;
      return core.endSession(sessionId, a.value.participantId);
    });

    on('session:leave', async ({ sessionId }) => {
      const a = await attachment(sessionId);
      if (!a.ok) return a;
      const r = await core.leave(sessionId, a.value.participantId);
      if (r.ok) socket.data.peers.delete(sessionId);
      return r;
    });

    on('participant:remove', async ({ sessionId, participantId }) => {
      const a = await attachment(sessionId);
      if (!a.ok) return a;
      return core.removeParticipant(sessionId, a.value.participantId, participantId);
    });

    on('page:check', async ({ sessionId, url }) => {
      const attached = await attachment(sessionId);
      if (!attached.ok) return attached;
      const a = attached.value;
      if (a.role !== 'agent') return fail(ErrorReason.forbidden, 'Only the agent pushes pages.');
      const address = checkWebAddress(url);
      if (!address.ok) return fail(ErrorReason.invalidRequest, address.message);
      try {
        await pageChecks.consume(a.participantId);
      } catch {
        // Not an error for the agent: the page is pushed without the check (shown with a link beside it).
        return { ok: true, value: { framing: 'unknown' as const } };
      }
      if (opts.frameCheck === false) return { ok: true, value: { framing: 'unknown' as const } };
      const origin = typeof socket.handshake.headers.origin === 'string' ? socket.handshake.headers.origin : null;
      const r = await checkFraming(address.url, origin);
      log.debug({ url: address.url, ...r }, 'frame check');
      return { ok: true, value: { framing: r.framing } };
    });

    on('signal:send', async ({ sessionId, to, data }) => {
      // The hot path: checkRelay reads both peers anyway, and checks this connection holds the sender.
      const from = socket.data.peers.get(sessionId)?.peerId;
      if (!from) return fail(ErrorReason.forbidden, 'Join the session first.');
      // Checked first: JSON.stringify and socket.io's encoder recurse, and overflow the stack.
      if (nestedDeeperThan(data, maxSignalDepth)) {
        return fail(ErrorReason.invalidRequest, `data: nested deeper than ${maxSignalDepth} levels.`);
      }
      if (Buffer.byteLength(JSON.stringify(data)) > Limits.signalBytes) {
        return fail(ErrorReason.tooLarge, `A signaling message can be at most ${Limits.signalBytes} bytes.`);
      }
      const r = await core.checkRelay(from, sessionId, to, connectionId);
      if (!r.ok) return r;
      io.to(rooms.peer(to)).emit('signal:recv', { sessionId, from, data });
      return r;
    });

    socket.on('disconnect', () => {
      // Away, not gone: the tab may take its peer back on a new connection within the grace period.
      const at = opts.clock.now();
      const attached = [
        ...[...socket.data.peers].map(([sessionId, held]) => ({ sessionId, ...held })),
        ...[...lettingGo].map(([peerId, who]) => ({ peerId, ...who })),
      ];
      const request = socket.data.request?.requestId;
      socket.data.peers.clear();
      lettingGo.clear();
      // Not lost if the store cannot be written now (Redis down): tried again, as of now, until it is.
      const cleanup = settleCleanup(() => Promise.all([
        ...attached.map((p) => core.disconnect(p.peerId, connectionId, at, p)),
        ...(request ? [core.releaseRequest(request, connectionId, at)] : []),
      ]));
      cleanups.add(cleanup);
      void cleanup.finally(() => cleanups.delete(cleanup));
    });
  });

  // One node sweeps at a time: the turn is taken for one interval, and kept by the node that has it.
  const sweepEveryMs = opts.sweepIntervalMs ?? 1000;
  const sweeper = setInterval(() => {
    void (async () => {
      if (!(await opts.store.takeTurn('sweep', nodeId, opts.clock.now(), sweepEveryMs * 2))) return;
      await core.sweep();
    })().catch((err: unknown) => log.error({ err: errorText(err) }, 'sweep failed'));
  }, sweepEveryMs);
  sweeper.unref();

  // This node's hold on its connections (S4 across nodes), renewed every third of the lease. Had
  // the sweep already taken it (Redis was out of reach for longer than the lease), the store counts
  // this node's connections as gone: every one is closed, and its client reconnects and attaches
  // again with the credential it holds, so the store and the connections agree again.
  const leaseMs = opts.config.nodeLeaseMs;
  let registered = false;
  let renaming = false;
  const renewLease = async () => {
    if (!opts.leases) return retryCleanups();
    const held = await opts.store.renewNodeLease(nodeId, opts.clock.now() + leaseMs);
    if ((registered && !held) || renaming) {
      // A new name, with its lease written before any connection is made under it (until that
      // write succeeds, every renewal tries again: the old name is being reaped).
      renaming = true;
      const was = nodeId;
      const next = randomBytes(6).toString('hex');
      try {
        await opts.store.renewNodeLease(next, opts.clock.now() + leaseMs);
        nodeId = next;
        renaming = false;
        log.warn({ was, nodeId }, "this node's lease was taken while the store was out of reach: reconnecting its clients under a new node id");
      } finally {
        // Close the transports without a DISCONNECT packet: the clients reconnect by themselves (to
        // this node, or another) and attach again with the credentials they hold.
        for (const socket of io.of('/').sockets.values()) socket.conn.close();
      }
    }
    registered = true;
    await retryCleanups();
  };
  const leaseTimer = setInterval(() => {
    // Until the first lease is held, the start-up loop below renews (and says why it waits).
    if (opts.leases && !registered) return;
    renewLease().catch((err: unknown) => log.warn({ err: errorText(err) }, 'node lease renewal failed'));
  }, Math.max(50, Math.floor(leaseMs / 3)));
  leaseTimer.unref();
  // The first lease is awaited before the node serves anyone (signaling/main.ts, server.ts): a node
  // that took connections and died before its first lease was written would never be reaped.
  let closed = false;
  const leaseHeld = (async () => {
    if (!opts.leases) return;
    while (!registered && !closed) {
      await renewLease().catch((err: unknown) => log.warn({ err: errorText(err) }, 'waiting for the store to hold this node\'s lease'));
      if (!registered) await new Promise((r) => setTimeout(r, 250));
    }
  })();

  return {
    io,
    core,
    get nodeId() {
      return nodeId;
    },
    leaseHeld,
    async close() {
      closed = true;
      handleUpdates.close();
      clearInterval(sweeper);
      clearInterval(leaseTimer);
      positions.close();
      await new Promise<void>((resolve) => {
        io.close(() => resolve());
      });
      // Every connection's clean-up written: nothing left for the lease to hold. Otherwise the
      // lease runs out and the sweep frees what is left.
      await Promise.all(cleanups);
      await retryCleanups();
      if (opts.leases && failedCleanups.length === 0) await opts.store.dropNodeLease(nodeId).catch(() => {});
    },
  };
}
