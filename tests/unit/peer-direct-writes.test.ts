import { afterEach, describe, expect, it, vi } from 'vitest';
import type SimplePeer from 'simple-peer';
import { DirectWrites, MAX_FRAME_BYTES, warmPeerConnections } from '../../lib/p2p/peer';

/**
 * An RTCDataChannel's sending side as the mesh sees it: sends add to bufferedAmount, `drainTo` stands
 * for the network taking bytes (firing 'bufferedamountlow' when it crosses the threshold, as browsers do).
 */
class FakeChannel extends EventTarget {
  readyState: RTCDataChannelState = 'open';
  bufferedAmount = 0;
  bufferedAmountLowThreshold = 0;
  readonly sent: number[] = [];

  send(frame: Uint8Array): void {
    if (this.readyState !== 'open') throw new Error('InvalidStateError');
    this.sent.push(frame[0]!);
    this.bufferedAmount += frame.byteLength;
  }

  drainTo(bytes: number): void {
    const wasAbove = this.bufferedAmount > this.bufferedAmountLowThreshold;
    this.bufferedAmount = bytes;
    if (wasAbove && bytes <= this.bufferedAmountLowThreshold) this.dispatchEvent(new Event('bufferedamountlow'));
  }
}

/** The parts of a simple-peer instance DirectWrites uses. */
function fakeSimplePeer(channel: FakeChannel | null, maxMessageSize?: number) {
  const inner = {
    _channel: channel,
    _pc: maxMessageSize === undefined ? {} : { sctp: { maxMessageSize } },
    destroyed: false,
    streamWrites: [] as number[],
    destroyedWith: undefined as unknown,
    write(frame: Uint8Array) {
      inner.streamWrites.push(frame[0]!);
      return true;
    },
    destroy(err?: unknown) {
      inner.destroyed = true;
      inner.destroyedWith = err;
    },
    listeners: new Map<string, ((...args: unknown[]) => void)[]>(),
    on(event: string, listener: (...args: unknown[]) => void) {
      inner.listeners.set(event, [...(inner.listeners.get(event) ?? []), listener]);
    },
    emit(event: string) {
      for (const listener of inner.listeners.get(event) ?? []) listener();
    },
    signal() {},
    _onChannelMessage(_event: MessageEvent) {},
    /** simple-peer's handler of the channel's 'open' (it then waits for getStats before 'connect'). */
    channelOpens: 0,
    _onChannelOpen() {
      inner.channelOpens++;
    },
  };
  return inner;
}

const make = (inner: ReturnType<typeof fakeSimplePeer>) => new DirectWrites(inner as unknown as SimplePeer.Instance);
/** A frame whose first byte tells it apart. */
const frame = (tag: number, bytes = 16 * 1024) => new Uint8Array(bytes).fill(tag);

describe('DirectWrites: the mesh writes frames straight to the data channel', () => {
  it('sends at once while the channel has room, and holds frames back in order while it is full', () => {
    const channel = new FakeChannel();
    const peer = make(fakeSimplePeer(channel));
    for (let i = 1; i <= 10; i++) peer.write(frame(i));
    // 64 KiB buffered after four 16 KiB frames: the rest wait.
    expect(channel.sent).toEqual([1, 2, 3, 4]);
    channel.drainTo(8 * 1024);
    expect(channel.sent).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // A frame written while others wait goes after them, even if the channel has room now.
    channel.bufferedAmount = 0;
    peer.write(frame(11));
    expect(channel.sent).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    channel.bufferedAmount = 60 * 1024;
    channel.drainTo(0);
    expect(channel.sent).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    // Queue empty again: straight through.
    peer.write(frame(12));
    expect(channel.sent.at(-1)).toBe(12);
  });

  it("uses simple-peer's own write while the channel is not open, for single frames and a message's frames alike", () => {
    const channel = new FakeChannel();
    channel.readyState = 'connecting';
    const inner = fakeSimplePeer(channel);
    const peer = make(inner);
    peer.write(frame(1));
    peer.writeFrames([frame(5), frame(6)][Symbol.iterator]());
    expect(inner.streamWrites).toEqual([1, 5, 6]);
    expect(channel.sent).toEqual([]);
  });

  it('closes the connection when a held frame cannot be sent', () => {
    const channel = new FakeChannel();
    const inner = fakeSimplePeer(channel);
    const peer = make(inner);
    for (let i = 1; i <= 6; i++) peer.write(frame(i));
    channel.send = () => {
      throw new Error('send failed');
    };
    channel.drainTo(0);
    expect(inner.destroyed).toBe(true);
    expect(inner.destroyedWith).toBeInstanceOf(Error);
  });

  it('hands received binary messages to the data listeners, and anything else as an empty frame', () => {
    const inner = fakeSimplePeer(new FakeChannel());
    const peer = make(inner);
    const got: number[][] = [];
    peer.on('data', (data: Uint8Array) => got.push([...data]));
    inner._onChannelMessage(new MessageEvent('message', { data: Uint8Array.of(0, 7, 8).buffer }));
    inner._onChannelMessage(new MessageEvent('message', { data: 'text' }));
    expect(got).toEqual([[0, 7, 8], []]);
    inner.destroyed = true;
    inner._onChannelMessage(new MessageEvent('message', { data: Uint8Array.of(0).buffer }));
    expect(got).toHaveLength(2);
  });

  it("receives through simple-peer's stream when its channel hook is not there", () => {
    const subscribed: string[] = [];
    const { _onChannelMessage: _hook, ...rest } = fakeSimplePeer(new FakeChannel());
    const inner = { ...rest, on: (event: string) => void subscribed.push(event) };
    new DirectWrites(inner as unknown as SimplePeer.Instance).on('data', () => {});
    expect(subscribed).toEqual(['connect', 'data']);
  });

  it("says 'connect' once, as soon as the channel opens, without waiting for simple-peer's", () => {
    const channel = new FakeChannel();
    channel.readyState = 'connecting';
    const inner = fakeSimplePeer(channel);
    const peer = make(inner);
    let connects = 0;
    peer.on('connect', () => connects++);
    // ICE connected before the channel: nothing yet (simple-peer's own handler still runs).
    inner._onChannelOpen();
    expect(inner.channelOpens).toBe(1);
    expect(connects).toBe(0);
    channel.readyState = 'open';
    inner._onChannelOpen();
    expect(connects).toBe(1);
    // simple-peer's own 'connect', after its getStats round: not a second one.
    inner.emit('connect');
    expect(connects).toBe(1);
  });

  it("passes simple-peer's 'connect' on where the channel's opening is not seen", () => {
    const { _onChannelOpen: _open, ...rest } = fakeSimplePeer(new FakeChannel());
    const inner = rest as ReturnType<typeof fakeSimplePeer>;
    const peer = new DirectWrites(inner as unknown as SimplePeer.Instance);
    let connects = 0;
    peer.on('connect', () => connects++);
    inner.emit('connect');
    inner.emit('connect');
    expect(connects).toBe(1);
  });

  it('says nothing once destroyed, even if the channel opens', () => {
    const channel = new FakeChannel();
    const inner = fakeSimplePeer(channel);
    const peer = make(inner);
    let connects = 0;
    peer.on('connect', () => connects++);
    inner.destroyed = true;
    inner._onChannelOpen();
    expect(connects).toBe(0);
  });

  it('frames up to the negotiated message size, never above MAX_FRAME_BYTES', () => {
    expect(make(fakeSimplePeer(null, 16 * 1024)).maxFrameBytes).toBe(16 * 1024);
    expect(make(fakeSimplePeer(null, 262_144)).maxFrameBytes).toBe(MAX_FRAME_BYTES);
    expect(make(fakeSimplePeer(null, Number.POSITIVE_INFINITY)).maxFrameBytes).toBe(MAX_FRAME_BYTES);
    expect(make(fakeSimplePeer(null, 0)).maxFrameBytes).toBeUndefined();
    expect(make(fakeSimplePeer(null)).maxFrameBytes).toBeUndefined();
  });

  it('takes the frames of a message made as it goes only as the channel drains, one ahead, in order with the rest', () => {
    const channel = new FakeChannel();
    const peer = make(fakeSimplePeer(channel));
    let made = 0;
    function* lazy(): Generator<Uint8Array> {
      for (let i = 20; i < 30; i++) {
        made++;
        yield frame(i);
      }
    }
    peer.write(frame(1));
    peer.writeFrames(lazy());
    peer.write(frame(2));
    // Room for four 16 KiB frames: frame 1 and three of the message went; the next one is made ahead.
    expect(channel.sent).toEqual([1, 20, 21, 22]);
    expect(made).toBe(4);
    channel.drainTo(0);
    expect(channel.sent).toEqual([1, 20, 21, 22, 23, 24, 25, 26]);
    expect(made).toBe(8);
    channel.drainTo(0);
    channel.drainTo(0);
    expect(channel.sent).toEqual([1, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 2]);
    expect(made).toBe(10);
    // Everything sent: straight through again.
    channel.bufferedAmount = 0;
    peer.write(frame(3));
    expect(channel.sent.at(-1)).toBe(3);
  });

  it('closes the connection when making the next frame fails', () => {
    const channel = new FakeChannel();
    const inner = fakeSimplePeer(channel);
    function* broken(): Generator<Uint8Array> {
      yield frame(1);
      throw new Error('compressor failed');
    }
    make(inner).writeFrames(broken());
    expect(inner.destroyed).toBe(true);
    expect(channel.sent).toEqual([1]);
  });
});

describe('[C1] the peer connection made ahead of need (decision 0025)', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('makes one connection and closes it at once, negotiating nothing', () => {
    const made: { closed: boolean; calls: string[] }[] = [];
    vi.stubGlobal(
      'RTCPeerConnection',
      class {
        private readonly rec = { closed: false, calls: [] as string[] };
        constructor() {
          made.push(this.rec);
        }
        close() {
          this.rec.closed = true;
        }
        createOffer() {
          this.rec.calls.push('createOffer');
        }
        createDataChannel() {
          this.rec.calls.push('createDataChannel');
        }
      },
    );
    warmPeerConnections();
    expect(made).toEqual([{ closed: true, calls: [] }]);
  });

  it('does nothing where there is no WebRTC, or where making one throws', () => {
    vi.stubGlobal('RTCPeerConnection', undefined);
    expect(() => warmPeerConnections()).not.toThrow();
    vi.stubGlobal(
      'RTCPeerConnection',
      class {
        constructor() {
          throw new Error('NotSupportedError');
        }
      },
    );
    expect(() => warmPeerConnections()).not.toThrow();
  });
});
