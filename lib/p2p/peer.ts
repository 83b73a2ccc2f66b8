/**
 * The one peer connection the mesh needs (simple-peer's surface, narrowed), the default factory that
 * makes real ones, and the signaling envelope every message between two peers travels in.
 */
import SimplePeer from 'simple-peer';

/** What the mesh uses of a simple-peer instance. Tests pass fakes with the same surface. */
export interface PeerLike {
  on(event: 'signal', listener: (data: Record<string, unknown>) => void): void;
  on(event: 'connect', listener: () => void): void;
  on(event: 'data', listener: (data: Uint8Array) => void): void;
  on(event: 'close', listener: () => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  on(event: 'iceStateChange', listener: (connection: string, gathering: string) => void): void;
  signal(data: Record<string, unknown>): void;
  /** Sends one frame, in order, holding frames back while the channel's buffer is full (backpressure). */
  write(chunk: Uint8Array): unknown;
  /**
   * Sends a message's frames in order, taking each from `frames` only when the channel is about to
   * have room for it (a deflated message is compressed as it goes). Absent: the mesh writes them all.
   */
  writeFrames?(frames: Iterator<Uint8Array>): void;
  /**
   * The largest frame this connection carries (the negotiated SCTP limit, capped), known once it is
   * open; absent: the mesh's default.
   */
  readonly maxFrameBytes?: number;
  destroy(): void;
  /** The underlying RTCPeerConnection, where there is one (diagnostics only). */
  readonly _pc?: RTCPeerConnection;
}

export interface PeerFactoryOptions {
  initiator: boolean;
  config: RTCConfiguration;
}

export type PeerFactory = (opts: PeerFactoryOptions) => PeerLike;

export interface SimplePeerFactoryOptions {
  /** For Node (e.g. @roamhq/wrtc); browsers use their own. */
  wrtc?: SimplePeer.Options['wrtc'];
  /**
   * Every connection gets one audio and one video slot (decision 0011), so that voice and screen
   * sharing start and stop by `RTCRtpSender.replaceTrack` (lib/media/media-session.ts), never by a
   * renegotiation at the moment someone clicks.
   */
  media?: boolean;
  /**
   * The slots are added this long after the connection opens, in one renegotiation by the dialler:
   * off the join's critical path, where they would add about 20 ms to every connection set-up.
   * @default 1000
   */
  mediaSlotDelayMs?: number;
}

/**
 * Make one peer connection and close it at once, ahead of need: a page's first `RTCPeerConnection`
 * sets WebRTC up in the browser (5-8 ms on the reference machine, against 1-5 for the next), and the
 * join's first dial or answer would wait for it (decision 0025). Nothing is negotiated or sent.
 */
export function warmPeerConnections(): void {
  if (typeof RTCPeerConnection !== 'function') return;
  try {
    new RTCPeerConnection().close();
  } catch {
    /* no WebRTC here: the session view says so */
  }
}

/** Real WebRTC through simple-peer. */
export function simplePeerFactory({ wrtc, media = false, mediaSlotDelayMs = 1000 }: SimplePeerFactoryOptions = {}): PeerFactory {
  /**
   * Connections of this tab whose slot renegotiation failed (simple-peer then closes the whole
   * connection, which the mesh opens again): after two, new connections stay data-only, so a browser
   * that cannot add the slots does not lose its data channels every few seconds. Voice then shows
   * those participants as not heard.
   */
  const slotFailures = { count: 0 };
  return ({ initiator, config }) => {
    const peer = new SimplePeer({ initiator, trickle: true, config, ...(wrtc ? { wrtc } : {}) });
    const pc = (peer as unknown as { _pc?: RTCPeerConnection })._pc;
    if (media && pc && slotFailures.count < MAX_SLOT_FAILURES) openMediaSlots(peer, pc, initiator, mediaSlotDelayMs, slotFailures);
    return new DirectWrites(peer);
  };
}

/**
 * Frames are never larger than this, whatever the connection allows (256 KiB in Chromium and Safari).
 * Measured with a 20 MB sync between two pages (decision 0016): 64 KiB frames took 2.3 s where 16 KiB
 * took 2.9 s and 256 KiB 2.4-3.0 s; raw data channels moved the same 20 MB in 1.3 s with 64 KiB.
 */
export const MAX_FRAME_BYTES = 64 * 1024;
/**
 * Sending pauses while the channel holds this much, and goes on when it has drained to LOW_WATER_BYTES.
 * A deeper queue was slower, not faster (1 MiB: 3.3-4.1 s, 4 MiB: 5.7 s for the same 20 MB).
 */
const HIGH_WATER_BYTES = 64 * 1024;
const LOW_WATER_BYTES = 16 * 1024;

/**
 * A simple-peer connection whose frames go straight to its RTCDataChannel (decision 0016): simple-peer's
 * stream layer cost about half of a chat message's send time to five neighbours, and its 16 KiB frames
 * made a multi-megabyte sync slower than it need be. Frames wait in our own queue while the channel
 * holds HIGH_WATER_BYTES or more, and go on at 'bufferedamountlow'.
 */
export class DirectWrites implements PeerLike {
  /** Frames waiting, and messages whose frames are made as they go (deflated ones). */
  private readonly queue: (Uint8Array | Iterator<Uint8Array>)[] = [];
  private head = 0;
  /** The next frame of the message at the head of the queue, made ahead of the channel's room. */
  private ready: Uint8Array | null = null;
  private watched: RTCDataChannel | null = null;

  private readonly dataListeners: ((data: Uint8Array) => void)[] = [];
  /** Whether received messages come to us from the channel (else through simple-peer's stream). */
  private readonly directReceive: boolean;
  private readonly connectListeners: (() => void)[] = [];
  private opened = false;

  constructor(private readonly inner: SimplePeer.Instance) {
    // 'connect' as soon as the data channel is open. simple-peer announces it only after a getStats()
    // round for the selected candidate pair, which took 10-20 ms on a busy joining page (and 100 ms
    // more whenever the pair was not reported yet); frames go straight to the open channel anyway.
    const opens = inner as unknown as { _onChannelOpen?: () => void };
    if (typeof opens._onChannelOpen === 'function') {
      const onChannelOpen = opens._onChannelOpen.bind(inner);
      opens._onChannelOpen = () => {
        onChannelOpen();
        if (!inner.destroyed && this.channel) this.announceOpen();
      };
    }
    inner.on('connect', () => this.announceOpen());
    // Received messages skip simple-peer's stream too (its Buffer and readable-stream push): the
    // channel's handler calls this method on the instance.
    const hooks = inner as unknown as { _onChannelMessage?: (event: MessageEvent) => void };
    this.directReceive = typeof hooks._onChannelMessage === 'function';
    if (this.directReceive) hooks._onChannelMessage = (event) => {
      if (inner.destroyed) return;
      // Only binary frames are ours; anything else reaches the mesh as an empty frame, which it refuses.
      const data = event.data instanceof ArrayBuffer ? new Uint8Array(event.data) : new Uint8Array(0);
      for (const listener of this.dataListeners) listener(data);
    };
  }

  get _pc(): RTCPeerConnection | undefined {
    return (this.inner as unknown as { _pc?: RTCPeerConnection })._pc;
  }

  private get channel(): RTCDataChannel | null {
    const channel = (this.inner as unknown as { _channel?: RTCDataChannel | null })._channel ?? null;
    return channel?.readyState === 'open' ? channel : null;
  }

  get maxFrameBytes(): number | undefined {
    const limit = this._pc?.sctp?.maxMessageSize;
    // 0 or absent: unknown (Infinity would be "any size": capped like the rest).
    return typeof limit === 'number' && limit > 0 ? Math.min(limit, MAX_FRAME_BYTES) : undefined;
  }

  on(event: string, listener: (...args: never[]) => void): void {
    if (event === 'data' && this.directReceive) this.dataListeners.push(listener as (data: Uint8Array) => void);
    else if (event === 'connect') this.connectListeners.push(listener as () => void);
    else this.inner.on(event, listener as (...args: unknown[]) => void);
  }

  /** The first of the channel opening and simple-peer's own 'connect'; once. */
  private announceOpen(): void {
    if (this.opened) return;
    this.opened = true;
    for (const listener of this.connectListeners) listener();
  }

  signal(data: Record<string, unknown>): void {
    this.inner.signal(data as unknown as SimplePeer.SignalData);
  }

  destroy(): void {
    this.queue.length = 0;
    this.head = 0;
    this.ready = null;
    this.inner.destroy();
  }

  write(frame: Uint8Array): void {
    const channel = this.channel;
    // Not open (yet, or any more): simple-peer's own write, which holds a frame until it opens and
    // fails as it always did once the connection is gone.
    if (!channel) {
      this.inner.write(frame);
      return;
    }
    if (this.head === this.queue.length && channel.bufferedAmount < HIGH_WATER_BYTES) {
      channel.send(frame as Uint8Array<ArrayBuffer>);
      return;
    }
    this.queue.push(frame);
    this.watch(channel);
  }

  writeFrames(frames: Iterator<Uint8Array>): void {
    const channel = this.channel;
    if (!channel) {
      for (let next = frames.next(); !next.done; next = frames.next()) this.inner.write(next.value);
      return;
    }
    this.queue.push(frames);
    this.watch(channel);
    if (this.head === this.queue.length - 1) this.drain(channel);
  }

  /** The next frame to send, or null when nothing waits. */
  private next(): Uint8Array | null {
    while (this.head < this.queue.length) {
      const item = this.queue[this.head]!;
      if (item instanceof Uint8Array) {
        this.head++;
        return item;
      }
      if (this.ready) {
        const frame = this.ready;
        this.ready = null;
        return frame;
      }
      const step = item.next();
      if (!step.done) return step.value;
      this.head++;
    }
    return null;
  }

  private watch(channel: RTCDataChannel): void {
    if (this.watched === channel) return;
    this.watched = channel;
    channel.bufferedAmountLowThreshold = LOW_WATER_BYTES;
    channel.addEventListener('bufferedamountlow', () => this.drain(channel));
  }

  private drain(channel: RTCDataChannel): void {
    if (this.channel !== channel) return;
    try {
      while (channel.bufferedAmount < HIGH_WATER_BYTES) {
        const frame = this.next();
        if (!frame) break;
        channel.send(frame as Uint8Array<ArrayBuffer>);
      }
      // The next frame of a message made as it goes is made now, while the channel sends what it
      // holds, rather than when it has drained (the compressor and the network then overlap).
      const item = this.queue[this.head];
      if (item && !(item instanceof Uint8Array) && !this.ready) {
        const step = item.next();
        if (step.done) this.head++;
        else this.ready = step.value;
      }
    } catch (err) {
      this.inner.destroy(err as Error);
      return;
    }
    if (this.head === this.queue.length && !this.ready) {
      this.queue.length = 0;
      this.head = 0;
    }
  }
}

const MAX_SLOT_FAILURES = 2;
/** simple-peer's error codes for a failed negotiation (as opposed to a network failure). */
const NEGOTIATION_ERRORS = new Set(['ERR_SET_REMOTE_DESCRIPTION', 'ERR_SET_LOCAL_DESCRIPTION', 'ERR_CREATE_OFFER', 'ERR_CREATE_ANSWER', 'ERR_ADD_TRANSCEIVER']);

/**
 * The dialler adds both slots once, a moment after the data channel opened (simple-peer batches the
 * two into one offer). The answering side's slots come from that offer as receive-only and are made
 * send-and-receive while the offer is applied (its `track` events fire before simple-peer creates the
 * answer), so one round trip gives both directions. Nothing about the data channel changes.
 */
function openMediaSlots(peer: SimplePeer.Instance, pc: RTCPeerConnection, initiator: boolean, delayMs: number, failures: { count: number }): void {
  if (typeof pc.addTransceiver !== 'function') return;
  let open = false;
  peer.once('connect', () => (open = true));
  // A negotiation that fails once the data channel is open can only be the slots' renegotiation.
  peer.on('error', (err: Error & { code?: string }) => {
    if (open && err.code && NEGOTIATION_ERRORS.has(err.code)) failures.count++;
  });
  if (!initiator) {
    const sendToo = () => {
      for (const t of pc.getTransceivers()) if (t.direction === 'recvonly') t.direction = 'sendrecv';
    };
    // Either event comes while the offer is applied, before simple-peer creates the answer.
    pc.addEventListener('track', sendToo);
    pc.addEventListener('signalingstatechange', () => {
      if (pc.signalingState === 'have-remote-offer') sendToo();
    });
    return;
  }
  peer.once('connect', () => {
    const timer = setTimeout(() => {
      if (pc.connectionState === 'closed' || pc.getTransceivers().length > 0) return;
      try {
        peer.addTransceiver('audio', { direction: 'sendrecv' });
        peer.addTransceiver('video', { direction: 'sendrecv' });
      } catch {
        /* destroyed meanwhile */
      }
    }, delayMs);
    peer.once('close', () => clearTimeout(timer));
  });
}

/**
 * Signaling between two peers, relayed by the server as opaque data:
 *  - `{ c, s }`: simple-peer's signal `s` for connection `c`. The connection id is chosen by the side
 *    that dials; an offer for the open connection's id is a renegotiation (media added later), an
 *    offer with a new id means the dialler started afresh.
 *  - `{ hello: 1, lost? }`: "I know you are here; dial me" from the side that does not dial, with the
 *    id of a connection it has lost, so the other side drops its end of it too.
 */
export type Envelope =
  | { kind: 'signal'; conn: string; signal: Record<string, unknown> }
  | { kind: 'hello'; lost: string | null };

const MAX_CONN_ID = 64;

export function parseEnvelope(data: unknown): Envelope | null {
  if (typeof data !== 'object' || data === null) return null;
  const d = data as Record<string, unknown>;
  if (d.hello === 1) {
    if (d.lost === undefined || d.lost === null) return { kind: 'hello', lost: null };
    return typeof d.lost === 'string' && d.lost.length <= MAX_CONN_ID ? { kind: 'hello', lost: d.lost } : null;
  }
  if (typeof d.c !== 'string' || d.c.length === 0 || d.c.length > MAX_CONN_ID) return null;
  if (typeof d.s !== 'object' || d.s === null || Array.isArray(d.s)) return null;
  return { kind: 'signal', conn: d.c, signal: d.s as Record<string, unknown> };
}

export const envelope = {
  signal: (conn: string, signal: Record<string, unknown>) => ({ c: conn, s: signal }),
  hello: (lost: string | null) => (lost ? { hello: 1, lost } : { hello: 1 }),
};
