/**
 * A simulated peer-to-peer network for Node tests of the mesh (lib/p2p): fake peer connections with
 * simple-peer's surface (offer, answer, connect, ordered data, close), and a fake signaling room with
 * the server's semantics (list, joined, left, away, relay). Everything is delivered asynchronously
 * through the global timers, so tests run it under vitest's fake timers (deterministic) or real ones.
 *
 * What it can do that a real network cannot be made to do on demand: block any pair of owners (their
 * connections never open, as behind two strict NATs), cut an open link, delay every message by a
 * random but per-direction FIFO latency, lose the first messages an owner sends on a new connection,
 * and count every connection opened and closed.
 */
import type { PeerFactory, PeerLike } from '../../lib/p2p/peer';
import type { MeshProvider, SignalOutcome, SignalingPort } from '../../lib/p2p/mesh-provider';

type Listener = (...args: never[]) => void;

const pairKey = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`);

export interface FakeNetworkOptions {
  /** Latency of one message from `from` to `to`, drawn per message; deliveries stay in order per direction. @default 0 */
  latencyMs?: (from: string, to: string) => number;
  /** For a relay-only network: gathering completes with no candidates (a refused TURN server). */
  noCandidates?: (owner: string) => boolean;
}

export class FakePeer implements PeerLike {
  private readonly listeners = new Map<string, Listener[]>();
  other: FakePeer | null = null;
  connected = false;
  destroyed = false;
  /** Offers this (non-initiator) peer answered on an open connection: renegotiations. */
  renegotiations = 0;
  readonly token: string;

  constructor(
    private readonly net: FakeNetwork,
    readonly owner: string,
    readonly initiator: boolean,
  ) {
    this.token = `${owner}#${net.nextToken++}`;
    net.byToken.set(this.token, this);
    if (initiator) {
      net.later(() => {
        this.emit('signal', { type: 'offer', sdp: `fake ${this.token}` });
        if (!net.opts.noCandidates?.(owner)) {
          this.emit('signal', { type: 'candidate', candidate: { candidate: `fake-candidate ${this.token}` } });
        }
        this.gatheringDone();
      });
    }
  }

  on(event: string, listener: Listener): void {
    const list = this.listeners.get(event) ?? [];
    list.push(listener);
    this.listeners.set(event, list);
  }

  emit(event: string, ...args: unknown[]): void {
    if (this.destroyed && event !== 'close') return;
    for (const l of this.listeners.get(event) ?? []) (l as (...a: unknown[]) => void)(...args);
  }

  private gatheringDone(): void {
    if (this.net.opts.noCandidates?.(this.owner)) this.emit('iceStateChange', 'checking', 'complete');
  }

  signal(data: Record<string, unknown>): void {
    if (this.destroyed) throw new Error('signal after destroy');
    const sdp = typeof data.sdp === 'string' ? data.sdp : '';
    if (data.type === 'offer') {
      if (this.initiator) throw new Error('an initiator got an offer');
      if (this.connected) {
        // Renegotiation of the open connection: answer, the data channel stays.
        this.renegotiations++;
        this.net.later(() => this.emit('signal', { type: 'answer', sdp: `fake ${this.token}` }));
        return;
      }
      const offerer = this.net.byToken.get(sdp.replace(/^fake /, ''));
      if (!offerer) throw new Error(`unknown offer ${sdp}`);
      this.other = offerer;
      this.net.later(() => {
        this.emit('signal', { type: 'answer', sdp: `fake ${this.token}` });
        this.gatheringDone();
      });
    } else if (data.type === 'answer') {
      if (!this.initiator) throw new Error('a non-initiator got an answer');
      if (this.connected) return; // the answer to a renegotiation
      const answerer = this.net.byToken.get(sdp.replace(/^fake /, ''));
      if (!answerer || answerer.other !== this) throw new Error(`unknown answer ${sdp}`);
      this.other = answerer;
      if (this.net.isBlocked(this.owner, answerer.owner)) return; // ICE never succeeds
      if (this.net.opts.noCandidates?.(this.owner) || this.net.opts.noCandidates?.(answerer.owner)) return;
      this.net.later(() => {
        if (this.destroyed || answerer.destroyed) return;
        this.connected = true;
        answerer.connected = true;
        this.net.opened++;
        answerer.emit('connect');
        this.emit('connect');
      });
    } else if (data.type === 'renegotiate') {
      if (this.initiator && this.connected) this.net.later(() => this.emit('signal', { type: 'offer', sdp: `fake ${this.token}` }));
    }
    // candidates: nothing to do
  }

  /** The link is dead but this end has not noticed yet: what it writes is lost. */
  halfDead = false;

  /** Writes on this connection so far. */
  private writes = 0;

  write(chunk: Uint8Array): boolean {
    if (!this.connected || this.destroyed) throw new Error('write on a closed fake connection');
    if (this.halfDead) return true;
    // The first message on a new channel lost (seen in Chromium 150): written, never delivered.
    if (this.writes++ < (this.net.losesFirstMessages.get(this.owner) ?? 0)) return true;
    const to = this.other!;
    const copy = Uint8Array.from(chunk);
    this.net.bytesTo.set(to.owner, (this.net.bytesTo.get(to.owner) ?? 0) + copy.byteLength);
    this.net.deliver(this.owner, to.owner, () => {
      if (!to.destroyed && to.other === this) to.emit('data', copy);
    });
    return true;
  }

  destroy(): void {
    if (this.destroyed) return;
    const wasConnected = this.connected;
    this.destroyed = true;
    this.connected = false;
    if (wasConnected) this.net.closed++;
    const other = this.other;
    this.net.later(() => this.emit('close'));
    if (other && other.other === this && !other.destroyed) {
      const noticeMs = this.net.silenced.get(this.owner);
      if (noticeMs === undefined) {
        this.net.deliver(this.owner, other.owner, () => other.remoteClosed());
      } else {
        // The close never reaches the other end (the network was gone): it notices much later.
        other.halfDead = true;
        setTimeout(() => other.remoteClosed(), noticeMs);
      }
    }
  }

  /** The other end went away: our channel closes too. */
  remoteClosed(): void {
    if (this.destroyed) return;
    const wasConnected = this.connected;
    this.destroyed = true;
    this.connected = false;
    if (wasConnected) this.net.closed++;
    this.emit('close');
  }
}

export class FakeNetwork {
  readonly opts: FakeNetworkOptions;
  readonly byToken = new Map<string, FakePeer>();
  readonly peers: FakePeer[] = [];
  private readonly blocked = new Set<string>();
  /** Per direction: when the last message is due, so later ones never overtake it. */
  private readonly due = new Map<string, number>();
  nextToken = 0;
  /**
   * Owners whose closes do not reach the other end (their device lost its network): the other end
   * goes on for this many ms believing the link is up.
   */
  readonly silenced = new Map<string, number>();
  /** Connections that opened, and open connections that closed (either end counts once). */
  opened = 0;
  closed = 0;
  /** Bytes written to each owner over data channels. */
  readonly bytesTo = new Map<string, number>();
  /** Owners whose first messages on each new connection are lost (as Chromium 150 was seen to do), and how many. */
  readonly losesFirstMessages = new Map<string, number>();

  constructor(opts: FakeNetworkOptions = {}) {
    this.opts = opts;
  }

  /** A peer factory for one owner (a participant's tab). */
  factory(owner: string): PeerFactory {
    return ({ initiator }) => {
      const p = new FakePeer(this, owner, initiator);
      this.peers.push(p);
      return p;
    };
  }

  block(a: string, b: string): void {
    this.blocked.add(pairKey(a, b));
  }

  unblock(a: string, b: string): void {
    this.blocked.delete(pairKey(a, b));
  }

  isBlocked(a: string, b: string): boolean {
    return this.blocked.has(pairKey(a, b));
  }

  /**
   * Block the pair and break any open connection between them (a link failure). With
   * `aNoticesAfterMs`, b's end closes at once while a's end goes on for that long believing the
   * link is up, and what it writes meanwhile is lost (a real network's silent failure).
   */
  cut(a: string, b: string, opts: { aNoticesAfterMs?: number } = {}): void {
    this.block(a, b);
    for (const p of this.peers) {
      if (p.destroyed || !p.other || p.owner !== a || p.other.owner !== b) continue;
      if (!opts.aNoticesAfterMs) {
        p.destroy();
        continue;
      }
      const other = p.other;
      p.halfDead = true;
      other.remoteClosed();
      setTimeout(() => p.remoteClosed(), opts.aNoticesAfterMs);
    }
  }

  /** Open connections between two owners (counted from a's side). */
  openBetween(a: string, b: string): number {
    return this.peers.filter((p) => p.connected && p.owner === a && p.other?.owner === b).length;
  }

  later(fn: () => void): void {
    setTimeout(fn, 0);
  }

  deliver(from: string, to: string, fn: () => void): void {
    const key = `${from}>${to}`;
    const latency = this.opts.latencyMs?.(from, to) ?? 0;
    const now = Date.now();
    const at = Math.max(now + latency, this.due.get(key) ?? 0);
    this.due.set(key, at);
    setTimeout(fn, at - now);
  }
}

/**
 * The signaling server's room semantics without a server: attach lists the others, joining and
 * leaving are announced, signals are relayed in order (or refused: gone, away).
 */
export class FakeRoom {
  private readonly members = new Map<string, { provider: MeshProvider; participantId: string; away: boolean }>();

  constructor(
    private readonly net: FakeNetwork,
    private readonly rtc: { iceServers: RTCIceServer[]; iceTransportPolicy?: RTCIceTransportPolicy } = { iceServers: [] },
  ) {}

  port(self: () => string | null): SignalingPort {
    return {
      send: async (to, data): Promise<SignalOutcome> => {
        const from = self();
        if (!from || !this.members.has(from) || this.members.get(from)!.away) return 'unattached';
        const target = this.members.get(to);
        if (!target) return 'gone';
        if (target.away) return 'away';
        this.net.deliver(`signal:${from}`, `signal:${to}`, () => {
          const t = this.members.get(to);
          if (t && !t.away) t.provider.signal(from, data);
        });
        return 'sent';
      },
    };
  }

  /**
   * `peerId` attaches: it gets the list; the others hear peer:joined. With `answerAfterMs`, the
   * others hear of it (and may signal it) that long before its own attach answer, as with the real
   * server, which puts a socket in the room before it answers.
   */
  join(peerId: string, participantId: string, provider: MeshProvider, opts: { answerAfterMs?: number } = {}): void {
    const others = [...this.members.entries()].filter(([id]) => id !== peerId).map(([id, m]) => ({ peerId: id, participantId: m.participantId }));
    this.members.set(peerId, { provider, participantId, away: false });
    if (opts.answerAfterMs === undefined) provider.start(peerId, others, this.rtc);
    else setTimeout(() => provider.start(peerId, others, this.rtc), opts.answerAfterMs);
    for (const [id, m] of this.members) {
      if (id === peerId || m.away) continue;
      this.net.later(() => m.provider.peerJoined(peerId, participantId));
    }
  }

  /** The peer's socket drops: it stays in the room, away. */
  away(peerId: string): void {
    const m = this.members.get(peerId);
    if (m) m.away = true;
  }

  /** The peer leaves the room; members that are away miss the announcement (their socket is down). */
  leave(peerId: string): void {
    if (!this.members.delete(peerId)) return;
    for (const m of this.members.values()) if (!m.away) this.net.later(() => m.provider.peerLeft(peerId));
  }
}
