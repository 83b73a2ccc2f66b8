/**
 * The one protocol between pages and the signaling server: event names, limits, ack shapes, closed
 * error reasons and the payload types. Imported by both sides, and free of zod at run time: the
 * pages load this module (Join Us, help, start page) and must not carry zod with it (issue 11).
 * The payload schemas, the server's edge validation, are in `./protocol-schemas`; the types derived
 * from them are re-exported here as types only (erased from the pages' code).
 */
import type { FormDefinition } from '../features/forms/schema';
import type { ClientEvent, Payload, ProofChallenge } from './protocol-schemas';

export type { ClientEvent, Parsed, Payload, Proof, ProofChallenge } from './protocol-schemas';

/** Closed set of refusal reasons. Anything unexpected on the server becomes `internal`. */
export const ErrorReason = {
  invalidRequest: 'invalid_request',
  signInFailed: 'sign_in_failed',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  notFound: 'not_found',
  alreadyTaken: 'already_taken',
  handleInvalid: 'handle_invalid',
  handleInUse: 'handle_in_use',
  handleUnusable: 'handle_unusable',
  rateLimited: 'rate_limited',
  /** Too much at once right now: the client tries again by itself after `retryAfterMs`. */
  busy: 'busy',
  /** H8 under pressure: solve the attached proof-of-work challenge, then ask again with the proof. */
  proofRequired: 'proof_required',
  sessionEnded: 'session_ended',
  removed: 'removed',
  left: 'left',
  /** Admission lobby: the agent has not let this party in yet. */
  waiting: 'waiting',
  /** Admission lobby: the agent did not let this party in. */
  declined: 'declined',
  tooLarge: 'too_large',
  /** The peer a signal is for is in the room but its tab is reconnecting: send it again when it is back. */
  peerAway: 'peer_away',
  /** The server cannot reach its store right now (Redis down): try again shortly (`retryAfterMs`). */
  unavailable: 'unavailable',
  internal: 'internal',
} as const;
export type ErrorReason = (typeof ErrorReason)[keyof typeof ErrorReason];

export interface ProtocolError {
  reason: ErrorReason;
  message: string;
  /** Set with `rate_limited`: how long the person must wait. */
  retryAfterMs?: number;
  /** H8: failed attempts this client may still make before each attempt needs a proof of work. */
  attemptsLeft?: number;
  /** Set with `proof_required`: the ALTCHA challenge to solve. */
  challenge?: ProofChallenge;
}

/** H8 proof of work (ALTCHA v2, deterministic mode): one key derivation per step the solver takes. */
export const PROOF_ALGORITHM = 'PBKDF2/SHA-256';
export const PROOF_COST = 5000;

export type Ack<T extends object = object> = ({ ok: true } & T) | { ok: false; error: ProtocolError };
export type AckCallback<T extends object = object> = (response: Ack<T>) => void;

/** A raw uncompressed P-256 public key (65 bytes), base64url. */
export const PUBLIC_KEY_PATTERN = /^[A-Za-z0-9_-]{87}$/;
/** Keys a participant may register (one per tab it used; a reload keeps its key). */
export const MAX_KEYS_PER_PARTICIPANT = 32;

export const Limits = {
  nameChars: 80,
  topicChars: 500,
  passwordChars: 256,
  tokenChars: 128,
  handleInputChars: 64,
  /** C1: chat text cap. Enforced by every client before it writes to the shared document. */
  messageChars: 4000,
  /** One signaling payload (an SDP offer is a few KiB; candidates are tiny). */
  signalBytes: 16 * 1024,
  /** engine.io frame cap: anything bigger is cut off before it is parsed. */
  frameBytes: 64 * 1024,
  /** Waiting customers an agent's console may ask for at once (`queue:list`). */
  queuePage: 200,
  /**
   * The head of the queue every console holds: its sign-in gives the first this many, and each
   * removal among them comes with the one that moves into the last place (`QueueChange.next`).
   */
  queueHead: 20,
} as const;

export const Messages = {
  handleInUse: 'That handle is in use. Choose another.',
  handleUnusable:
    "That handle can't be used. Check it with the person who gave it to you, or ask them for a new one.",
  sessionEnded: 'The session has ended',
  signInFailed: 'Wrong username or password. Check them and try again.',
} as const;

export type Role = 'agent' | 'customer' | 'guest';
export type EndReason = 'ended_by_agent' | 'ended_by_customer' | 'agent_disconnected' | 'customer_disconnected';

export interface QueueEntry {
  requestId: string;
  name: string;
  topic: string;
  requestedAt: number;
}

/**
 * The first waiting customers, oldest first, as of one queue version: what an agent's console
 * starts from. From then on it follows `queue:changed`, one per change, never the whole queue.
 */
export interface QueueSnapshot {
  /** Counts every change to the queue; the changes after this one are `version + 1`, `+ 2`, … */
  version: number;
  /** How many are waiting in all (there may be more than `entries`). */
  count: number;
  entries: QueueEntry[];
}

/** One change to the queue, told to every signed-in agent (S1). */
export interface QueueChange {
  version: number;
  /** How many are waiting after the change. */
  count: number;
  /** A customer joined the queue: it is the last. */
  added?: QueueEntry;
  /** A customer left the queue: accepted by an agent (`taken`) or gone (`left`: cancelled, or away too long). */
  removed?: { requestId: string; because: 'taken' | 'left' };
  /**
   * With a removal among the first `Limits.queueHead`: the customer now at that place, so that a
   * console holding the head of the queue keeps holding it without asking (absent when nobody is).
   */
  next?: { place: number; entry: QueueEntry };
}

export interface AgentSessionSummary {
  sessionId: string;
  customerName: string;
  topic: string;
  startedAt: number;
  /** A fresh credential for this console: the agent's admission to the session's signaling room. */
  credential: string;
}

/** A party in the admission lobby, as its agent sees it. */
export interface LobbyEntry {
  participantId: string;
  name: string;
  since: number;
}
export interface ReservedHandle {
  handle: string;
  expiresAt: number;
}

/** One participant the server admitted, with the keys it signs its writes with (decision 0010). */
export interface DirectoryEntry {
  participantId: string;
  name: string;
  role: Role;
  /** Raw P-256 public keys, base64url. */
  keys: string[];
  joinedAt: number;
  /** A joined party that left or was removed (S5). */
  gone?: 'left' | 'removed';
}

export interface PeerInfo {
  peerId: string;
  participantId: string;
}

export interface AttachResult {
  sessionId: string;
  participantId: string;
  role: Role;
  name: string;
  peerId: string;
  /** True when the tab took back the peer id it asked for: its data channels live on. */
  resumed: boolean;
  /** Every other peer in the room (some may be away, reconnecting). */
  peers: PeerInfo[];
  /** Everyone admitted to the session and the keys they sign with: names and roles come from here. */
  directory: DirectoryEntry[];
  /** STUN/TURN servers for this participant, TURN with credentials of its own that expire. */
  iceServers: IceServer[];
  /** `relay`: connect through TURN only, so no participant learns another's IP address. */
  iceTransportPolicy: IceTransportPolicy;
  /** Agents get the session's reserved handles. */
  handles?: ReservedHandle[];
  /** Agents get the session's admission lobby. */
  lobby?: { enabled: boolean; waiting: LobbyEntry[] };
  /**
   * C4: the forms the agent can share (built in and the operator's JOINUS_FORMS_FILE). From the
   * server, never from peers: where a form's result goes is taken from here.
   */
  forms: FormDefinition[];
}

export type IceTransportPolicy = 'all' | 'relay';

export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** Acks the server sends per client event. */
export interface AckData {
  'agent:signIn': { token: string; name: string; sessions: AgentSessionSummary[]; queue: QueueSnapshot };
  'agent:resume': { name: string; sessions: AgentSessionSummary[]; queue: QueueSnapshot };
  'agent:signOut': object;
  'queue:accept': { session: AgentSessionSummary };
  'queue:list': QueueSnapshot;
  /** `version`: the queue version the position is as of (later `queue:position`s with a lower one are stale). */
  'customer:request': { requestId: string; requestToken: string; position: number; version: number };
  /** Still waiting, or admitted while away: the request token is then the customer's credential. */
  'customer:resume': { requestId: string; position: number; version: number } | { admitted: { sessionId: string } };
  'customer:cancel': object;
  'handle:reserve': ReservedHandle;
  'handle:suggest': { handle: string };
  'handle:cancel': object;
  /** `waiting`: the session asks before admitting; the credential works once the agent admits. */
  /** `attached`: this connection is attached already (a public key came with the handle); absent: attach as usual. */
  'handle:login': { sessionId: string; credential: string; waiting: boolean; attached?: AttachResult };
  'lobby:set': object;
  'lobby:decide': object;
  'lobby:wait': { sessionId: string; admitted: boolean };
  'session:attach': AttachResult;
  'session:detach': object;
  'session:end': object;
  'session:leave': object;
  'participant:remove': object;
  'signal:send': object;
  'page:check': { framing: 'allowed' | 'refused' | 'unknown' };
}

export type ClientToServerEvents = {
  [E in ClientEvent]: (payload: Payload<E>, ack: AckCallback<AckData[E]>) => void;
};

export interface ServerToClientEvents {
  /** To every signed-in agent: one change to the queue (S1). */
  'queue:changed': (p: QueueChange) => void;
  /**
   * To a waiting customer: its place in the queue, sent only when it changed, at most a few times a
   * second. `version` as in `QueueSnapshot`: keep the position with the highest.
   */
  'queue:position': (p: { position: number; version: number }) => void;
  /** The request token the customer holds is, from now on, its session credential. */
  'customer:admitted': (p: { sessionId: string }) => void;
  'agent:sessions': (p: { sessions: Omit<AgentSessionSummary, 'credential'>[] }) => void;
  'peer:joined': (p: { sessionId: string } & PeerInfo) => void;
  /** A participant registered a key (its first attach, or a new tab): sent before its peer is announced. */
  'directory:add': (p: { sessionId: string } & DirectoryEntry) => void;
  'peer:left': (p: { sessionId: string; peerId: string; participantId: string }) => void;
  'signal:recv': (p: { sessionId: string; from: string; data: Record<string, unknown> }) => void;
  'handles:update': (p: { sessionId: string; handles: ReservedHandle[] }) => void;
  /** To the session's agent: the lobby changed. */
  'lobby:update': (p: { sessionId: string; enabled: boolean; waiting: LobbyEntry[] }) => void;
  /** To a waiting party: the agent let it in (attach now) or did not. */
  'lobby:admitted': (p: { sessionId: string }) => void;
  'lobby:declined': (p: { sessionId: string }) => void;
  'session:ended': (p: { sessionId: string; reason: EndReason }) => void;
  'participant:removed': (p: { sessionId: string; participantId: string }) => void;
  /** A joined party left of its own accord (S5). */
  'participant:left': (p: { sessionId: string; participantId: string }) => void;
  /** A frame the server could not accept at all (not an event it knows, not parseable). */
  'protocol:error': (p: ProtocolError) => void;
}

export function describeEndReason(reason: EndReason): string {
  switch (reason) {
    case 'ended_by_agent':
      return 'The agent ended the session.';
    case 'ended_by_customer':
      return 'The customer ended the session.';
    case 'agent_disconnected':
      return 'The agent lost the connection and did not come back in time.';
    case 'customer_disconnected':
      return 'The customer lost the connection and did not come back in time.';
  }
}
