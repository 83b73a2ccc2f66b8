/**
 * Peer-to-peer sync of one Y.Doc (and its awareness) over WebRTC data channels, with signaling
 * carried by our own authenticated socket.io server. It keeps y-webrtc's wire messages (y-protocols
 * sync and awareness) and owns what y-webrtc gets wrong for us (docs/decisions/0001, 0003):
 *
 *  - Every pair connects whatever the timing: of two peers, the one with the lower peer id dials;
 *    the other, whenever it learns of a lower peer it has no connection to, says hello (asks to be
 *    dialled). Learning comes from the attach list, `peer:joined`, or any signal.
 *  - Connections outlive signaling blips: a peer keeps its id across socket reconnects, a
 *    connection is named by the dialler (`conn` id in every signal), so an offer on an open
 *    connection is a renegotiation and a late signal of a closed one is ignored.
 *  - Every change reaches everyone connected to anyone (C9): a peer forwards what it receives to its
 *    other neighbours, skipping a neighbour the sender is itself linked to (links are published in
 *    awareness, see topology.ts); Yjs and awareness clocks drop duplicates. When a link goes away,
 *    neighbours re-sync (state vectors), so nothing sent under a stale view is missed.
 *  - Messages are cut below Chromium's data-channel limit (framing.ts) and written with backpressure.
 *  - Delivery is confirmed: neighbours acknowledge updates with their state vector, so a page can
 *    say which of its own changes have not reached anyone yet.
 */
import { mark } from '../marks';
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import * as array from 'lib0/array';
import { CHUNK_BYTES, DEFLATE_MIN_BYTES, deflatedFrames, frames, type InflateWith, nativeInflate, Reassembler } from './framing';
import { checkUpdate } from './update-gate';
import { envelope, parseEnvelope, simplePeerFactory, type PeerFactory, type PeerLike } from './peer';
import { readClaim, Topology, type MeshClaim } from './topology';

const MESSAGE_SYNC = 0;
const MESSAGE_AWARENESS = 1;
/** "Send me your sync step 1": with our own step 1, a re-sync in both directions in one round trip. */
const MESSAGE_RESYNC = 2;
/** A neighbour's state vector, sent after it applied updates from us: what it has of whom. */
const MESSAGE_ACK = 3;

/**
 * A sync step 1's trailing capability bits (decision 0018). CAN_INFLATE: "send me large messages
 * deflated", from the first pages that did; their inflater failed on some streams fflate makes, so
 * they get plain messages now. ZERO_WINDOW: "... with 32 KiB of zeros as the preset dictionary".
 */
const CAN_INFLATE = 1;
const ZERO_WINDOW = 2;
/**
 * "Answer this only if you have not answered a step 1 on this connection yet": a step 1 sent once
 * more in case the first was lost (decision 0019, "Later again"). Pages from before it answer it
 * like any step 1; it is sent only to pages that opened with FIRST_MESSAGE.
 */
const ANSWER_ONCE = 4;

/** The most one peer may make us buffer for a single message (a whole large document). */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Signals kept for a peer that is away (reconnecting), and for ourselves while not attached. */
const MAX_OUTBOX = 128;
/** Closed connection ids remembered per peer, so their late signals are ignored. */
const MAX_DEAD_IDS = 16;
/** Room events held until the attach answer. */
const MAX_EARLY = 1024;
/** Every neighbour re-syncs this often anyway: what a hostile or mistaken view of the links made us skip arrives within it. */
const ANTI_ENTROPY_MS = 30_000;
/** Origins of awareness changes that are ours alone and must not travel. */
const LEFT_ORIGIN = 'mesh:peer-left';

export type SignalOutcome =
  /** Relayed to the peer. */
  | 'sent'
  /** The peer is in the room but its tab is reconnecting: send again when it is back. */
  | 'away'
  /** The peer is no longer in the room. */
  | 'gone'
  /** We are not attached (our own signaling reconnects): send again after the next start(). */
  | 'unattached'
  /** No answer (timeout, refusal): the connection attempt's own timeout takes it from here. */
  | 'failed';

export interface SignalingPort {
  send(to: string, data: Record<string, unknown>): Promise<SignalOutcome>;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

const randomConnId = () =>
  Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');

export interface MeshProviderOptions {
  signaling: SignalingPort;
  /** Makes peer connections. @default real WebRTC through simple-peer */
  createPeer?: PeerFactory;
  /** Injected for tests (fake timers). @default the global timers */
  timers?: Timers;
  /** Connection ids. @default 96 random bits */
  randomId?: () => string;
  /** A connection not open by then is given up and tried again. @default 15_000 */
  connectTimeoutMs?: number;
  /** First pause before a failed connection is tried again; doubles up to `maxRetryMs`. @default 500 */
  retryMs?: number;
  /** @default 30_000 */
  maxRetryMs?: number;
  /** How long a neighbour waits before acknowledging updates (batches a burst). @default 20 */
  ackDelayMs?: number;
  /** How often every neighbour is sent our state vector (and awareness) anyway. @default 30_000 */
  antiEntropyMs?: number;
  /**
   * Root types of the document that are append-only (decision 0010): an update that would delete
   * anything under them is refused before it is applied, and the neighbour that sent it (only a
   * hostile page writes one; honest peers never pass one on) is cut off. @default none
   */
  appendOnlyRoots?: ReadonlySet<string>;
  /**
   * How deflated messages are inflated (decision 0018): the browser's DecompressionStream, or fflate
   * (tests on a fake clock: the native stream works in real time). @default native where there is one
   */
  inflateWith?: InflateWith;
}

export interface RtcSettings {
  iceServers: RTCIceServer[];
  /** `relay`: TURN only, so nobody learns another participant's IP address. @default 'all' */
  iceTransportPolicy?: RTCIceTransportPolicy;
}

/** Why the last attempt to connect to a peer failed. */
export type LinkFailure =
  /** Not open within the connect timeout. */
  | 'timeout'
  /** ICE checks failed: no path between the two browsers. */
  | 'unreachable'
  /** The TURN relay refused us or could not be reached, and no other path is allowed. */
  | 'relay';

export interface PeerStatus {
  peerId: string;
  participantId: string | null;
  /**
   * direct: an open data channel; relayed: no channel of ours, but changes reach it through other
   * peers; connecting: a first attempt under way; failed: the last attempt failed (see `failure`).
   */
  link: 'direct' | 'relayed' | 'connecting' | 'failed';
  failure: LinkFailure | null;
  /**
   * Direct, and the peer's sync step 1 answered: what it lacked of ours is on its way. A newcomer's
   * first sync waits on that answer (decision 0014: the views wait for it too).
   */
  answered: boolean;
}

export interface MeshStatus {
  peers: PeerStatus[];
  /** Peers with an open data channel. */
  connected: number;
  /** Peers we know are in the room. */
  known: number;
  /** True once a sync step 2 arrived from some peer, or there was nobody to sync with. */
  synced: boolean;
  /**
   * Our own changes up to this clock (our client's entry in a state vector) have reached at least
   * one other peer. Compare with `Y.getState(doc.store, doc.clientID)` after a change.
   */
  confirmedClock: number;
  /**
   * Bytes received so far of large messages still arriving (a late joiner's first sync of a big
   * session), in steps of PROGRESS_STEP_BYTES; 0 when none is.
   */
  receivingBytes: number;
}

/** How long the other neighbours wait for the first sync before they are asked too. */
const FIRST_SYNC_WAIT_MS = 10_000;
/**
 * How long a newcomer's other peers wait for its first link before their connections are set up
 * anyway (its first peer unreachable, or slow to answer). See `firstLink`.
 */
const FIRST_LINK_WAIT_MS = 300;

/**
 * A new connection's sync step 1 not answered (no step 2 from that neighbour, nothing of a message
 * arriving) within this long is sent again, and again after twice as long, up to SYNC_RETRY_MAX_MS
 * (decision 0019). Chromium 150 was seen to lose the first messages a side sends on a newly opened
 * channel (the first two or three the answering side sent within 3 ms of its `datachannel` event, in
 * about 1 join in 100 on a loaded machine): unanswered, a newcomer with a single neighbour never
 * synced.
 */
const SYNC_RETRY_MS = 1000;
const SYNC_RETRY_MAX_MS = 8000;

/**
 * The first message each side sends on a new channel: a presence update with nobody in it, which
 * changes nothing where it arrives. The message Chromium may lose is then mostly this one, and the
 * sync step 1 behind it arrives without the retry a second later (decision 0019, "A message to lose").
 * Heard, it also says that the channel carries now and that the other side's page knows ANSWER_ONCE.
 */
const FIRST_MESSAGE = Uint8Array.of(MESSAGE_AWARENESS, 1, 0);

/** Progress of a large incoming message is reported in steps this big (a status change each). */
const PROGRESS_STEP_BYTES = 256 * 1024;

class PeerConn {
  readonly reassembler: Reassembler;
  /** A message's last frame has come and it is being inflated: frames meanwhile wait in `inbox`. */
  inflating = false;
  readonly inbox: Uint8Array[] = [];
  inboxBytes = 0;
  connected = false;
  /** The neighbour said (in its sync step 1) that it inflates deflated messages (ZERO_WINDOW). */
  inflates = false;
  /** Its sync step 1 has been answered (our step 2 sent). */
  answered = false;
  /** Our sync step 1 has been answered (its step 2 came); until then it is asked again (SYNC_RETRY_MS). */
  heardStep2 = false;
  /** A message from the neighbour has come on this connection. */
  heardAny = false;
  /** We sent our sync step 1 on this connection before we heard anything on it. */
  step1Unheard = false;
  syncRetry: unknown = null;
  syncRetryMs = SYNC_RETRY_MS;
  /**
   * Messages produced before this side's 'connect' fired. The remote side may open first and send
   * us sync step 1 at once; our step 2 reply must wait here, not be dropped.
   */
  readonly pending: Uint8Array[] = [];
  connectTimer: unknown = null;
  ackTimer: unknown = null;
  localCandidates = 0;
  relayError = false;
  lastResyncAskMs = Number.NEGATIVE_INFINITY;
  /** A resync asked for while the last was under a second ago. */
  resyncPending: unknown = null;
  /** The receiving progress last reported for this connection (PROGRESS_STEP_BYTES steps). */
  reportedBytes = 0;

  constructor(
    readonly id: string,
    readonly remote: string,
    readonly peer: PeerLike,
    inflateWith: InflateWith,
  ) {
    this.reassembler = new Reassembler(MAX_MESSAGE_BYTES, inflateWith);
  }
}

interface Remote {
  participantId: string | null;
  conn: PeerConn | null;
  /** Consecutive failed attempts (backoff). */
  failures: number;
  failure: LinkFailure | null;
  retryTimer: unknown;
  /** Ids of this peer's connections we closed: their late signals are ignored. */
  dead: string[];
  /**
   * The last connection to this peer we closed, until a new one opens: a hello says it, so that a
   * dialler whose end of it is still open (it never heard the close) drops it and dials again.
   */
  lost: string | null;
  /** Signals refused because the peer was away, sent again when it is back. */
  outbox: { conn: string; data: Record<string, unknown> }[];
}

type Listener = (status: MeshStatus) => void;

export interface MediaLink {
  peerId: string;
  participantId: string | null;
  pc: RTCPeerConnection;
}

export class MeshProvider {
  private readonly remotes = new Map<string, Remote>();
  private readonly listeners = new Set<Listener>();
  private readonly createPeer: PeerFactory;
  private readonly timers: Timers;
  private readonly randomId: () => string;
  private readonly connectTimeoutMs: number;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;
  private readonly ackDelayMs: number;
  private readonly antiEntropyMs: number;
  private antiEntropyTimer: unknown = null;
  private rtc: RtcSettings = { iceServers: [] };
  private selfPeerId: string | null = null;
  /** Events that arrived before start() (the room is joined before the attach answer). */
  private early: (() => void)[] = [];
  private awaitingStart = false;
  /** Signals refused because we were not attached: sent again on the next start(). */
  private unattached: { to: string; conn: string; data: Record<string, unknown> }[] = [];
  private topology: Topology | null = null;
  private edges = new Set<string>();
  private resyncTimer: unknown = null;
  private synced = false;
  /**
   * Until the first sync, only one neighbour is asked for what we lack: a late joiner connecting to
   * five peers at once would otherwise receive the whole session five times (25 MB for a 5 MB
   * session) and integrate it five times. The others get our state vector once we are synced (they
   * then send only what the first did not have), when the first link closes, or after
   * FIRST_SYNC_WAIT_MS without it.
   */
  private firstSync: { conn: PeerConn; deferred: PeerConn[]; timer: unknown } | null = null;
  /**
   * A newcomer sets up one connection first (decision 0020): until its link to the first peer of its
   * attach list is open (or that attempt failed, the peer left, or FIRST_LINK_WAIT_MS passed), its
   * other peers are neither dialled nor answered. What they send meanwhile is kept, in order, and
   * handled then. Two set-ups at once on a joining page took each other's time: the first channel
   * opened 16-25 ms later and the transcript was on screen 16-38 ms later.
   */
  private firstLink: { peerId: string; held: { from: string; data: Record<string, unknown> }[]; waiting: Set<string>; timer: unknown } | null = null;
  private confirmedClock = 0;
  /** Offline: no connection is opened until reconnect(). */
  private suspended = false;
  private destroyed = false;

  constructor(
    readonly doc: Y.Doc,
    readonly awareness: awarenessProtocol.Awareness,
    private readonly opts: MeshProviderOptions,
  ) {
    this.createPeer = opts.createPeer ?? simplePeerFactory();
    this.timers = opts.timers ?? realTimers;
    this.randomId = opts.randomId ?? randomConnId;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 15_000;
    this.retryMs = opts.retryMs ?? 500;
    this.maxRetryMs = opts.maxRetryMs ?? 30_000;
    this.ackDelayMs = opts.ackDelayMs ?? 20;
    this.antiEntropyMs = opts.antiEntropyMs ?? ANTI_ENTROPY_MS;
    doc.on('update', this.onDocUpdate);
    awareness.on('update', this.onAwarenessUpdate);
    awareness.on('change', this.onAwarenessChange);
  }

  get peerId(): string | null {
    return this.selfPeerId;
  }

  get status(): MeshStatus {
    const reachable = this.topology?.reachable() ?? new Set<string>();
    const peers: PeerStatus[] = [];
    let connected = 0;
    for (const [peerId, r] of this.remotes) {
      const direct = r.conn?.connected === true;
      if (direct) connected++;
      const link = direct ? 'direct' : reachable.has(peerId) ? 'relayed' : r.failure ? 'failed' : 'connecting';
      peers.push({ peerId, participantId: r.participantId, link, failure: direct ? null : r.failure, answered: direct && r.conn!.answered });
    }
    let receivingBytes = 0;
    for (const r of this.remotes.values()) receivingBytes += r.conn?.reportedBytes ?? 0;
    return { peers, connected, known: this.remotes.size, synced: this.synced, confirmedClock: this.confirmedClock, receivingBytes };
  }

  /**
   * The peer connections of the open links, for media (lib/media): a connection that is replaced
   * shows up here as a new object, announced through `onStatus` (its link goes down and up again).
   */
  mediaLinks(): MediaLink[] {
    const out: MediaLink[] = [];
    for (const [peerId, r] of this.remotes) {
      const pc = r.conn?.connected ? r.conn.peer._pc : undefined;
      if (pc) out.push({ peerId, participantId: r.participantId, pc });
    }
    return out;
  }

  /** Every peer signaling says is in the room → its participant (null: not told yet). */
  knownPeers(): Map<string, string | null> {
    return new Map([...this.remotes].map(([peerId, r]) => [peerId, r.participantId]));
  }

  onStatus(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private lastStatusKey = '';

  /** Tells listeners, only when something they can see changed (pages re-render on each). */
  private emitStatus(): void {
    if (this.listeners.size === 0) return;
    const s = this.status;
    const key = `${s.synced}|${s.confirmedClock}|${s.receivingBytes}|${s.peers.map((p) => `${p.peerId}:${p.participantId}:${p.link}:${p.failure}:${p.answered}`).join(',')}`;
    if (key === this.lastStatusKey) return;
    this.lastStatusKey = key;
    for (const l of this.listeners) l(s);
  }

  // ------------------------------------------------------------------ what signaling tells us

  /**
   * We are (again) in the room as `selfPeerId`, with `peers` the others there now. With the same id
   * as before (a signaling reconnect that took our peer back) every open connection lives on; with a
   * new one the old mesh is gone for everyone and is closed.
   */
  start(selfPeerId: string, peers: { peerId: string; participantId: string }[], rtc: RtcSettings): void {
    if (this.destroyed) return;
    this.awaitingStart = false;
    this.rtc = rtc;
    if (selfPeerId !== this.selfPeerId) {
      this.endFirstLink(false);
      this.closeAll();
      this.selfPeerId = selfPeerId;
      this.synced = this.synced || peers.length === 0;
    }
    const listed = new Map(peers.filter((p) => p.peerId !== selfPeerId).map((p) => [p.peerId, p.participantId]));
    // A newcomer (nothing synced, no connection yet, several peers) starts with the first listed (any
    // peer holds the whole session). A hold under way (a restart under the same id) stays as it is.
    const first = listed.keys().next().value;
    if (!this.firstLink && !this.synced && listed.size > 1 && first !== undefined && ![...this.remotes.values()].some((r) => r.conn)) {
      this.firstLink = { peerId: first, held: [], waiting: new Set(), timer: this.timers.setTimeout(() => this.endFirstLink(true), FIRST_LINK_WAIT_MS) };
    }
    // Whoever is not listed left while we were away.
    for (const peerId of [...this.remotes.keys()]) if (!listed.has(peerId)) this.forget(peerId);
    for (const [peerId, participantId] of listed) this.learn(peerId, participantId);
    for (const peerId of listed.keys()) {
      // What a peer that was away did not get: it is back (we may have missed its peer:joined).
      const r = this.remotes.get(peerId)!;
      for (const m of r.outbox.splice(0)) if (r.conn?.id === m.conn) this.sendSignal(peerId, m.conn, m.data);
      // Back in the room: whoever we have no connection to is tried now, not after a pending pause.
      this.retryNow(peerId);
    }
    const held = this.unattached.splice(0);
    for (const m of held) if (this.remotes.get(m.to)?.conn?.id === m.conn) this.sendSignal(m.to, m.conn, m.data);
    for (const run of this.early.splice(0)) run();
    this.publishLinks();
    this.scheduleAntiEntropy();
    this.emitStatus();
  }

  /**
   * Every neighbour gets our state vector (it answers with what we lack) and the awareness we hold,
   * every `antiEntropyMs`: whatever pruned forwarding skipped on a wrong view of the links (stale,
   * or forged by a hostile peer) arrives within that time, whatever else happens.
   */
  private scheduleAntiEntropy(): void {
    if (this.antiEntropyTimer !== null || this.destroyed) return;
    this.antiEntropyTimer = this.timers.setTimeout(() => {
      this.antiEntropyTimer = null;
      if (this.destroyed) return;
      const step1 = this.syncStep1();
      const awareness = this.allAwareness();
      for (const r of this.remotes.values()) {
        if (!r.conn?.connected) continue;
        this.sendNow(r.conn, step1);
        this.sendNow(r.conn, awareness);
      }
      this.scheduleAntiEntropy();
    }, this.antiEntropyMs);
  }

  /** Another peer entered the room, or came back after a signaling blip. */
  peerJoined(peerId: string, participantId: string): void {
    if (this.deferred(() => this.peerJoined(peerId, participantId))) return;
    if (peerId === this.selfPeerId) return;
    this.learn(peerId, participantId);
    const r = this.remotes.get(peerId)!;
    // Back from a blip: what it missed while away goes now.
    for (const m of r.outbox.splice(0)) if (r.conn?.id === m.conn) this.sendSignal(peerId, m.conn, m.data);
    this.retryNow(peerId);
    this.emitStatus();
  }

  /**
   * The device lost its network (the browser's `offline` event): every connection is dead in fact,
   * though a data channel may take half a minute to say so. Close them all now and try nothing
   * until reconnect(); changes made meanwhile wait in the document and go out with the next sync.
   */
  suspend(): void {
    if (this.destroyed || this.suspended) return;
    this.suspended = true;
    // Everyone is tried again on reconnect().
    this.endFirstLink(false);
    for (const [peerId, r] of this.remotes) {
      this.clearRetry(r);
      if (r.conn) this.drop(peerId, null, false);
    }
    this.emitStatus();
  }

  /**
   * Try every peer we have no connection to now, not after the pause its last failure set: the
   * network came back, or signaling did.
   */
  reconnect(): void {
    if (this.destroyed) return;
    this.suspended = false;
    if (this.selfPeerId === null) return;
    for (const peerId of this.remotes.keys()) this.retryNow(peerId);
  }

  private retryNow(peerId: string): void {
    const r = this.remotes.get(peerId);
    if (!r || r.conn) return;
    this.clearRetry(r);
    this.consider(peerId);
  }

  /** A peer left the room for good (left, removed, or away past the grace period). */
  peerLeft(peerId: string): void {
    if (this.deferred(() => this.peerLeft(peerId))) return;
    this.forget(peerId);
    this.recomputeTopology();
    this.emitStatus();
  }

  /** A signaling message relayed by the server from an admitted peer of this session. */
  signal(from: string, data: Record<string, unknown>): void {
    if (this.deferred(() => this.signal(from, data))) return;
    if (from === this.selfPeerId || this.suspended) return;
    if (this.firstLink && from !== this.firstLink.peerId) {
      const held = this.firstLink.held;
      held.push({ from, data });
      if (held.length > MAX_EARLY) held.shift();
      return;
    }
    const env = parseEnvelope(data);
    if (!env) return;
    this.learn(from, null);
    const r = this.remotes.get(from)!;
    const iDial = this.selfPeerId! < from;

    if (env.kind === 'hello') {
      if (!iDial) return; // the other side dials; it will
      if (r.conn && env.lost !== null && r.conn.id === env.lost) this.drop(from, null);
      if (!r.conn) {
        this.clearRetry(r);
        this.dial(from);
      }
      return;
    }

    if (r.conn?.id === env.conn) {
      // Candidates, the answer, or a renegotiation of the open connection (media added later).
      try {
        r.conn.peer.signal(env.signal);
      } catch {
        this.drop(from, 'unreachable');
      }
      return;
    }
    if (r.dead.includes(env.conn) || env.signal.type !== 'offer') return; // late news of a closed connection
    if (iDial) {
      // We dial this peer, it does not dial us: make sure our own attempt is under way.
      this.consider(from);
      return;
    }
    // A new connection from the dialling side: it started afresh, our old end is stale.
    if (r.conn) this.drop(from, null, false);
    this.clearRetry(r);
    const conn = this.open(from, env.conn, false);
    try {
      conn.peer.signal(env.signal);
    } catch {
      this.drop(from, 'unreachable');
    }
  }

  private deferred(run: () => void): boolean {
    if (this.destroyed) return true;
    if (this.selfPeerId !== null && !this.awaitingStart) return false;
    this.early.push(run);
    if (this.early.length > MAX_EARLY) this.early.shift();
    return true;
  }

  /**
   * Our signaling reconnected and we are about to attach again: what the room says from now until
   * the attach answer (start()) concerns the attachment to come, whose peer id may be a new one. It
   * is held and handled after start(), under that id. Data channels are not affected.
   */
  holdSignalingUntilStart(): void {
    if (!this.destroyed) this.awaitingStart = true;
  }

  private learn(peerId: string, participantId: string | null): void {
    const r = this.remotes.get(peerId);
    if (r) {
      if (participantId) r.participantId = participantId;
      return;
    }
    this.remotes.set(peerId, { participantId, conn: null, failures: 0, failure: null, retryTimer: null, dead: [], outbox: [], lost: null });
  }

  private forget(peerId: string): void {
    const r = this.remotes.get(peerId);
    if (!r) return;
    if (this.firstLink) {
      this.firstLink.held = this.firstLink.held.filter((m) => m.from !== peerId);
      this.firstLink.waiting.delete(peerId);
      if (this.firstLink.peerId === peerId) this.endFirstLink(true);
    }
    this.clearRetry(r);
    if (r.conn) this.drop(peerId, null, false);
    this.remotes.delete(peerId);
    // Its presence goes with it (ours alone: every peer hears of the departure itself).
    const gone: number[] = [];
    for (const [clientId, state] of this.awareness.getStates()) {
      if (clientId !== this.doc.clientID && readClaim(state)?.peerId === peerId) gone.push(clientId);
    }
    if (gone.length > 0) awarenessProtocol.removeAwarenessStates(this.awareness, gone, LEFT_ORIGIN);
  }

  // ------------------------------------------------------------------ connections

  /** We know `peerId` and have no connection to it: dial it, or ask it to dial us. */
  private consider(peerId: string): void {
    const r = this.remotes.get(peerId);
    if (!r || r.conn || r.retryTimer !== null || this.destroyed || this.suspended) return;
    if (this.firstLink && peerId !== this.firstLink.peerId) {
      this.firstLink.waiting.add(peerId);
      return;
    }
    if (this.selfPeerId! < peerId) this.dial(peerId);
    else this.sayHello(peerId);
  }

  /**
   * The newcomer's first link is open, or will not be soon: the other peers' connections are set up
   * now (`release`), in the order they came, or (not `release`) forgotten with what they sent, for a
   * new start or a reconnect that tries everyone.
   */
  private endFirstLink(release: boolean): void {
    const first = this.firstLink;
    if (!first) return;
    this.firstLink = null;
    this.timers.clearTimeout(first.timer);
    if (!release || this.destroyed) return;
    for (const { from, data } of first.held) this.signal(from, data);
    for (const peerId of first.waiting) this.consider(peerId);
  }

  private dial(peerId: string): void {
    this.open(peerId, this.randomId(), true);
  }

  /** The side that does not dial: ask to be dialled, and try again if no offer comes. */
  private sayHello(peerId: string): void {
    const r = this.remotes.get(peerId);
    if (!r) return;
    void this.opts.signaling.send(peerId, envelope.hello(r.lost)).then((outcome) => {
      if (outcome === 'gone') this.peerLeft(peerId);
    });
    r.retryTimer = this.timers.setTimeout(() => {
      r.retryTimer = null;
      if (this.remotes.get(peerId) !== r || r.conn) return;
      this.failed(peerId, 'timeout');
    }, this.connectTimeoutMs);
  }

  private open(peerId: string, connId: string, initiator: boolean): PeerConn {
    const r = this.remotes.get(peerId)!;
    const peer = this.createPeer({
      initiator,
      config: { iceServers: this.rtc.iceServers, iceTransportPolicy: this.rtc.iceTransportPolicy ?? 'all' },
    });
    const conn = new PeerConn(connId, peerId, peer, this.opts.inflateWith ?? (nativeInflate() ? 'native' : 'fflate'));
    r.conn = conn;
    const current = () => this.remotes.get(peerId)?.conn === conn;

    peer.on('signal', (data) => {
      if (!current()) return;
      if (data.type === 'candidate') conn.localCandidates++;
      this.sendSignal(peerId, conn.id, data);
    });
    peer.on('iceStateChange', (_connection, gathering) => {
      // Relay-only and not one candidate: the TURN server refused us or is unreachable. Say so now
      // rather than after the connect timeout.
      if (current() && gathering === 'complete' && conn.localCandidates === 0 && this.rtc.iceTransportPolicy === 'relay') {
        this.drop(peerId, 'relay');
      }
    });
    const pc = peer._pc;
    if (pc && typeof pc.addEventListener === 'function') {
      pc.addEventListener('icecandidateerror', (e) => {
        const url = (e as RTCPeerConnectionIceErrorEvent).url ?? '';
        if (/^turns?:/i.test(url)) conn.relayError = true;
      });
    }
    peer.on('connect', () => {
      if (!current()) return;
      conn.connected = true;
      mark('joinus:channel');
      this.timers.clearTimeout(conn.connectTimer);
      const hold = this.firstLink;
      // The others in a task of their own, once this link's sync step 1 has gone (below); unless a
      // new start made a hold of its own meanwhile.
      if (hold?.peerId === peerId) {
        this.timers.setTimeout(() => {
          if (this.firstLink === hold) this.endFirstLink(true);
        }, 0);
      }
      r.failures = 0;
      r.failure = null;
      r.lost = null;
      // Both sides open with sync step 1 and the awareness they know: one round trip to synced. Before
      // our first sync, one neighbour at a time (see `firstSync`). Before either, a message to lose.
      this.sendNow(conn, FIRST_MESSAGE);
      this.askToSync(conn);
      this.sendNow(conn, this.allAwareness());
      for (const message of conn.pending.splice(0)) this.sendNow(conn, message);
      this.linksChanged();
    });
    peer.on('data', (data) => {
      if (!current()) return;
      // Frames behind a message still being inflated wait for it, in order (as much as one message).
      if (!conn.inflating) this.onFrame(conn, data, current);
      else if ((conn.inboxBytes += data.byteLength) > MAX_MESSAGE_BYTES) this.drop(peerId, 'unreachable');
      else conn.inbox.push(data);
    });
    peer.on('close', () => {
      if (current()) this.drop(peerId, conn.connected ? null : 'unreachable');
    });
    peer.on('error', () => {
      if (current()) this.drop(peerId, conn.connected ? null : conn.relayError && this.rtc.iceTransportPolicy === 'relay' ? 'relay' : 'unreachable');
    });
    conn.connectTimer = this.timers.setTimeout(() => {
      if (!current() || conn.connected) return;
      // Relay-only and no relay candidate by now (an unreachable TURN server takes ~40 s to give up).
      const relayProblem = this.rtc.iceTransportPolicy === 'relay' && (conn.relayError || conn.localCandidates === 0);
      this.drop(peerId, relayProblem ? 'relay' : 'timeout');
    }, this.connectTimeoutMs);
    this.emitStatus();
    return conn;
  }

  /** A large incoming message's progress, in steps (a status change each). */
  private noteProgress(conn: PeerConn): void {
    const progress = Math.floor(conn.reassembler.pendingBytes / PROGRESS_STEP_BYTES) * PROGRESS_STEP_BYTES;
    if (progress === conn.reportedBytes) return;
    conn.reportedBytes = progress;
    this.emitStatus();
  }

  /** One frame from `conn`'s channel: a whole message goes to `receive`, in the order sent. */
  private onFrame(conn: PeerConn, data: Uint8Array, current: () => boolean): void {
    const refuse = () => {
      // A peer that sends garbage is cut off; it may dial again with a clean slate.
      if (current()) this.drop(conn.remote, 'unreachable');
    };
    try {
      const message = conn.reassembler.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      this.noteProgress(conn);
      if (message instanceof Promise) {
        conn.inflating = true;
        message.then((whole) => {
          conn.inflating = false;
          if (!current()) return;
          this.noteProgress(conn);
          try {
            this.receive(conn, whole);
          } catch {
            refuse();
            return;
          }
          // What came meanwhile, until another message has to wait.
          while (conn.inbox.length > 0 && !conn.inflating && current()) {
            const next = conn.inbox.shift()!;
            conn.inboxBytes -= next.byteLength;
            this.onFrame(conn, next, current);
          }
        }, refuse);
      } else if (message) this.receive(conn, message);
    } catch {
      refuse();
    }
  }

  /**
   * Close our connection to `peerId`. `failure`: why an attempt failed (null: an open connection
   * closed). Unless `retry` is false, a peer still in the room is tried again after a pause.
   */
  private drop(peerId: string, failure: LinkFailure | null, retry = true): void {
    const r = this.remotes.get(peerId);
    const conn = r?.conn;
    if (!r || !conn) return;
    r.conn = null;
    r.lost = conn.id;
    r.dead.push(conn.id);
    if (r.dead.length > MAX_DEAD_IDS) r.dead.shift();
    r.outbox = r.outbox.filter((m) => m.conn !== conn.id);
    this.closeConn(conn);
    if (this.firstSync?.conn === conn) this.releaseFirstSync();
    if (this.firstLink?.peerId === peerId) this.endFirstLink(true);
    if (conn.connected) this.linksChanged();
    if (retry) this.failed(peerId, failure);
    this.emitStatus();
  }

  /** A connection's own timers stopped and its peer connection closed. */
  private closeConn(conn: PeerConn): void {
    this.timers.clearTimeout(conn.connectTimer);
    this.timers.clearTimeout(conn.ackTimer);
    this.timers.clearTimeout(conn.syncRetry);
    try {
      conn.peer.destroy();
    } catch {
      /* already torn down */
    }
  }

  /** An attempt failed or a connection closed: try again after a pause that grows with each failure. */
  private failed(peerId: string, failure: LinkFailure | null): void {
    const r = this.remotes.get(peerId);
    if (!r || this.destroyed) return;
    if (failure) {
      r.failure = failure;
      r.failures++;
    }
    this.clearRetry(r);
    if (this.suspended) return;
    const delayMs = Math.min(this.maxRetryMs, this.retryMs * 2 ** Math.max(0, r.failures - 1));
    r.retryTimer = this.timers.setTimeout(() => {
      r.retryTimer = null;
      if (this.remotes.get(peerId) !== r || r.conn || this.destroyed) return;
      if (this.selfPeerId! < peerId) this.dial(peerId);
      else this.sayHello(peerId);
    }, delayMs);
    this.emitStatus();
  }

  private clearRetry(r: Remote): void {
    if (r.retryTimer !== null) this.timers.clearTimeout(r.retryTimer);
    r.retryTimer = null;
  }

  private sendSignal(peerId: string, connId: string, data: Record<string, unknown>): void {
    void this.opts.signaling.send(peerId, envelope.signal(connId, data)).then((outcome) => {
      const r = this.remotes.get(peerId);
      if (!r || r.conn?.id !== connId) return;
      if (outcome === 'away') {
        r.outbox.push({ conn: connId, data });
        if (r.outbox.length > MAX_OUTBOX) r.outbox.shift();
      } else if (outcome === 'unattached') {
        this.unattached.push({ to: peerId, conn: connId, data });
        if (this.unattached.length > MAX_OUTBOX) this.unattached.shift();
      } else if (outcome === 'gone') {
        this.peerLeft(peerId);
      }
    });
  }

  // ------------------------------------------------------------------ the mesh as others see it

  /** Our links changed: publish them, and see what that does to reachability. */
  private linksChanged(): void {
    this.publishLinks();
    this.recomputeTopology();
  }

  private directPeers(): Set<string> {
    const out = new Set<string>();
    for (const [peerId, r] of this.remotes) if (r.conn?.connected) out.add(peerId);
    return out;
  }

  private publishLinks(): void {
    if (!this.selfPeerId || this.awareness.getLocalState() === null) return;
    const claim: MeshClaim = { peerId: this.selfPeerId, links: [...this.directPeers()].sort() };
    const before = readClaim(this.awareness.getLocalState());
    if (before && before.peerId === claim.peerId && before.links.join() === claim.links.join()) return;
    this.awareness.setLocalStateField('mesh', claim);
  }

  private recomputeTopology(): void {
    if (!this.selfPeerId) return;
    // Claims count only for peers signaling says are in the room, and only one per peer: awareness is
    // not authenticated, and a peer id claimed twice (one of them forged) is not trusted at all, so
    // forwarding to and from it is never skipped on its word.
    const byPeer = new Map<string, MeshClaim | null>();
    for (const [clientId, state] of this.awareness.getStates()) {
      if (clientId === this.doc.clientID) continue;
      const c = readClaim(state);
      if (!c || !this.remotes.has(c.peerId)) continue;
      byPeer.set(c.peerId, byPeer.has(c.peerId) ? null : { peerId: c.peerId, links: c.links.filter((l) => l === this.selfPeerId || this.remotes.has(l)) });
    }
    const claims = [...byPeer.values()].filter((c): c is MeshClaim => c !== null);
    this.topology = new Topology(this.selfPeerId, this.directPeers(), claims);
    const edges = this.topology.edges();
    let lost = false;
    for (const e of this.edges) if (!edges.has(e)) lost = true;
    this.edges = edges;
    // A link went away: whatever was forwarded on the view that it existed may have missed someone.
    if (lost) this.scheduleResync();
    this.emitStatus();
  }

  private scheduleResync(): void {
    if (this.resyncTimer !== null) return;
    this.resyncTimer = this.timers.setTimeout(() => {
      this.resyncTimer = null;
      for (const r of this.remotes.values()) if (r.conn?.connected) this.resync(r.conn);
    }, 0);
  }

  /** A resync with one neighbour, at most once a second. */
  private askResync(conn: PeerConn): void {
    const now = Date.now();
    const wait = conn.lastResyncAskMs + 1000 - now;
    if (wait > 0) {
      // Asked a moment ago: ask again when the second is up (what we dropped meanwhile must come).
      conn.resyncPending ??= this.timers.setTimeout(() => {
        conn.resyncPending = null;
        if (conn.connected && !this.destroyed) this.askResync(conn);
      }, wait);
      return;
    }
    conn.lastResyncAskMs = now;
    this.resync(conn);
  }

  /** Both directions: our state vector, a request for theirs, and every awareness state we hold. */
  private resync(conn: PeerConn): void {
    this.sendNow(conn, this.syncStep1());
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, MESSAGE_RESYNC);
    this.sendNow(conn, encoding.toUint8Array(e));
    this.sendNow(conn, this.allAwareness());
  }

  // ------------------------------------------------------------------ messages

  private receive(conn: PeerConn, message: Uint8Array): void {
    if (!conn.heardAny) {
      conn.heardAny = true;
      // What either side sends on a new channel before it hears the other can be lost (decision
      // 0019). The other side's first message says the channel carries now, and that its page knows
      // ANSWER_ONCE: our step 1 once more, answered only if the first was lost.
      if (conn.step1Unheard && !conn.heardStep2 && array.equalFlat(message, FIRST_MESSAGE)) this.sendNow(conn, this.syncStep1(ANSWER_ONCE));
    }
    const decoder = decoding.createDecoder(message);
    const type = decoding.readVarUint(decoder);
    if (type === MESSAGE_SYNC) {
      this.noteStateVector(message);
      const reply = encoding.createEncoder();
      encoding.writeVarUint(reply, MESSAGE_SYNC);
      const syncType = decoding.readVarUint(decoder);
      if (syncType === syncProtocol.messageYjsSyncStep1) {
        const stateVector = decoding.readVarUint8Array(decoder);
        const flags = decoding.hasContent(decoder) ? decoding.readVarUint(decoder) : null;
        // Our answer (the whole session, for a late joiner) goes deflated if the sender inflates.
        if (flags !== null) conn.inflates = (flags & ZERO_WINDOW) !== 0;
        // Asked once more in case the first was lost, and it was not: nothing to answer.
        if (flags !== null && (flags & ANSWER_ONCE) !== 0 && conn.answered) return;
        syncProtocol.writeSyncStep2(reply, this.doc, stateVector);
      } else if (syncType === syncProtocol.messageYjsSyncStep2 || syncType === syncProtocol.messageYjsUpdate) {
        const update = decoding.readVarUint8Array(decoder);
        const verdict = this.opts.appendOnlyRoots ? checkUpdate(this.doc, update, this.opts.appendOnlyRoots) : 'ok';
        // Deletes what nobody may delete (or is not a Yjs update at all): cut the sender off.
        if (verdict === 'refused') throw new Error('refused update');
        if (verdict === 'unknown') {
          // Deletes something we do not have yet: we missed what came before; ask for all of it.
          this.askResync(conn);
          return;
        }
        try {
          Y.applyUpdate(this.doc, update, conn);
        } catch {
          // A view's observer failed on the change (our bug, not the peer's): the update is in.
        }
      } else {
        throw new Error('unknown sync message');
      }
      if (syncType === syncProtocol.messageYjsSyncStep2 && !conn.heardStep2) {
        conn.heardStep2 = true;
        this.timers.clearTimeout(conn.syncRetry);
        conn.syncRetry = null;
        // The presence sent as the channel opened may have been lost with the first messages
        // (decision 0019): once, now that the link has carried a round trip. The same clock changes
        // nothing where it did arrive.
        this.sendNow(conn, this.allAwareness());
      }
      if (syncType === syncProtocol.messageYjsSyncStep2 && !this.synced) {
        this.synced = true;
        this.releaseFirstSync();
        this.emitStatus();
      }
      if (encoding.length(reply) > 1) this.send(conn, encoding.toUint8Array(reply));
      if (syncType === syncProtocol.messageYjsSyncStep1 && !conn.answered) {
        conn.answered = true;
        this.emitStatus();
      }
      if (syncType !== syncProtocol.messageYjsSyncStep1) {
        this.scheduleAck(conn);
        // An update that builds on one we never got: ask this neighbour for what we lack (at most
        // once a second per neighbour).
        const store = this.doc.store as { pendingStructs: unknown; pendingDs: unknown };
        if (store.pendingStructs !== null || store.pendingDs !== null) this.askResync(conn);
      }
    } else if (type === MESSAGE_AWARENESS) {
      const update = this.withoutOwnState(decoding.readVarUint8Array(decoder));
      if (update) awarenessProtocol.applyAwarenessUpdate(this.awareness, update, conn);
    } else if (type === MESSAGE_RESYNC) {
      this.send(conn, this.syncStep1());
      this.expectStep2(conn);
    } else if (type === MESSAGE_ACK) {
      this.noteClock(Y.decodeStateVector(decoding.readVarUint8Array(decoder)));
    } else {
      throw new Error('unknown message type');
    }
  }

  /**
   * Nobody speaks for us: our own state relayed back to us is dropped (it is not newer than ours),
   * and one that claims to be newer than ours is a forgery, answered with our own state, newer.
   */
  private withoutOwnState(update: Uint8Array): Uint8Array | null {
    const d = decoding.createDecoder(update);
    const n = decoding.readVarUint(d);
    const kept: [number, number, string][] = [];
    const mine = this.awareness.meta.get(this.doc.clientID)?.clock ?? 0;
    let forgedClock = -1;
    for (let i = 0; i < n; i++) {
      const clientId = decoding.readVarUint(d);
      const clock = decoding.readVarUint(d);
      const state = decoding.readVarString(d);
      if (clientId !== this.doc.clientID) kept.push([clientId, clock, state]);
      else if (clock > mine) forgedClock = Math.max(forgedClock, clock);
    }
    if (forgedClock >= 0) this.reassertOwnState(forgedClock);
    if (kept.length === n) return update;
    if (kept.length === 0) return null;
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, kept.length);
    for (const [clientId, clock, state] of kept) {
      encoding.writeVarUint(e, clientId);
      encoding.writeVarUint(e, clock);
      encoding.writeVarString(e, state);
    }
    return encoding.toUint8Array(e);
  }

  /**
   * Someone passed on a state of our client newer than ours: a hostile peer's forgery (an honest
   * neighbour only relays what it got). It may have come through an honest neighbour, so nobody is cut
   * off; we send our own state again with a later clock, which replaces the forgery everywhere.
   */
  private reassertOwnState(forgedClock: number): void {
    const meta = this.awareness.meta.get(this.doc.clientID);
    if (!meta || forgedClock >= Number.MAX_SAFE_INTEGER) return;
    meta.clock = forgedClock;
    this.awareness.setLocalState(this.awareness.getLocalState());
  }

  /** A sync step 1 carries the sender's state vector: it tells us what of ours it has. */
  private noteStateVector(message: Uint8Array): void {
    const d = decoding.createDecoder(message);
    decoding.readVarUint(d);
    if (decoding.readVarUint(d) !== syncProtocol.messageYjsSyncStep1) return;
    this.noteClock(Y.decodeStateVector(decoding.readVarUint8Array(d)));
  }

  private noteClock(stateVector: Map<number, number>): void {
    // Never more than we have written: a neighbour claiming more is lying.
    const clock = Math.min(stateVector.get(this.doc.clientID) ?? 0, Y.getState(this.doc.store, this.doc.clientID));
    if (clock <= this.confirmedClock) return;
    this.confirmedClock = clock;
    this.emitStatus();
  }

  private scheduleAck(conn: PeerConn): void {
    if (conn.ackTimer !== null) return;
    conn.ackTimer = this.timers.setTimeout(() => {
      conn.ackTimer = null;
      if (this.remotes.get(conn.remote)?.conn !== conn) return;
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, MESSAGE_ACK);
      encoding.writeVarUint8Array(e, Y.encodeStateVector(this.doc));
      this.send(conn, encoding.toUint8Array(e));
    }, this.ackDelayMs);
  }

  /** Sends our state vector to a newly opened neighbour, or keeps it for after our first sync. */
  private askToSync(conn: PeerConn): void {
    // The first sync's connection was replaced without closing through drop(): ask the others now.
    if (this.firstSync && this.remotes.get(this.firstSync.conn.remote)?.conn !== this.firstSync.conn) this.releaseFirstSync();
    const first = this.firstSync;
    if (!this.synced && first && first.conn !== conn) {
      first.deferred.push(conn);
      return;
    }
    this.sendNow(conn, this.syncStep1());
    if (!conn.heardAny) conn.step1Unheard = true;
    this.expectStep2(conn);
    if (!this.synced && !first) {
      this.firstSync = { conn, deferred: [], timer: this.timers.setTimeout(() => this.releaseFirstSync(), FIRST_SYNC_WAIT_MS) };
    }
  }

  /**
   * Until the first step 2 from `conn`, our sync step 1 is sent again whenever SYNC_RETRY_MS (then
   * twice as long, up to SYNC_RETRY_MAX_MS) pass without it and no message from `conn` is part-way
   * in: the first message on a new channel can be lost. A step 2 still arriving (a large session,
   * frame by frame, or being inflated) is waited for, not asked for again.
   */
  private expectStep2(conn: PeerConn): void {
    if (conn.heardStep2 || conn.syncRetry !== null) return;
    conn.syncRetry = this.timers.setTimeout(() => {
      conn.syncRetry = null;
      if (conn.heardStep2 || !conn.connected || this.remotes.get(conn.remote)?.conn !== conn) return;
      if (conn.reassembler.pendingBytes === 0 && !conn.inflating) {
        this.sendNow(conn, this.syncStep1());
        conn.syncRetryMs = Math.min(SYNC_RETRY_MAX_MS, conn.syncRetryMs * 2);
      }
      this.expectStep2(conn);
    }, conn.syncRetryMs);
  }

  /** The first sync is done (or its neighbour went, or it took too long): ask the others. */
  private releaseFirstSync(): void {
    const first = this.firstSync;
    if (!first) return;
    this.firstSync = null;
    this.timers.clearTimeout(first.timer);
    for (const conn of first.deferred) {
      if (this.remotes.get(conn.remote)?.conn === conn && conn.connected) this.askToSync(conn);
    }
  }

  private syncStep1(extra = 0): Uint8Array {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, MESSAGE_SYNC);
    syncProtocol.writeSyncStep1(e, this.doc);
    // After the state vector, where y-protocols (and our own earlier versions) stop reading: what
    // this peer can receive (decision 0018).
    // CAN_INFLATE too: a page from before ZERO_WINDOW deflates for us, and we inflate what it makes.
    encoding.writeVarUint(e, CAN_INFLATE | ZERO_WINDOW | extra);
    return encoding.toUint8Array(e);
  }

  private send(conn: PeerConn, message: Uint8Array): void {
    if (!conn.connected) {
      conn.pending.push(message);
      return;
    }
    this.sendNow(conn, message);
  }

  private sendNow(conn: PeerConn, message: Uint8Array): void {
    try {
      // The peer holds frames back while the channel's buffer is full (peer.ts), so a
      // multi-megabyte sync never overflows the browser's send queue. A large message goes deflated
      // to a neighbour that said it inflates (decision 0018), compressed as the channel takes it.
      const chunk = (conn.peer.maxFrameBytes ?? CHUNK_BYTES + 1) - 1;
      const out = conn.inflates && message.byteLength >= DEFLATE_MIN_BYTES ? deflatedFrames(message, chunk) : frames(message, chunk);
      if (conn.peer.writeFrames) conn.peer.writeFrames(out);
      else for (const frame of out) conn.peer.write(frame);
    } catch {
      this.drop(conn.remote, null);
    }
  }

  /**
   * To open connections only (one still connecting gets everything through sync step 1 on
   * connect). What came from neighbour `from` skips the neighbours `from` is itself linked to: it
   * sent them the same, or they sent it to `from`.
   */
  /** The neighbours a message from `from` (null: our own) goes on to. */
  private targets(from: PeerConn | null): PeerConn[] {
    const out: PeerConn[] = [];
    for (const r of this.remotes.values()) {
      const conn = r.conn;
      if (!conn?.connected || conn === from) continue;
      if (from && this.topology?.linked(from.remote, conn.remote)) continue;
      out.push(conn);
    }
    return out;
  }

  private broadcast(message: Uint8Array, from: PeerConn | null, to = this.targets(from)): void {
    for (const conn of to) this.sendNow(conn, message);
  }

  private own(origin: unknown): PeerConn | null {
    return origin instanceof PeerConn && this.remotes.get(origin.remote)?.conn === origin ? origin : null;
  }

  /** Every presence we hold, as one message. */
  private allAwareness(): Uint8Array {
    return this.awarenessMessage([...this.awareness.getStates().keys()]);
  }

  private awarenessMessage(clients: number[]): Uint8Array {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, MESSAGE_AWARENESS);
    encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients));
    return encoding.toUint8Array(e);
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown) => {
    if (this.destroyed) return;
    // A remote update arrives here only when it is new to us (Yjs drops what we have): forward it.
    if (origin instanceof PeerConn && !this.own(origin)) return;
    // Nobody to pass it on to (the usual case for what a neighbour sent: everyone else has a link to
    // it): no copy of what may be megabytes.
    const to = this.targets(this.own(origin));
    if (to.length === 0) return;
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, MESSAGE_SYNC);
    syncProtocol.writeUpdate(e, update);
    this.broadcast(encoding.toUint8Array(e), this.own(origin), to);
  };

  private readonly onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ) => {
    if (this.destroyed || origin === 'timeout' || origin === LEFT_ORIGIN) return;
    if (origin instanceof PeerConn && !this.own(origin)) return;
    // Only states newer than ours get here (awareness clocks drop the rest): forward them.
    this.broadcast(this.awarenessMessage([...added, ...updated, ...removed]), this.own(origin));
  };

  private readonly onAwarenessChange = () => {
    if (!this.destroyed) this.recomputeTopology();
  };

  private closeAll(): void {
    for (const peerId of [...this.remotes.keys()]) this.forget(peerId);
    this.unattached = [];
    this.edges = new Set();
    this.topology = null;
  }

  destroy(): void {
    if (this.destroyed) return;
    // Tell peers we are gone before the channels close, so our presence disappears at once.
    awarenessProtocol.removeAwarenessStates(this.awareness, [this.doc.clientID], 'local');
    this.destroyed = true;
    if (this.resyncTimer !== null) this.timers.clearTimeout(this.resyncTimer);
    if (this.antiEntropyTimer !== null) this.timers.clearTimeout(this.antiEntropyTimer);
    if (this.firstSync) this.timers.clearTimeout(this.firstSync.timer);
    this.firstSync = null;
    this.endFirstLink(false);
    for (const r of this.remotes.values()) {
      this.clearRetry(r);
      const conn = r.conn;
      r.conn = null;
      if (!conn) continue;
      this.closeConn(conn);
    }
    this.remotes.clear();
    this.early = [];
    this.doc.off('update', this.onDocUpdate);
    this.awareness.off('update', this.onAwarenessUpdate);
    this.awareness.off('change', this.onAwarenessChange);
    this.listeners.clear();
  }
}
