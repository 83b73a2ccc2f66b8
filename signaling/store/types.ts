/**
 * The one store interface of the signaling server. Every method is a single atomic step, so the
 * in-memory implementation (one event loop) and a Redis one (a command or a short Lua script each)
 * give the same guarantees. Times are passed in by the core; the store never reads a clock.
 */
import type { EndReason, Role } from '../../lib/protocol';

export interface HandleReservation {
  handle: string;
  sessionId: string;
  reservedBy: string;
  reservedAt: number;
  expiresAt: number;
}

export interface QueueRequest {
  requestId: string;
  /** sha256 of the request token; the token doubles as the customer's credential once admitted. */
  tokenHash: string;
  name: string;
  topic: string;
  requestedAt: number;
  /** When the waiting customer's last connection went away; null while connected. */
  offlineSince: number | null;
}

export interface SessionRecord {
  sessionId: string;
  agentName: string;
  agentParticipantId: string;
  customerParticipantId: string;
  customerName: string;
  topic: string;
  startedAt: number;
  state: 'active' | 'ended';
  endedAt: number | null;
  endReason: EndReason | null;
  /** S4 grace clocks: when the agent's / customer's last peer left; null while one is attached. */
  agentOfflineSince: number | null;
  customerOfflineSince: number | null;
  /** Admission lobby: parties that log in with a handle wait until the agent admits them. */
  lobby: boolean;
}

export interface ParticipantRecord {
  participantId: string;
  sessionId: string;
  role: Role;
  name: string;
  joinedAt: number;
  /** `waiting`: logged in with a handle, in the lobby until the agent admits (active) or declines. */
  state: 'waiting' | 'active' | 'left' | 'removed' | 'declined';
  /** Public keys the participant signs its writes with (decision 0010), in the order registered. */
  keys?: string[];
}

export type RevokedBecause = 'session_ended' | 'removed' | 'left' | 'declined';

export interface CredentialRecord {
  participantId: string;
  sessionId: string;
  issuedAt: number;
  revoked: RevokedBecause | null;
}

/**
 * One tab's place in its session's signaling room. The peer id outlives the tab's socket: a
 * signaling blip leaves the record in place with `connectionId` null, and the tab takes it back when
 * it reconnects, so the data channels other peers hold to it never notice (issue 5).
 */
export interface PeerRecord {
  peerId: string;
  sessionId: string;
  participantId: string;
  /** Which server connection holds it (a socket id; with Redis, node-qualified); null while away. */
  connectionId: string | null;
  /** When its connection went away; null while connected. Retired after the grace period. */
  disconnectedAt: number | null;
}

export type SessionHandleReserved =
  | { reserved: true; handles: HandleReservation[] }
  | { reserved: false; because: 'not_your_session' | 'session_ended' | 'in_use' };

export interface SessionHandleConsumed {
  reservation: HandleReservation;
  session: SessionRecord | null;
  /** The session's live handles after this one was taken, as `listSessionHandles` lists them. */
  handles: HandleReservation[];
  /**
   * The party let in with the handle, as written in the same step (`guestRecords`); absent when
   * none was given or the session is gone or over.
   */
  guest?: ParticipantRecord;
}

/** A third party logging in with a handle (H6): who it will be, if the handle lets it in. */
export interface HandleGuest {
  participantId: string;
  name: string;
  /** Its credential's hash (decision 0002): the credential is written for the handle's session. */
  credentialHash: string;
}

/**
 * The records a handle's consume writes for its guest, in a session that is active: the party
 * waits in the lobby when the session has it on (decision 0008), and its credential is issued now.
 * The Redis store's script writes the same fields.
 */
export function guestRecords(
  guest: HandleGuest,
  session: Pick<SessionRecord, 'sessionId' | 'lobby'>,
  nowMs: number,
): { participant: ParticipantRecord; credential: CredentialRecord } {
  const { participantId, name } = guest;
  const { sessionId } = session;
  return {
    participant: { participantId, sessionId, role: 'guest', name, joinedAt: nowMs, state: session.lobby ? 'waiting' : 'active' },
    credential: { sessionId, participantId, issuedAt: nowMs, revoked: null },
  };
}

/** A connection id names its node: `<nodeId>/<socket id>`. */
export const connectionIdOf = (nodeId: string, socketId: string): string => `${nodeId}/${socketId}`;
/** The node of a connection id (`''` for one without a node). */
export const nodeOf = (connectionId: string): string => {
  const slash = connectionId.indexOf('/');
  return slash < 0 ? '' : connectionId.slice(0, slash);
};

export interface AgentTokenRecord {
  name: string;
  issuedAt: number;
  expiresAt: number;
}

/** The queue's version and length just after a change, or at a read. */
export interface QueueVersion {
  version: number;
  count: number;
}

export interface Store {
  // Handles (H2–H6, H9)
  /** Reserve unless a live (unexpired) reservation holds the handle. */
  reserveHandle(r: HandleReservation, nowMs: number): Promise<boolean>;
  getHandle(handle: string, nowMs: number): Promise<HandleReservation | null>;
  /** Atomically take a live reservation: of any number of concurrent calls, one gets it. */
  consumeHandle(handle: string, nowMs: number): Promise<HandleReservation | null>;
  /**
   * What a handle:reserve does, in one step (one round trip to Redis): reserve as `reserveHandle`
   * does, and only while `r.sessionId` is an active session whose agent is `r.reservedBy` (H4: a
   * session that dropped meanwhile gets no reservation, so none outlives it). Refused with why (the
   * session's refusals first, as the core answers them); reserved with the session's live handles
   * after it (`listSessionHandles(r.sessionId, nowMs)`), for the agent's console.
   */
  reserveSessionHandle(r: HandleReservation, nowMs: number): Promise<SessionHandleReserved>;
  /**
   * A handle:login's store work, in one step: `consumeHandle`, and, when it took a live
   * reservation, the session it was for (null if gone) and that session's live handles left; with
   * `guest`, and the session active, also the guest and its credential (`guestRecords`), so that
   * the session cannot end, nor its lobby change, between the consume and the party's write.
   */
  consumeSessionHandle(handle: string, nowMs: number, guest?: HandleGuest): Promise<SessionHandleConsumed | null>;
  /** Free the handle if (and only if) it is reserved for this session. */
  releaseHandle(handle: string, sessionId: string): Promise<HandleReservation | null>;
  listSessionHandles(sessionId: string, nowMs: number): Promise<HandleReservation[]>;
  /** Remove and return reservations that expired at or before `nowMs`. */
  takeExpiredHandles(nowMs: number): Promise<HandleReservation[]>;

  // Customer queue (S1). Its order is the order of `enqueue` (first come, first served); every
  // enqueue and every successful claim adds one to the queue's version, atomically with the change,
  // so that a reader can tell which changes a window or a position already includes.
  /** Append to the queue. */
  enqueue(r: QueueRequest): Promise<QueueVersion>;
  findRequestByTokenHash(tokenHash: string): Promise<QueueRequest | null>;
  /** The whole queue in order. Reads everything: for tests and tools, not for a request's path. */
  listQueue(): Promise<QueueRequest[]>;
  /** The first `limit` waiting requests in order, with the count and version, read at once. */
  queueWindow(limit: number): Promise<QueueVersion & { requests: QueueRequest[] }>;
  /** A waiting request's place (1 = next), as of `version`; null when it is not waiting. */
  queuePosition(requestId: string): Promise<{ position: number; version: number } | null>;
  /** Every waiting request's id in order, as of `version` (one read per batch of position updates). */
  queueOrder(): Promise<{ version: number; requestIds: string[] }>;
  /**
   * Atomically remove a waiting request: of concurrent claims, exactly one gets it. `next`: when the
   * request was among the first `head` (default 0), the request now at place `head` (null if none),
   * so that whoever holds the first `head` can keep holding them.
   */
  claimRequest(requestId: string, head?: number): Promise<(QueueVersion & { request: QueueRequest; next: QueueRequest | null }) | null>;
  setRequestOffline(requestId: string, offlineSince: number | null): Promise<void>;
  /** Waiting requests whose customer has no connection (the sweep's work list). */
  listOfflineRequests(): Promise<QueueRequest[]>;

  // Sessions and participants (S2–S6)
  createSession(s: SessionRecord, participants: ParticipantRecord[]): Promise<void>;
  getSession(sessionId: string): Promise<SessionRecord | null>;
  setOfflineSince(sessionId: string, role: 'agent' | 'customer', since: number | null): Promise<void>;
  setLobby(sessionId: string, enabled: boolean): Promise<void>;
  /** Atomically move an active session to ended; returns it only to the one caller that did. */
  endSession(sessionId: string, reason: EndReason, nowMs: number): Promise<SessionRecord | null>;
  /** Every active session. Reads everything: for tests and tools, not for the sweep. */
  listActiveSessions(): Promise<SessionRecord[]>;
  /** Active sessions whose agent's or customer's grace clock runs (the sweep's work list). */
  listSessionsInGrace(): Promise<SessionRecord[]>;
  listAgentSessions(agentName: string): Promise<SessionRecord[]>;
  /** Forget ended sessions (and their participants and credentials) that ended before `beforeMs`. */
  purgeEndedSessions(beforeMs: number): Promise<number>;

  putParticipant(p: ParticipantRecord): Promise<void>;
  getParticipant(participantId: string): Promise<ParticipantRecord | null>;
  listParticipants(sessionId: string): Promise<ParticipantRecord[]>;
  /**
   * Registers a public key for the participant: `known` if it has it, `full` if it has `max` already
   * (nothing changes then), `added` otherwise. Atomic per participant.
   */
  addParticipantKey(participantId: string, key: string, max: number): Promise<'added' | 'known' | 'full' | 'not_found'>;
  /**
   * Set a participant's state; with `from`, only if it is in that state now (of concurrent calls,
   * one wins: an admit and a decline of the same waiting party). True when the state was set.
   */
  setParticipantState(participantId: string, state: ParticipantRecord['state'], from?: ParticipantRecord['state']): Promise<boolean>;

  // Credentials (stored by hash only)
  putCredential(hash: string, c: CredentialRecord): Promise<void>;
  getCredential(hash: string): Promise<CredentialRecord | null>;
  revokeCredentials(
    filter: { sessionId: string; participantId?: string },
    because: RevokedBecause,
  ): Promise<number>;

  // Attached peers (signaling room membership)
  /** Create or replace (a tab taking its peer id back after a reconnect). */
  putPeer(p: PeerRecord): Promise<void>;
  getPeer(peerId: string): Promise<PeerRecord | null>;
  /**
   * The connection holding a peer went away: if (and only if) it is still `connectionId`, mark the
   * peer away since `nowMs` and return it. A tab that has already taken the peer over on a new
   * connection is left alone.
   */
  markPeerAway(peerId: string, connectionId: string, nowMs: number): Promise<PeerRecord | null>;
  deletePeer(peerId: string): Promise<PeerRecord | null>;
  /**
   * Delete the peer only if it is still away since `disconnectedAt` (the sweep retiring it must not
   * retire a peer its tab has just taken back). Returns it to the one caller that deleted it.
   */
  deletePeerIfAway(peerId: string, disconnectedAt: number): Promise<PeerRecord | null>;
  listPeers(sessionId: string): Promise<PeerRecord[]>;
  /** Every peer that is away (its connection gone), whatever its session: the sweep's work list. */
  listAwayPeers(): Promise<PeerRecord[]>;

  // Liveness across nodes (issue 10). A connection id is `<nodeId>/<socket id>` (`connectionId`);
  // each signaling node holds a lease, renewed while it runs. When a node's lease runs out (it died
  // without saying goodbye), the sweep treats every peer and every request hold of that node as
  // disconnected, so S4's grace clocks start and nothing is held for ever.
  /**
   * Create or extend the node's lease until `expiresAt`. True when the node held a lease (expired or
   * not) that the sweep had not taken yet; false when it had none: new, or taken (its connections
   * already counted as gone).
   */
  renewNodeLease(nodeId: string, expiresAt: number): Promise<boolean>;
  /** A node going away cleanly: forget its lease (its connections were closed one by one). */
  dropNodeLease(nodeId: string): Promise<void>;
  /**
   * Move the nodes whose lease ran out at or before `nowMs` from the leases to the nodes being reaped
   * (each to one caller), and return them. The next `renewNodeLease` of such a node answers false
   * (and gives it a lease again: a node that notices takes a new name, and the lease under the old
   * one runs out again, which reaps any connection made under it meanwhile).
   */
  takeExpiredNodes(nowMs: number): Promise<string[]>;
  /** Nodes taken by `takeExpiredNodes` and not yet `finishReaping`: the sweep works on these until done. */
  listReapingNodes(): Promise<string[]>;
  /** Everything the node held has been disconnected: forget it. */
  finishReaping(nodeId: string): Promise<void>;
  /** Peers whose connection belongs to this node (`connectionId` starts with `<nodeId>/`). */
  listNodePeers(nodeId: string): Promise<PeerRecord[]>;

  // Which connections wait on a request (a customer's tabs): the request is offline when none does.
  /**
   * This connection holds the waiting request, which is online from now (offlineSince null), in one
   * step (idempotent; nothing for a request that is not waiting).
   */
  holdRequest(requestId: string, connectionId: string): Promise<void>;
  /**
   * This connection no longer holds the request; returns how many connections still do. When this
   * call removed the last hold, the request is offline since `nowMs`, in the same step.
   */
  releaseRequest(requestId: string, connectionId: string, nowMs: number): Promise<number>;
  /** The request holds of this node's connections. */
  listNodeRequestHolds(nodeId: string): Promise<{ requestId: string; connectionId: string }[]>;

  /**
   * Periodic work done by one node at a time (the sweep): true for the one caller that takes the
   * turn named `name` until `nowMs + forMs`; false while another owner's turn lasts.
   */
  takeTurn(name: string, owner: string, nowMs: number, forMs: number): Promise<boolean>;

  // Agent sign-in tokens (stored by hash only)
  putAgentToken(hash: string, t: AgentTokenRecord): Promise<void>;
  getAgentToken(hash: string, nowMs: number): Promise<AgentTokenRecord | null>;
  deleteAgentToken(hash: string): Promise<void>;
}

/**
 * The store cannot be reached right now (Redis down or reconnecting). Thrown by a store method; the
 * signaling server answers "temporarily unavailable" and keeps running.
 */
export class StoreUnavailableError extends Error {
  constructor(message = 'The store is temporarily unavailable.', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}
