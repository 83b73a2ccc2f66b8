/**
 * Peer-to-peer sync of one Y.Doc (and its awareness) over WebRTC data channels, full mesh, with
 * signaling carried by our own authenticated socket.io server. It keeps y-webrtc's wire messages
 * (y-protocols sync and awareness) but owns the parts y-webrtc gets wrong for us: signaling only
 * among admitted peers, newcomers dial at once (no room broadcast round), and messages are chunked
 * below Chromium's data-channel limit. See docs/decisions/0001-peer-sync-layer.md.
 */
import SimplePeer from 'simple-peer';
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import { frames, Reassembler } from './framing';

const MESSAGE_SYNC = 0;
const MESSAGE_AWARENESS = 1;
/** The most one peer may make us buffer for a single message (a whole large document). */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const REDIAL_MS = 1000;
/** A connection not open by then is given up and dialled again (by the lower peer id). */
const CONNECT_TIMEOUT_MS = 15_000;

export interface SignalingPort {
  send(to: string, data: Record<string, unknown>): void;
}

export interface MeshProviderOptions {
  signaling: SignalingPort;
  iceServers: RTCIceServer[];
  /** A WebRTC implementation for Node (e.g. @roamhq/wrtc); browsers use their own. */
  wrtc?: SimplePeer.Options['wrtc'];
}

export interface MeshStatus {
  /** Peers with an open data channel. */
  connected: number;
  /** Peers we know are in the room. */
  known: number;
  /** True once a sync step 2 arrived from some peer, or there was nobody to sync with. */
  synced: boolean;
}

class PeerConn {
  readonly peer: SimplePeer.Instance;
  readonly reassembler = new Reassembler(MAX_MESSAGE_BYTES);
  connected = false;
  /**
   * Messages produced before this side's 'connect' fired. The remote side may open first and
   * send us sync step 1 at once; our step 2 reply must wait here, not be dropped, or the remote
   * misses our state and every later update of ours that builds on it.
   */
  readonly pending: Uint8Array[] = [];
  connectTimer: ReturnType<typeof setTimeout> | null = null;
  /** Awareness client ids this peer told us about: removed when the connection goes. */
  readonly clients = new Set<number>();

  constructor(
    readonly remotePeerId: string,
    initiator: boolean,
    opts: MeshProviderOptions,
  ) {
    this.peer = new SimplePeer({
      initiator,
      trickle: true,
      config: { iceServers: opts.iceServers },
      ...(opts.wrtc ? { wrtc: opts.wrtc } : {}),
    });
  }
}

type Listener = (status: MeshStatus) => void;

export class MeshProvider {
  private readonly conns = new Map<string, PeerConn>();
  private readonly known = new Set<string>();
  private readonly listeners = new Set<Listener>();
  private readonly redials = new Map<string, ReturnType<typeof setTimeout>>();
  private selfPeerId: string | null = null;
  private synced = false;
  private destroyed = false;

  constructor(
    readonly doc: Y.Doc,
    readonly awareness: awarenessProtocol.Awareness,
    private readonly opts: MeshProviderOptions,
  ) {
    doc.on('update', this.onDocUpdate);
    awareness.on('update', this.onAwarenessUpdate);
  }

  get status(): MeshStatus {
    let connected = 0;
    for (const c of this.conns.values()) if (c.connected) connected++;
    return { connected, known: this.known.size, synced: this.synced };
  }

  onStatus(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emitStatus(): void {
    const s = this.status;
    for (const l of this.listeners) l(s);
  }

  /**
   * (Re)enter the room as `selfPeerId`, dialling every peer already there. Any previous mesh is torn
   * down: after a signaling reconnect our old peer id is gone for everyone else.
   */
  start(selfPeerId: string, peers: string[]): void {
    if (this.destroyed) return;
    this.closeAll();
    this.selfPeerId = selfPeerId;
    this.synced = peers.length === 0;
    for (const p of peers) {
      this.known.add(p);
      this.dial(p, true);
    }
    this.emitStatus();
  }

  /** Another peer entered the room; it will dial us. */
  peerJoined(peerId: string): void {
    if (peerId === this.selfPeerId) return;
    this.known.add(peerId);
    this.emitStatus();
  }

  peerLeft(peerId: string): void {
    this.known.delete(peerId);
    this.drop(peerId);
    this.emitStatus();
  }

  /** A signaling message relayed by the server from an admitted peer of this session. */
  signal(from: string, data: Record<string, unknown>): void {
    if (this.destroyed || from === this.selfPeerId) return;
    this.known.add(from);
    let conn = this.conns.get(from);
    if (data.type === 'offer') {
      // We never renegotiate, so an offer always means the other side started afresh (it redialled
      // after its end of our connection broke): answer on a new connection, not the stale one.
      conn = this.dial(from, false);
    } else if (!conn) {
      return;
    }
    try {
      conn.peer.signal(data as unknown as SimplePeer.SignalData);
    } catch {
      this.drop(from);
    }
  }

  private dial(remote: string, initiator: boolean): PeerConn {
    this.drop(remote);
    const conn = new PeerConn(remote, initiator, this.opts);
    this.conns.set(remote, conn);
    const { peer } = conn;
    peer.on('signal', (data: SimplePeer.SignalData) => {
      if (this.conns.get(remote) === conn) this.opts.signaling.send(remote, data as unknown as Record<string, unknown>);
    });
    peer.on('connect', () => {
      if (this.conns.get(remote) !== conn) return;
      conn.connected = true;
      if (conn.connectTimer) clearTimeout(conn.connectTimer);
      // Both sides open with sync step 1 and their awareness: one round trip to synced.
      const sync = encoding.createEncoder();
      encoding.writeVarUint(sync, MESSAGE_SYNC);
      syncProtocol.writeSyncStep1(sync, this.doc);
      this.send(conn, encoding.toUint8Array(sync));
      if (this.awareness.getLocalState() !== null) this.send(conn, this.awarenessMessage([this.doc.clientID]));
      for (const message of conn.pending.splice(0)) this.send(conn, message);
      this.emitStatus();
    });
    peer.on('data', (data: Uint8Array) => {
      if (this.conns.get(remote) !== conn) return;
      try {
        const message = conn.reassembler.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        if (message) this.receive(conn, message);
      } catch {
        // A peer that sends garbage is cut off; it can dial again with a clean slate.
        this.drop(remote);
        this.scheduleRedial(remote);
      }
    });
    const gone = () => {
      if (this.conns.get(remote) !== conn) return;
      this.drop(remote);
      this.scheduleRedial(remote);
    };
    conn.connectTimer = setTimeout(() => {
      if (!conn.connected) gone();
    }, CONNECT_TIMEOUT_MS);
    peer.on('close', gone);
    peer.on('error', gone);
    return conn;
  }

  /** After a broken connection, the lower peer id dials again if the other is still in the room. */
  private scheduleRedial(remote: string): void {
    if (this.destroyed || !this.selfPeerId || this.selfPeerId > remote || this.redials.has(remote)) return;
    this.redials.set(
      remote,
      setTimeout(() => {
        this.redials.delete(remote);
        if (!this.destroyed && this.known.has(remote) && !this.conns.has(remote)) this.dial(remote, true);
      }, REDIAL_MS),
    );
  }

  private drop(remote: string): void {
    const conn = this.conns.get(remote);
    if (!conn) return;
    this.conns.delete(remote);
    if (conn.connectTimer) clearTimeout(conn.connectTimer);
    const gone = [...conn.clients].filter((c) => c !== this.doc.clientID);
    if (gone.length > 0) awarenessProtocol.removeAwarenessStates(this.awareness, gone, conn);
    try {
      conn.peer.destroy();
    } catch {
      /* already torn down */
    }
    this.emitStatus();
  }

  private receive(conn: PeerConn, message: Uint8Array): void {
    const decoder = decoding.createDecoder(message);
    const type = decoding.readVarUint(decoder);
    if (type === MESSAGE_SYNC) {
      const reply = encoding.createEncoder();
      encoding.writeVarUint(reply, MESSAGE_SYNC);
      const syncType = syncProtocol.readSyncMessage(decoder, reply, this.doc, conn);
      if (syncType === syncProtocol.messageYjsSyncStep2 && !this.synced) {
        this.synced = true;
        this.emitStatus();
      }
      if (encoding.length(reply) > 1) this.send(conn, encoding.toUint8Array(reply));
    } else if (type === MESSAGE_AWARENESS) {
      const update = decoding.readVarUint8Array(decoder);
      // Remember whose states came over this connection, so they go when it goes.
      const d = decoding.createDecoder(update);
      const n = decoding.readVarUint(d);
      const clients: number[] = [];
      for (let i = 0; i < n; i++) {
        clients.push(decoding.readVarUint(d));
        decoding.readVarUint(d);
        decoding.readVarString(d);
      }
      // Nobody speaks for us: an update that claims our own client id is a hostile peer's.
      if (clients.includes(this.doc.clientID)) throw new Error('awareness update for our own client');
      for (const c of clients) conn.clients.add(c);
      awarenessProtocol.applyAwarenessUpdate(this.awareness, update, conn);
    } else {
      throw new Error('unknown message type');
    }
  }

  private send(conn: PeerConn, message: Uint8Array): void {
    if (!conn.connected) {
      conn.pending.push(message);
      return;
    }
    try {
      // write(), not send(): simple-peer's stream side holds frames back while the channel's
      // buffer is above 64 KiB, so a multi-megabyte sync never overflows Chromium's 16 MiB send
      // queue (which would throw and cut the peer off, again and again).
      for (const frame of frames(message)) conn.peer.write(frame);
    } catch {
      this.drop(conn.remotePeerId);
      this.scheduleRedial(conn.remotePeerId);
    }
  }

  /** To open connections only: one still connecting gets everything through sync step 1 on connect. */
  private broadcast(message: Uint8Array): void {
    for (const conn of this.conns.values()) if (conn.connected) this.send(conn, message);
  }

  private awarenessMessage(clients: number[]): Uint8Array {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, MESSAGE_AWARENESS);
    encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(this.awareness, clients));
    return encoding.toUint8Array(e);
  }

  // Full mesh: every peer hears every local change directly, so remote changes are not relayed.
  private readonly onDocUpdate = (update: Uint8Array, origin: unknown) => {
    if (origin instanceof PeerConn) return;
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, MESSAGE_SYNC);
    syncProtocol.writeUpdate(e, update);
    this.broadcast(encoding.toUint8Array(e));
  };

  private readonly onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ) => {
    if (origin instanceof PeerConn) return;
    this.broadcast(this.awarenessMessage([...added, ...updated, ...removed]));
  };

  private closeAll(): void {
    for (const remote of [...this.conns.keys()]) this.drop(remote);
    for (const t of this.redials.values()) clearTimeout(t);
    this.redials.clear();
    this.known.clear();
  }

  destroy(): void {
    if (this.destroyed) return;
    // Tell peers we are gone before the channels close, so our presence disappears at once.
    awarenessProtocol.removeAwarenessStates(this.awareness, [this.doc.clientID], 'local');
    this.destroyed = true;
    this.closeAll();
    this.doc.off('update', this.onDocUpdate);
    this.awareness.off('update', this.onAwarenessUpdate);
    this.listeners.clear();
  }
}
