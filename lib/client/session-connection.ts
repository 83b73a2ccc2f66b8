'use client';
/**
 * One participant's live session: attaches with its credential over the shared socket, owns the
 * Y.Doc, its awareness, the local copy (IndexedDB) and the peer-to-peer mesh, and hands the document
 * out to the features (features/*), which read their own part of it (lib/collab/doc-part.ts). Its
 * own snapshot is the connection only: phase, who we are, the mesh, who is reached and typing. It is
 * not rebuilt on document updates, only on what it shows. Components never touch the transports.
 */
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import { IndexeddbPersistence } from 'y-indexeddb';
import {
  describeEndReason,
  Messages,
  type Ack,
  type AckData,
  type AttachResult,
  type EndReason,
  type Payload,
  type ReservedHandle,
  type LobbyEntry,
  type Role,
  type ServerToClientEvents,
} from '../protocol';
import { presencePayload, verifiedPresence, type Author } from '../../features/participants/doc';
import {
  appendEntry,
  appendOnce,
  endedByText,
  joinedText,
  leftText,
  systemLineAllowed,
  type SystemEvent,
} from '../../features/transcript/doc';
import { Authorship, dropTabKeys, tabKeys, type DirectoryEntry, type Signer, type TabKeys } from '../collab/authorship';
import { MeshProvider, type MeshProviderOptions, type MeshStatus, type SignalOutcome } from '../p2p/mesh-provider';
import { simplePeerFactory } from '../p2p/peer';
import { MediaSession } from '../media/media-session';
import { readClaim } from '../p2p/topology';
import { describeConnection, othersFrom, type ConnectionView } from './connection-state';
import { request, type ClientSocket } from './socket';
import { newId } from '../collab/ids';
import { holdLocalCopy, localCopyName } from './local-copies';
import { mark } from '../marks';

/** Shown when the server no longer knows a session this page was in (README "Restarts"). */
export const SERVER_FORGOT =
  'The Join Us server no longer knows this session: it was restarted, which ends every session in progress, or the session ended a while ago.';

/** This tab was admitted to the session once (sessionStorage: kept across reloads of the tab). */
const admittedKey = (sessionId: string) => `joinus:admitted:${sessionId}`;
function rememberAdmitted(sessionId: string): void {
  try {
    globalThis.sessionStorage?.setItem(admittedKey(sessionId), '1');
  } catch {
    /* storage refused (private mode, quota): only the message after a restart is less precise */
  }
}
/**
 * The session's directory as of the last answer or announcement, kept for this tab (sessionStorage,
 * like the credential): after a reload the local copy's transcript is checked against it and shown
 * at once, before the attach answer brings the directory again (decision 0014).
 */
const directoryKey = (sessionId: string) => `joinus:directory:${sessionId}`;
function readDirectory(sessionId: string): DirectoryEntry[] {
  try {
    const raw: unknown = JSON.parse(globalThis.sessionStorage?.getItem(directoryKey(sessionId)) ?? '[]');
    if (!Array.isArray(raw)) return [];
    return raw.filter(
      (e): e is DirectoryEntry =>
        typeof e === 'object' &&
        e !== null &&
        typeof e.participantId === 'string' &&
        typeof e.name === 'string' &&
        typeof e.role === 'string' &&
        typeof e.joinedAt === 'number' &&
        Array.isArray(e.keys) &&
        e.keys.every((k: unknown) => typeof k === 'string'),
    );
  } catch {
    return [];
  }
}
function keepDirectory(sessionId: string, entries: readonly DirectoryEntry[] | null): void {
  try {
    if (entries) globalThis.sessionStorage?.setItem(directoryKey(sessionId), JSON.stringify(entries));
    else globalThis.sessionStorage?.removeItem(directoryKey(sessionId));
  } catch {
    /* storage refused or full: a reload shows the transcript after the attach answer instead */
  }
}

function wasAdmitted(sessionId: string): boolean {
  try {
    return globalThis.sessionStorage?.getItem(admittedKey(sessionId)) === '1';
  } catch {
    return false;
  }
}

export type Phase =
  | { kind: 'connecting' }
  /** Admission lobby: logged in with a handle, not yet let in by the agent. */
  | { kind: 'waiting' }
  | { kind: 'live' }
  | { kind: 'reconnecting' }
  | { kind: 'ended'; message: string }
  | { kind: 'removed'; message: string }
  | { kind: 'left' }
  | { kind: 'refused'; message: string };

export interface SessionSnapshot {
  sessionId: string;
  phase: Phase;
  me: { participantId: string; name: string; role: Role } | null;
  /**
   * Participants we reach now (directly or through others, C9) → whether they are typing. Replaced
   * only when it changes, so a pointer moving in awareness does not rebuild the participant list.
   */
  reached: ReadonlyMap<string, boolean>;
  /** The browser says it has a network (navigator.onLine). */
  deviceOnline: boolean;
  mesh: MeshStatus;
  /** What the connection status says (connection-state.ts). */
  connection: ConnectionView;
  /** Ids of our own chat messages that have not reached anyone yet (shown after a moment). */
  waiting: ReadonlySet<string>;
  handles: ReservedHandle[];
  /**
   * Everyone the server admitted, in joining order (`auth.list()`, the same array until it changes):
   * views read it here, where a newcomer's arrival is held like the rest (see `set`), not from
   * `auth` directly.
   */
  directory: readonly DirectoryEntry[];
  /** The agent's view of the session's admission lobby. */
  lobby: { enabled: boolean; waiting: LobbyEntry[] };
}

/**
 * Parts of the document that are logs of signed records, only ever appended to (transcript, page
 * pushes, drawing, form events): a peer's update that deletes from them is refused (decision 0010).
 */
export const APPEND_ONLY_ROOTS: ReadonlySet<string> = new Set(['transcript', 'pages', 'strokes', 'form-events']);

/** Our own messages count as waiting only after this long: a delivery takes milliseconds. */
const WAITING_AFTER_MS = 1000;
/** The longest the views wait for a connection being set up before they hear of changes (see `set`). */
const HOLD_WHILE_DIALLING_MS = 250;
/**
 * After a newcomer's directory entry (or the agent's handle list losing a handle to a log-in), its
 * peer is expected this soon: the views wait for it as for a connection being set up (see `set`).
 */
const ARRIVAL_MS = 100;

/** How long a newcomer waits for the first sync before it announces itself anyway. */
const JOIN_NOTE_WAIT_MS = 3000;
/**
 * Then how long it waits for its view to be on screen (`viewShown`): the others' pages take the
 * announcement in (check, write to their copy, render) while the newcomer's view renders, on the same
 * machine's cores, if it goes at once (decision 0024).
 */
const JOIN_NOTE_VIEW_WAIT_MS = 150;



export interface SessionConnectionOptions {
  /** For tests: peer connections, timers and timeouts of the mesh. */
  mesh?: Omit<MeshProviderOptions, 'signaling'>;
  /** The tab's key pair, when the page made it already (the Join Us page does, before the handle). */
  keys?: TabKeys;
  /** The socket is attached already: the answer came with the handle (`handle:login`'s `attached`). */
  attached?: AttachResult;
  /** What the server said before this connection listened (lib/client/socket.ts `captureEvents`). */
  heardBefore?: () => [string, unknown][];
  /** For tests: how long the arrival note waits for a view on screen. @default JOIN_NOTE_VIEW_WAIT_MS */
  viewWaitMs?: number;
}

const sameSet = (a: ReadonlySet<string>, b: ReadonlySet<string>) => a.size === b.size && [...a].every((x) => b.has(x));
const sameMap = (a: ReadonlyMap<string, boolean>, b: ReadonlyMap<string, boolean>) =>
  a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

const emptyMesh: MeshStatus = { peers: [], connected: 0, known: 0, synced: false, confirmedClock: 0, receivingBytes: 0 };

export class SessionConnection {
  readonly doc = new Y.Doc();
  readonly awareness = new Awareness(this.doc);
  /** Who wrote what: the session's directory and the signatures checked against it (decision 0010). */
  readonly auth: Authorship;
  /** The tab's key pair; null where WebCrypto is missing (not a secure context). */
  private readonly keys: Promise<TabKeys | null>;
  private readonly persistence: IndexeddbPersistence | null;
  private readonly releaseLocalCopy: () => void;
  /** Privacy at rest: the copy in this browser was deleted when the session ended or was left. */
  get localCopyDeleted(): boolean {
    return this.persistence !== null && this.isOver();
  }
  private provider: MeshProvider | null;
  /** Voice and screen sharing on the mesh's connections (C7, C8). */
  readonly media: MediaSession;
  /** Our socket is connected and attached: signals can go out. */
  private attached = false;
  private online = typeof navigator === 'undefined' || navigator.onLine !== false;
  /** Our own chat messages not yet confirmed by any peer: entry id → our clock after writing it. */
  private readonly unconfirmed = new Map<string, { clock: number; at: number }>();
  private waitingTimer: ReturnType<typeof setTimeout> | null = null;
  private reattachTimer: ReturnType<typeof setTimeout> | null = null;
  private listeners = new Set<() => void>();
  private snapshot: SessionSnapshot;
  private attach: AttachResult | null = null;
  private destroyed = false;
  private attachFailures = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly offs: (() => void)[] = [];
  /** The session's events by name (listen()), for what was heard before this connection listened. */
  private readonly handlers = new Map<string, (payload: unknown) => void>();

  constructor(
    private readonly socket: ClientSocket,
    readonly sessionId: string,
    private readonly credential: string,
    options: SessionConnectionOptions = {},
  ) {
    mark('joinus:connection');
    this.viewWaitMs = options.viewWaitMs ?? JOIN_NOTE_VIEW_WAIT_MS;
    this.auth = new Authorship(sessionId);
    this.auth.setDirectory(readDirectory(sessionId));
    this.keys = options.keys
      ? Promise.resolve(options.keys)
      : globalThis.crypto?.subtle
        ? tabKeys(sessionId).catch(() => null)
        : Promise.resolve(null);
    this.snapshot = {
      sessionId,
      phase: { kind: 'connecting' },
      me: null,
      reached: new Map(),
      deviceOnline: this.online,
      mesh: emptyMesh,
      connection: { tone: 'warn', text: 'Connecting…', detail: '' },
      waiting: new Set(),
      handles: [],
      directory: this.auth.list(),
      lobby: { enabled: false, waiting: [] },
    };
    // The participant's own copy: survives a reload and outlives the session for the download (S3, S4).
    // The lock that marks the copy as in use is asked for first: a sweep in another tab that runs
    // before it is granted deletes nothing this tab has written (it has written nothing yet), and
    // one that runs after it leaves the copy alone.
    this.releaseLocalCopy = holdLocalCopy(sessionId);
    this.persistence = typeof indexedDB === 'undefined' ? null : new IndexeddbPersistence(localCopyName(sessionId), this.doc);
    // The mesh exists before the first attach answer: the socket is in the room by then, and what the
    // room says before the answer (a peer joining, its first signal) is kept until start().
    this.provider = new MeshProvider(this.doc, this.awareness, {
      appendOnlyRoots: APPEND_ONLY_ROOTS,
      // Every connection gets the voice and screen slots once it is open (decision 0011).
      createPeer: simplePeerFactory({ media: true }),
      ...options.mesh,
      signaling: { send: (to, data) => this.sendSignal(to, data) },
    });
    this.provider.onStatus((mesh) => {
      if (mesh.synced) mark('joinus:synced');
      this.set({ mesh });
      this.refresh();
    });
    const provider = this.provider;
    this.media = new MediaSession({
      links: () => this.provider?.mediaLinks() ?? [],
      peers: () => this.provider?.knownPeers() ?? new Map(),
      onLinks: (listener) => provider.onStatus(listener),
      awareness: this.awareness,
      auth: this.auth,
      me: () => this.snapshot.me,
    });
    // Names in the connection status come from the directory; who is here from verified awareness.
    this.offs.push(this.auth.subscribe(this.refresh), this.auth.subscribeDirectory(this.refresh));
    this.awareness.on('change', this.refresh);
    this.listen();
    // In the same task as listen(): nothing said in between is missed or heard twice.
    for (const [event, payload] of options.heardBefore?.() ?? []) this.handlers.get(event)?.(payload);
    if (socket.connected) void this.attachNow(options.attached);
  }

  /** The mesh's signaling port: what became of a signal decides what the mesh does next. */
  private async sendSignal(to: string, data: Record<string, unknown>): Promise<SignalOutcome> {
    if (!this.attached || !this.socket.connected) return 'unattached';
    const r = await request(this.socket, 'signal:send', { sessionId: this.sessionId, to, data });
    if (r.ok) return 'sent';
    switch (r.error.reason) {
      case 'peer_away':
        return 'away';
      case 'not_found':
        return 'gone';
      case 'forbidden':
        // The server no longer counts us attached (it may have restarted our attachment): attach again.
        this.attached = false;
        this.scheduleReattach();
        return 'unattached';
      default:
        return 'failed';
    }
  }

  private scheduleReattach(): void {
    if (this.reattachTimer || this.destroyed) return;
    this.reattachTimer = setTimeout(() => {
      this.reattachTimer = null;
      if (this.socket.connected && !this.attached) void this.attachNow();
    }, 0);
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): SessionSnapshot => this.snapshot;

  /**
   * The snapshot changes at once; the views hear of it once per turn of the event loop (a microtask;
   * in sync, a task), however many parts of it changed in that turn: each notice is a render of the
   * whole session view, and a connection opening changes the status, the links and the awareness
   * together.
   *
   * While a participant in sync has a connection being set up (someone is joining), the notices wait
   * until it is open or failed, at most HOLD_WHILE_DIALLING_MS: the newcomer's arrival (its peer,
   * directory entry and the agent's handle list, three messages) would otherwise re-render the view
   * three times while the offer or answer the newcomer waits for sits behind them on this main
   * thread (decision 0014). What arrives over the data channels (chat, forms, drawing) reaches the
   * views through their own parts of the document and is never held.
   */
  private notify: 'idle' | 'queued' | 'held' = 'idle';
  private heldSince = 0;
  private holdTimer: ReturnType<typeof setTimeout> | null = null;
  /** Whether the views were last told of a session in sync. */
  private viewsSynced = false;
  /** Until when a newcomer's peer is expected (ARRIVAL_MS after its directory entry or its handle's use). */
  private arrivingUntil = 0;
  private arriving(): void {
    this.arrivingUntil = Date.now() + ARRIVAL_MS;
  }
  private set(patch: Partial<SessionSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    if (this.notify !== 'idle') {
      // Held: a change of the links may be the one that ends the wait.
      if (this.notify === 'held' && patch.mesh) this.queueNotify();
      return;
    }
    this.queueNotify();
  }

  private queueNotify(): void {
    if (this.notify === 'idle') this.notify = 'queued';
    // In sync, the next task rather than a microtask: a newcomer's arrival is several messages, the
    // agent's handle list first, and the views should not render between them.
    if (this.viewsSynced) setTimeout(this.notifyViews, 0);
    else queueMicrotask(this.notifyViews);
  }

  private readonly notifyViews = () => {
    if (this.notify === 'idle') return;
    const mesh = this.snapshot.mesh;
    // Only views that have shown the session in sync wait: a newcomer's hear of its first sync at once.
    const now = Date.now();
    const arriving = now < this.arrivingUntil;
    // A link counts as being set up until the newcomer's sync step 1 has been answered: the answer is
    // what the newcomer's first sync waits for, and it would otherwise wait behind the render.
    const dialling = !this.destroyed && this.viewsSynced && (arriving || mesh.peers.some((p) => p.link === 'connecting' || (p.link === 'direct' && !p.answered)));
    if (dialling) {
      if (this.notify !== 'held') this.heldSince = now;
      const left = HOLD_WHILE_DIALLING_MS - (now - this.heldSince);
      if (left > 0) {
        this.notify = 'held';
        // Looked at again when the wait is over, or the arrival's window, whichever is first (a link
        // opening, a change of the mesh, looks again at once).
        if (this.holdTimer) clearTimeout(this.holdTimer);
        this.holdTimer = setTimeout(
          () => {
            this.holdTimer = null;
            this.notifyViews();
          },
          arriving ? Math.min(left, this.arrivingUntil - now) : left,
        );
        return;
      }
    }
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    this.notify = 'idle';
    this.viewsSynced = mesh.synced;
    for (const l of this.listeners) l();
  };

  /**
   * Several things change at once (a connection opens: status, links, awareness, a sync): the
   * snapshot is worked out once, after them, rather than once for each.
   */
  private refreshQueued = false;
  private readonly refresh = () => {
    if (this.refreshQueued || this.destroyed) return;
    this.refreshQueued = true;
    queueMicrotask(() => {
      this.refreshQueued = false;
      this.refreshNow();
    });
  };

  private refreshNow(): void {
    if (this.destroyed) return;
    const mesh = this.snapshot.mesh;
    // Reached means reachable now, directly or through others (C9), not just "has a presence state".
    const linked = new Set(mesh.peers.filter((p) => p.link === 'direct' || p.link === 'relayed').map((p) => p.peerId));
    const reached = new Map<string, boolean>();
    const states = this.awareness.getStates() as Map<number, Record<string, unknown>>;
    for (const p of verifiedPresence(states, this.doc.clientID, this.auth)) {
      const claim = readClaim(p.state);
      if (!claim || !linked.has(claim.peerId)) continue;
      reached.set(p.participantId, (reached.get(p.participantId) ?? false) || p.state.typing === true);
    }
    const meId = this.snapshot.me?.participantId ?? null;
    const nameOf = (id: string) => this.auth.who(id)?.name;

    // Our messages that no peer has confirmed, once they have had a moment to arrive.
    const now = Date.now();
    const waiting = new Set<string>();
    let recheckInMs: number | null = null;
    for (const [id, w] of this.unconfirmed) {
      if (mesh.confirmedClock >= w.clock) this.unconfirmed.delete(id);
      else if (now - w.at >= WAITING_AFTER_MS || !this.online) waiting.add(id);
      else recheckInMs = Math.min(recheckInMs ?? WAITING_AFTER_MS, WAITING_AFTER_MS - (now - w.at));
    }
    if (recheckInMs !== null && !this.waitingTimer) {
      this.waitingTimer = setTimeout(() => {
        this.waitingTimer = null;
        this.refresh();
      }, recheckInMs + 10);
    }

    const connection = describeConnection({
      phase: this.snapshot.phase.kind,
      signaling: this.attached && this.socket.connected,
      online: this.online,
      others: othersFrom(mesh.peers, meId, nameOf),
      synced: mesh.synced,
      waiting: waiting.size,
      receivingBytes: mesh.receivingBytes,
    });
    const prev = this.snapshot;
    const directory = this.auth.list();
    const same =
      prev.directory === directory &&
      sameMap(prev.reached, reached) &&
      sameSet(prev.waiting, waiting) &&
      prev.deviceOnline === this.online &&
      prev.connection.text === connection.text &&
      prev.connection.detail === connection.detail &&
      prev.connection.tone === connection.tone;
    if (same) return;
    this.set({
      directory,
      reached: sameMap(prev.reached, reached) ? prev.reached : reached,
      waiting: sameSet(prev.waiting, waiting) ? prev.waiting : waiting,
      deviceOnline: this.online,
      connection,
    });
  }

  private listen(): void {
    const s = this.socket;
    const mine = <T extends { sessionId: string }>(fn: (p: T) => void) => (p: T) => {
      if (p.sessionId === this.sessionId) fn(p);
    };
    const onConnect = () => void this.attachNow();
    const onDisconnect = () => {
      this.attached = false;
      if (this.snapshot.phase.kind === 'live') this.set({ phase: { kind: 'reconnecting' } });
      this.refresh();
    };
    const onSignal = mine<{ sessionId: string; from: string; data: Record<string, unknown> }>((p) =>
      this.provider?.signal(p.from, p.data),
    );
    const onJoined = mine<{ sessionId: string; peerId: string; participantId: string }>((p) => {
      // From here the link being set up holds the views, not the arrival.
      this.arrivingUntil = 0;
      this.provider?.peerJoined(p.peerId, p.participantId);
    });
    const onDirectory = mine<{ sessionId: string } & DirectoryEntry>(({ sessionId: _s, ...entry }) => {
      if (!this.auth.list().some((e) => e.participantId === entry.participantId)) this.arriving();
      this.auth.addEntry(entry);
      keepDirectory(this.sessionId, this.auth.list());
    });
    const onLeft = mine<{ sessionId: string; peerId: string }>((p) => this.provider?.peerLeft(p.peerId));
    const onHandles = mine<{ sessionId: string; handles: ReservedHandle[] }>((p) => {
      // A handle gone from the list was most likely just used to log in: its party is on the way.
      if (this.snapshot.handles.some((h) => !p.handles.some((n) => n.handle === h.handle))) this.arriving();
      this.set({ handles: p.handles });
    });
    const onLobby = mine<{ sessionId: string; enabled: boolean; waiting: LobbyEntry[] }>((p) =>
      this.set({ lobby: { enabled: p.enabled, waiting: p.waiting } }),
    );
    const onAdmitted = mine<{ sessionId: string }>(() => this.leaveLobby());
    const onDeclined = mine<{ sessionId: string }>(() =>
      this.finish('refused', 'The agent did not let you in. The handle cannot be used again.'),
    );
    const onEnded = mine<{ sessionId: string; reason: EndReason }>((p) => {
      // Written (signed: a moment) before the mesh closes, so it still goes out to those it reaches.
      void this.record('session-ended', 'session_ended', describeEndReason(p.reason)).finally(() =>
        this.finish('ended', describeEndReason(p.reason)),
      );
    });
    const onRemoved = mine<{ sessionId: string; participantId: string }>((p) => {
      if (p.participantId === this.snapshot.me?.participantId) {
        this.finish('removed', 'The agent removed you from the session.');
        return;
      }
      this.recordGone(p.participantId, 'removed');
    });
    const onPartyLeft = mine<{ sessionId: string; participantId: string }>((p) => this.recordGone(p.participantId, 'left'));
    // One table, registered and removed in one place; `satisfies` keeps names and payloads typed.
    const handlers = {
      'signal:recv': onSignal,
      'peer:joined': onJoined,
      'directory:add': onDirectory,
      'peer:left': onLeft,
      'handles:update': onHandles,
      'lobby:update': onLobby,
      'lobby:admitted': onAdmitted,
      'lobby:declined': onDeclined,
      'session:ended': onEnded,
      'participant:removed': onRemoved,
      'participant:left': onPartyLeft,
    } satisfies Partial<ServerToClientEvents>;
    for (const [event, handler] of Object.entries(handlers)) this.handlers.set(event, handler as (payload: unknown) => void);
    const entries = [['connect', onConnect], ['disconnect', onDisconnect], ...Object.entries(handlers)] as const;
    const untyped = s as unknown as { on(e: string, h: unknown): void; off(e: string, h: unknown): void };
    for (const [event, handler] of entries) untyped.on(event, handler);
    this.offs.push(() => {
      for (const [event, handler] of entries) untyped.off(event, handler);
    });
    if (typeof window !== 'undefined') {
      const onOnline = () => this.setOnline(true);
      const onOffline = () => this.setOnline(false);
      // A tab that goes away (closed, reloaded, navigated) leaves the room at once rather than after
      // the grace period, so the others do not wait for it. A restored tab attaches again.
      const onPageHide = () => {
        if (this.attached && this.socket.connected && !this.isOver()) {
          this.attached = false;
          void request(this.socket, 'session:detach', { sessionId: this.sessionId });
        }
      };
      const onPageShow = (e: PageTransitionEvent) => {
        if (e.persisted && this.socket.connected) void this.attachNow();
      };
      window.addEventListener('online', onOnline);
      window.addEventListener('offline', onOffline);
      window.addEventListener('pagehide', onPageHide);
      window.addEventListener('pageshow', onPageShow);
      this.offs.push(() => {
        window.removeEventListener('online', onOnline);
        window.removeEventListener('offline', onOffline);
        window.removeEventListener('pagehide', onPageHide);
        window.removeEventListener('pageshow', onPageShow);
      });
    }
  }

  /** The browser's network came or went (navigator.onLine). */
  private setOnline(online: boolean): void {
    if (this.online === online) return;
    this.online = online;
    if (online) {
      this.provider?.reconnect();
      if (!this.socket.connected) this.socket.connect();
    } else {
      // The connections are dead in fact; close them now so they are made afresh when we are back.
      this.provider?.suspend();
    }
    this.refresh();
  }

  /** Attach this socket to the session; `answered`: it is attached already, here is the answer. */
  private async attachNow(answered?: AttachResult): Promise<void> {
    if (this.destroyed || this.isOver()) return;
    // The socket is in the room before the answer comes, maybe under a new peer id: what the room
    // says meanwhile waits for start(), so it is not handled (and lost) under the old one.
    this.provider?.holdSignalingUntilStart();
    const keys = await this.keys;
    if (this.destroyed || this.isOver()) return;
    if (!keys) {
      return this.finish(
        'refused',
        'This browser cannot check who wrote what in the session here: it needs a secure connection (an https address). Ask the agent for the https address of this page.',
      );
    }
    const resume = this.provider?.peerId;
    mark('joinus:attach-sent');
    const r: Ack<AttachResult> = answered
      ? { ok: true, ...answered }
      : await request(this.socket, 'session:attach', {
          credential: this.credential,
          publicKey: keys.publicKey,
          ...(resume ? { peerId: resume } : {}),
        });
    if (this.destroyed || this.isOver()) return;
    if (!r.ok) {
      if (r.error.reason === 'session_ended') return this.finish('ended', r.error.message);
      if (r.error.reason === 'removed') return this.finish('removed', r.error.message);
      if (r.error.reason === 'left') return this.finish('left');
      if (r.error.reason === 'waiting') return this.waitInLobby();
      if (r.error.reason === 'unauthorized' && (this.attach || wasAdmitted(this.sessionId))) {
        // Admitted with this credential before (in this page, or before a reload of this tab),
        // unknown now: the server lost what it held (an embedded server restarted; with Redis,
        // nodes restart without forgetting), or forgot the session long after it ended.
        return this.finish('ended', SERVER_FORGOT);
      }
      if (r.error.reason === 'internal' || r.error.reason === 'rate_limited' || r.error.reason === 'unavailable') {
        // Transient: try again with a growing pause (a reconnect of the socket also brings us back).
        this.set({ phase: { kind: 'reconnecting' } });
        const delayMs = Math.min(10_000, 500 * 2 ** this.attachFailures++);
        if (this.retryTimer) clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          if (this.socket.connected) void this.attachNow();
        }, delayMs);
        return;
      }
      return this.finish('refused', r.error.message);
    }
    const { ok: _ok, ...a } = r;
    this.attach = a;
    this.attachFailures = 0;
    this.attached = this.socket.connected;
    mark('joinus:attach');
    rememberAdmitted(this.sessionId);
    const me = { participantId: a.participantId, name: a.name, role: a.role };
    this.auth.setDirectory(a.directory);
    keepDirectory(this.sessionId, this.auth.list());
    this.auth.setSigner(a.participantId, keys);
    this.set({ me, phase: { kind: 'live' }, handles: a.handles ?? this.snapshot.handles, lobby: a.lobby ?? this.snapshot.lobby });
    // The presence signature says this client id is our participant's: others ignore a state without.
    // It is made while the mesh dials (a connection takes far longer than a signature), so it is
    // there by the time the first data channel opens.
    const presenceSig = this.auth.signer!.sign(presencePayload(this.doc.clientID));
    mark('joinus:mesh-start');
    this.provider?.start(a.peerId, a.peers, { iceServers: a.iceServers, iceTransportPolicy: a.iceTransportPolicy });
    this.refresh();
    const sig = await presenceSig;
    if (this.destroyed || this.isOver()) return;
    // Keep what the mesh published (its links) and whether we are typing: a re-attach changes neither.
    const before = this.awareness.getLocalState() ?? {};
    this.awareness.setLocalState({ ...before, participantId: a.participantId, presenceSig: sig, typing: before.typing === true });
    await this.persistence?.whenSynced;
    // Announce ourselves after the first sync, so the entry lands after the history we join, and once
    // our view is on screen.
    await this.whenSynced(JOIN_NOTE_WAIT_MS);
    await this.whenViewShown(this.viewWaitMs);
    if (this.destroyed || this.isOver()) return;
    await this.record(`joined-${a.participantId}`, 'joined', joinedText(a.name, a.role));
    this.refresh();
  }

  /**
   * Admission lobby: wait for the agent. `lobby:wait` subscribes this connection to the decision; a
   * decision made while we were away is its answer (admitted: attach now).
   */
  private async waitInLobby(): Promise<void> {
    this.set({ phase: { kind: 'waiting' } });
    this.refresh();
    const r = await request(this.socket, 'lobby:wait', { credential: this.credential });
    if (this.destroyed || this.isOver() || this.snapshot.phase.kind !== 'waiting') return;
    if (r.ok) {
      if (r.admitted) this.leaveLobby();
      return;
    }
    if (r.error.reason === 'session_ended') return this.finish('ended', r.error.message);
    if (r.error.reason === 'declined' || r.error.reason === 'unauthorized') return this.finish('refused', r.error.message);
    // No answer (a timeout): ask again in a while; a reconnect asks again by itself too.
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.socket.connected && this.snapshot.phase.kind === 'waiting') void this.waitInLobby();
    }, 2000);
  }

  /** Let in: attach once, whichever of the announcement and the `lobby:wait` answer comes first. */
  private leaveLobby(): void {
    if (this.snapshot.phase.kind !== 'waiting') return;
    this.set({ phase: { kind: 'connecting' } });
    void this.attachNow();
  }

  private readonly viewWaitMs: number;
  private shown = false;
  private readonly onShown = new Set<() => void>();
  /** A view of this connection is on screen (its first commit): see JOIN_NOTE_VIEW_WAIT_MS. */
  viewShown(): void {
    this.shown = true;
    for (const done of this.onShown) done();
    this.onShown.clear();
  }

  private whenViewShown(maxWaitMs: number): Promise<void> {
    if (this.shown) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.onShown.delete(done);
        resolve();
      };
      const timer = setTimeout(done, maxWaitMs);
      this.onShown.add(done);
    });
  }

  /** Resolves once the mesh is in sync (nobody to sync with counts), at the latest after `maxWaitMs`. */
  private async whenSynced(maxWaitMs: number): Promise<void> {
    await this.whenMesh((s) => s.synced, maxWaitMs, false);
  }

  /**
   * Resolves once the mesh is in sync (nobody to sync with counts) or the session is not live (the
   * lobby, refused, ended), at the latest after `maxWaitMs`: the page joining a session waits for
   * this before building its view (decision 0014). True when it ended in sync.
   */
  whenInSync(maxWaitMs: number): Promise<boolean> {
    return this.whenMesh((s) => s.synced, maxWaitMs, true);
  }

  /**
   * `reached` true of the mesh's status, at the latest after `maxWaitMs`; with `phaseEnds`, also as soon
   * as the session is not (or no longer) connecting or live (the lobby, refused, ended, …).
   */
  private whenMesh(reached: (s: MeshStatus) => boolean, maxWaitMs: number, phaseEnds: boolean): Promise<boolean> {
    const elsewhere = () => phaseEnds && this.snapshot.phase.kind !== 'connecting' && this.snapshot.phase.kind !== 'live';
    return new Promise((resolve) => {
      const provider = this.provider;
      if (!provider) return resolve(false);
      if (reached(provider.status)) return resolve(true);
      if (elsewhere()) return resolve(false);
      const done = (inSync: boolean) => {
        clearTimeout(timer);
        offMesh();
        offPhase();
        resolve(inSync);
      };
      const timer = setTimeout(() => done(false), maxWaitMs);
      const offMesh = provider.onStatus((s) => {
        if (reached(s)) done(true);
      });
      // In the lobby, refused, ended: nothing to wait for.
      const offPhase = phaseEnds
        ? this.subscribe(() => {
            if (elsewhere()) done(false);
          })
        : () => {};
    });
  }

  private isOver(): boolean {
    const k = this.snapshot.phase.kind;
    return k === 'ended' || k === 'removed' || k === 'left' || k === 'refused';
  }

  private finish(kind: 'ended' | 'removed' | 'refused', message: string): void;
  private finish(kind: 'left'): void;
  private finish(kind: 'ended' | 'removed' | 'refused' | 'left', message = ''): void {
    if (this.isOver()) return;
    // Microphone and screen are released the moment the session is over for us.
    this.media.stopAll();
    this.provider?.destroy();
    this.provider = null;
    const phase: Phase =
      kind === 'left'
        ? { kind }
        : kind === 'ended'
          ? { kind, message: `${Messages.sessionEnded}. ${message}`.trim() }
          : { kind, message };
    this.attached = false;
    // Privacy at rest: the session is over for us, so this browser keeps no copy of it. The document
    // stays in this page's memory, for the transcript download the page offers, until it is closed.
    void this.persistence?.clearData().catch(() => {});
    dropTabKeys(this.sessionId);
    keepDirectory(this.sessionId, null);
    this.set({ phase, handles: [], mesh: { ...emptyMesh, synced: this.snapshot.mesh.synced } });
    this.refresh();
  }

  /**
   * Write a system entry under a fixed id. Several participants may record the same event (the one
   * it happened to, and those who stay); the id makes it one entry in everyone's transcript.
   */
  private async record(id: string, event: SystemEvent, text: string): Promise<void> {
    const me = this.snapshot.me;
    const signer = this.auth.signer;
    // Only lines this participant may write (features/transcript/doc.ts): the others would not show.
    if (!me || !signer || !systemLineAllowed({ id, event, text, role: me.role, authorId: me.participantId, authorName: me.name })) return;
    await this.inOrder(() => appendOnce(this.doc, this.auth, signer, { kind: 'system', event, id, text }, Date.now()));
  }

  /** Transcript writes sign one after another, so they land in the order they were made. */
  private writes: Promise<unknown> = Promise.resolve();
  private inOrder<T>(write: () => Promise<T>): Promise<T> {
    const next = this.writes.then(write);
    this.writes = next.catch(() => undefined);
    return next;
  }

  /** S5: a joined party left or was removed; the agent, who stays, keeps the record. */
  private recordGone(participantId: string, gone: 'left' | 'removed'): void {
    const who = this.auth.who(participantId);
    this.auth.markGone(participantId, gone);
    if (!who || who.gone === gone) return;
    // The same words whoever writes it first: the agent (remove()) or the party itself (leave()).
    const agentName = this.auth.list().find((p) => p.role === 'agent')?.name ?? 'The agent';
    void this.record(
      `${gone}-${participantId}`,
      gone,
      gone === 'left' ? leftText(who.name) : `${agentName} removed ${who.name} from the session`,
    );
  }

  private author() {
    const me = this.snapshot.me;
    if (!me) throw new Error('not attached');
    return me;
  }

  /** What this tab writes with: null until the first attach. */
  get signer(): Signer | null {
    return this.auth.signer;
  }

  private requireSigner(): Signer {
    const signer = this.auth.signer;
    if (!signer) throw new Error('not attached');
    return signer;
  }

  async sendChat(text: string): Promise<void> {
    const signer = this.requireSigner();
    const entry = await this.inOrder(() => appendEntry(this.doc, signer, { kind: 'chat', text }, Date.now(), newId));
    // Delivered once some peer's state vector holds our clock as it is after this write.
    this.unconfirmed.set(entry.id, { clock: Y.getState(this.doc.store, this.doc.clientID), at: Date.now() });
    this.setTyping(false);
    this.refresh();
  }

  /** A system entry in the transcript (C1), written by a feature or the agent's controls. */
  async note(text: string, event: SystemEvent): Promise<void> {
    const signer = this.requireSigner();
    await this.inOrder(() => appendEntry(this.doc, signer, { kind: 'system', text, event }, Date.now(), newId));
  }

  /** Who we are in the session, for a feature's writes; null until the first attach. */
  get me(): Author | null {
    return this.snapshot.me;
  }

  /**
   * A request to the signaling server on a feature's behalf (a feature never opens a transport).
   * Refused while we are not in the session.
   */
  async call<E extends 'page:check'>(event: E, payload: Payload<E>): Promise<Ack<AckData[E]>> {
    if (this.isOver()) return { ok: false, error: { reason: 'forbidden', message: 'This session is over.' } };
    return request(this.socket, event, payload);
  }

  /**
   * A feature's field of our awareness state (what we are doing now, not the document): sent to the
   * others at once, gone when we leave. Fields of the connection (ids, links, typing) are not a
   * feature's to set.
   */
  setActivity(field: 'formField' | 'pointer', value: unknown): void {
    if (!this.awareness.getLocalState()) return;
    const before = this.awareness.getLocalState()?.[field];
    if (JSON.stringify(before) !== JSON.stringify(value)) this.awareness.setLocalStateField(field, value);
  }

  setTyping(typing: boolean): void {
    const state = this.awareness.getLocalState();
    if (state && state.typing !== typing) this.awareness.setLocalStateField('typing', typing);
  }

  /**
   * The "ended" and "left" entries are written only once the server has confirmed: a refused End
   * must not leave a false entry (whose fixed id would then hide the true one). Those who stay write
   * the same entry when the server tells them, so it reaches everyone even if ours does not.
   */
  async end() {
    const me = this.author();
    const r = await request(this.socket, 'session:end', { sessionId: this.sessionId });
    if (r.ok) {
      await this.record('session-ended', 'session_ended', endedByText(me.name));
      this.finish('ended', 'You ended the session.');
    }
    return r;
  }

  async leave() {
    const me = this.author();
    const r = await request(this.socket, 'session:leave', { sessionId: this.sessionId });
    if (r.ok) {
      await this.record(`left-${me.participantId}`, 'left', leftText(me.name));
      this.auth.markGone(me.participantId, 'left');
      this.finish('left');
    }
    return r;
  }

  /** Admission lobby (agent): "Ask before admitting" on or off. */
  async setLobby(enabled: boolean) {
    return request(this.socket, 'lobby:set', { sessionId: this.sessionId, enabled });
  }

  /** Admission lobby (agent): let a waiting party in, or not. */
  async decide(participantId: string, admit: boolean) {
    return request(this.socket, 'lobby:decide', { sessionId: this.sessionId, participantId, admit });
  }

  async remove(participantId: string, name: string) {
    const r = await request(this.socket, 'participant:remove', { sessionId: this.sessionId, participantId });
    if (r.ok) {
      this.auth.markGone(participantId, 'removed');
      await this.record(`removed-${participantId}`, 'removed', `${this.author().name} removed ${name} from the session`);
    }
    return r;
  }

  get title(): string {
    const customer = this.auth.list().find((p) => p.role === 'customer');
    return customer ? `session with ${customer.name}` : `session ${this.sessionId.slice(0, 8)}`;
  }

  get attachInfo(): AttachResult | null {
    return this.attach;
  }

  destroy(): void {
    if (this.destroyed) return;
    // The tab's socket outlives this view (it is shared across navigation): leave the room
    // explicitly, or the server would count us present and S4's grace clock would never start.
    if (this.attach && !this.isOver() && this.socket.connected) {
      void request(this.socket, 'session:detach', { sessionId: this.sessionId });
    }
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.waitingTimer) clearTimeout(this.waitingTimer);
    if (this.reattachTimer) clearTimeout(this.reattachTimer);
    this.media.destroy();
    this.provider?.destroy();
    this.destroyed = true;
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    for (const off of this.offs) off();
    this.awareness.off('change', this.refresh);
    if (!this.localCopyDeleted) void this.persistence?.destroy().catch(() => {});
    this.releaseLocalCopy();
    this.awareness.destroy();
    this.doc.destroy();
    this.listeners.clear();
  }
}
