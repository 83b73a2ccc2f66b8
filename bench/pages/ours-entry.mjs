// Browser bundle for our MeshProvider peers (built by bench/run.mjs with esbuild), signaling through
// the bench's socket.io relay (bench/relay.mjs) instead of the product server.
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import { io } from 'socket.io-client';
import { MeshProvider } from '../../lib/p2p/mesh-provider';
import { channelStats, fillTranscript, onEverySend, resetStats, now, presence, receivedSince, transcriptLength } from './common.mjs';

let provider = null;
let socket = null;
let doc = null;

/**
 * Connect to the relay and enter `room`; the ack says who we are and who is already there. `name`
 * and `block` (names) let the relay drop signals between two peers, as if they could not connect.
 */
function enter(url, room, onAck, { name, block } = {}) {
  socket = io(url, { transports: ['websocket'], forceNew: true });
  const awareness = new Awareness(doc);
  const s = socket;
  const p = new MeshProvider(doc, awareness, {
    signaling: {
      send: (to, data) =>
        s.connected ? s.timeout(10_000).emitWithAck('signal', { to, data }).then(() => 'sent', () => 'failed') : Promise.resolve('unattached'),
    },
  });
  socket.on('signal', ({ from, data }) => p.signal(from, data));
  socket.on('peer:joined', ({ peerId }) => p.peerJoined(peerId, peerId));
  socket.on('peer:left', ({ peerId }) => p.peerLeft(peerId));
  socket.on('connect', () => {
    socket.emit('join', { room, name, block }, ({ peerId, peers }) => {
      awareness.setLocalState(presence(peerId));
      onAck?.();
      p.start(peerId, peers.map((id) => ({ peerId: id, participantId: id })), { iceServers: [] });
    });
  });
  provider = p;
  return p;
}

/** Arrival times (epoch ms, sub-millisecond) of transcript entries, by id: for the fan-out runs. */
let arrivals = new Map();
const epochNow = () => performance.timeOrigin + performance.now();

// The fan-out's second floor: a bare message over the provider's own data channels, taken off before
// the provider reads it. simple-peer, alone on these pages, sets `onmessage` on its channels (the raw
// ones below use listeners); a message whose first byte is TAP (no frame's: lib/p2p/framing.ts flags
// are 0-3) is noted and goes no further.
const TAP = 0xee;
const tap = { channels: new Set(), arrivals: new Map() };
const onmessageProperty = Object.getOwnPropertyDescriptor(RTCDataChannel.prototype, 'onmessage');
Object.defineProperty(RTCDataChannel.prototype, 'onmessage', {
  configurable: true,
  enumerable: onmessageProperty.enumerable,
  get: onmessageProperty.get,
  set(handler) {
    if (typeof handler !== 'function') return onmessageProperty.set.call(this, handler);
    tap.channels.add(this);
    onmessageProperty.set.call(this, (e) => {
      if (e.data instanceof ArrayBuffer && e.data.byteLength > 1 && new Uint8Array(e.data, 0, 1)[0] === TAP) {
        const t = epochNow();
        tap.arrivals.set(rawMessageId(new Uint8Array(e.data, 1)), t);
        return;
      }
      handler.call(this, e);
    });
  },
});

// The sender's side of a fan-out message: when Yjs handed the update over (the first 'update'
// listener, fanJoin's) and when the first and the last channel.send went, all in the write's task.
const sending = { on: false, updateAt: 0, sends: [] };
onEverySend(() => {
  if (sending.on) sending.sends.push(epochNow());
});
let senderTimes = new Map();

/** About a chat message's Yjs update with its sync header (a short one is ~115 bytes on the wire). */
const RAW_MESSAGE_BYTES = 150;
const freshRaw = () => ({ pcs: new Map(), channels: new Map(), arrivals: new Map() });
let raw = freshRaw();
const utf8 = { encoder: new TextEncoder(), decoder: new TextDecoder() };

function rawConnection(peer) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  raw.pcs.set(peer, pc);
  return pc;
}

function rawChannel(peer, channel) {
  channel.binaryType = 'arraybuffer';
  raw.channels.set(peer, channel);
  // What a receiver does at the least: read the id, note the time.
  channel.addEventListener('message', (e) => {
    const t = epochNow();
    const bytes = new Uint8Array(e.data);
    if (bytes[0] >= BULK.DATA) return bulkMessage(channel, bytes);
    raw.arrivals.set(rawMessageId(bytes), t);
  });
}

/** The id of a raw message (below). */
const rawMessageId = (bytes) => utf8.decoder.decode(bytes.subarray(1, 1 + bytes[0]));

/** [id length][id][filler] */
function rawMessage(id) {
  const idBytes = utf8.encoder.encode(id);
  const message = new Uint8Array(RAW_MESSAGE_BYTES).fill(0x61);
  message[0] = idBytes.byteLength;
  message.set(idBytes, 1);
  return message;
}

// The large-document floor: a bulk transfer over the raw channel to one peer. The first byte of a
// fan-out message is its id's length (short); these tags are above any.
const BULK = { DATA: 0xf0, DONE: 0xf1, EXPECT: 0xf2, READY: 0xf3 };
const BULK_FRAME_BYTES = 64 * 1024;
const BULK_HIGH_WATER_BYTES = 64 * 1024;
let bulk = { want: 0, got: 0, ready: null, done: null };

function bulkMessage(channel, bytes) {
  if (bytes[0] === BULK.EXPECT) {
    bulk = { want: new DataView(bytes.buffer, bytes.byteOffset).getFloat64(1), got: 0, ready: null, done: null };
    channel.send(Uint8Array.of(BULK.READY));
  } else if (bytes[0] === BULK.READY) {
    bulk.ready?.();
  } else if (bytes[0] === BULK.DATA) {
    bulk.got += bytes.byteLength;
    if (bulk.got >= bulk.want) channel.send(Uint8Array.of(BULK.DONE));
  } else if (bytes[0] === BULK.DONE) {
    bulk.done?.();
  }
}

function iceGathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (pc.iceGatheringState !== 'complete') return;
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    pc.addEventListener('icegatheringstatechange', check);
  });
}

window.JB = {
  async startA({ url, room, entries, entryChars }) {
    doc = new Y.Doc();
    const updateBytes = fillTranscript(doc, entries, entryChars);
    const p = enter(url, room);
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('A: relay did not answer')), 10_000);
      const off = p.onStatus((s) => {
        if (s.synced) {
          clearTimeout(t);
          off();
          resolve();
        }
      });
    });
    return { updateBytes };
  },

  /**
   * Peer B: `syncedMs`/`contentMs` count from before the signaling connection opens (like stock
   * y-webrtc's constructor, which opens its WebSocket); `startToSyncedMs` from MeshProvider.start().
   */
  joinB({ url, room, expectEntries, timeoutMs }) {
    return new Promise((resolve) => {
      const t0 = now();
      let tStart = null;
      const out = { syncedMs: null, contentMs: null, startToSyncedMs: null, timedOut: false };
      doc = new Y.Doc();
      const finish = () => {
        if (out.syncedMs !== null && out.contentMs !== null) {
          clearTimeout(timer);
          resolve({ ...out, received: receivedSince(t0) });
        }
      };
      const timer = setTimeout(() => resolve({ ...out, timedOut: true, received: receivedSince(t0) }), timeoutMs);
      doc.on('update', () => {
        if (out.contentMs === null && transcriptLength(doc) >= expectEntries) {
          out.contentMs = now() - t0;
          finish();
        }
      });
      const p = enter(url, room, () => {
        tStart = now();
      });
      p.onStatus((s) => {
        if (s.synced && out.syncedMs === null && tStart !== null) {
          const t = now();
          out.syncedMs = t - t0;
          out.startToSyncedMs = t - tStart;
          finish();
        }
      });
    });
  },

  /** Fan-out runs: enter a room of several peers; entries arriving are timed. */
  fanJoin({ url, room, name, block }) {
    doc = new Y.Doc();
    arrivals = new Map();
    senderTimes = new Map();
    tap.arrivals = new Map();
    // Before the provider's own listener (it is made below): the update as Yjs hands it over.
    doc.on('update', () => {
      if (sending.on && !sending.updateAt) sending.updateAt = epochNow();
    });
    doc.getArray('transcript').observe((event) => {
      const t = epochNow();
      for (const item of event.changes.added) for (const e of item.content.getContent()) arrivals.set(e.id, t);
    });
    enter(url, room, null, { name, block });
  },
  /** Peers reached, directly or through others. */
  fanReached() {
    return provider ? provider.status.peers.filter((p) => p.link === 'direct' || p.link === 'relayed').length : 0;
  },
  fanSay(id) {
    sending.on = true;
    sending.updateAt = 0;
    sending.sends = [];
    const at = epochNow();
    try {
      doc.getArray('transcript').push([{ id, kind: 'chat', at: Math.round(at), authorId: 'bench', authorName: 'bench', role: 'agent', text: id }]);
    } finally {
      sending.on = false;
    }
    const { updateAt, sends } = sending;
    senderTimes.set(id, {
      updateMs: updateAt ? updateAt - at : null,
      firstSendMs: sends.length ? sends[0] - at : null,
      lastSendMs: sends.length ? sends[sends.length - 1] - at : null,
    });
    return at;
  },
  /** For the sender of `id`: write → the update from Yjs, → its first and last channel.send. */
  fanSender(id) {
    return senderTimes.get(id) ?? null;
  },
  /** A bare message of RAW_MESSAGE_BYTES (+ TAP) on each of the provider's open channels. */
  tapSay(id) {
    const inner = rawMessage(id);
    const message = new Uint8Array(inner.byteLength + 1);
    message[0] = TAP;
    message.set(inner, 1);
    const at = epochNow();
    for (const channel of tap.channels) if (channel.readyState === 'open') channel.send(message);
    return at;
  },
  tapArrival(id) {
    return tap.arrivals.get(id) ?? null;
  },
  fanArrival(id) {
    return arrivals.get(id) ?? null;
  },

  // The fan-out floor: plain RTCPeerConnections with one ordered, reliable RTCDataChannel each (what
  // simple-peer opens for the provider), between the same pages, signaled by the bench itself
  // (non-trickle: every host candidate is in the description). Set up before any timing.
  async rawOffer(to) {
    const pc = rawConnection(to);
    rawChannel(to, pc.createDataChannel('raw'));
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc);
    return pc.localDescription.toJSON();
  },
  async rawAnswer({ from, offer }) {
    const pc = rawConnection(from);
    pc.addEventListener('datachannel', (e) => rawChannel(from, e.channel));
    await pc.setRemoteDescription(offer);
    await pc.setLocalDescription(await pc.createAnswer());
    await iceGathered(pc);
    return pc.localDescription.toJSON();
  },
  async rawAccept({ to, answer }) {
    await raw.pcs.get(to).setRemoteDescription(answer);
  },
  /** Raw channels open on this page. */
  rawOpen() {
    return [...raw.channels.values()].filter((c) => c.readyState === 'open').length;
  },
  /** One message of RAW_MESSAGE_BYTES to every raw channel; returns the time just before the first send. */
  rawSay(id) {
    const message = rawMessage(id);
    const at = epochNow();
    for (const channel of raw.channels.values()) channel.send(message);
    return at;
  },
  rawArrival(id) {
    return raw.arrivals.get(id) ?? null;
  },
  /**
   * `total` bytes to the one raw peer in 64 KiB frames, pausing while 64 KiB are buffered (what the
   * provider does); resolves with the time from the first send to the receiver's "all here".
   */
  async rawBulk(total) {
    const channel = [...raw.channels.values()][0];
    const expect = new Uint8Array(9);
    expect[0] = BULK.EXPECT;
    new DataView(expect.buffer).setFloat64(1, total);
    await new Promise((resolve) => {
      bulk.ready = resolve;
      channel.send(expect);
    });
    const frame = new Uint8Array(BULK_FRAME_BYTES).fill(0x61);
    frame[0] = BULK.DATA;
    const done = new Promise((resolve) => (bulk.done = resolve));
    const t0 = performance.now();
    channel.bufferedAmountLowThreshold = BULK_HIGH_WATER_BYTES / 4;
    let sent = 0;
    const pump = () => {
      while (sent < total && channel.bufferedAmount < BULK_HIGH_WATER_BYTES) {
        channel.send(frame);
        sent += frame.byteLength;
      }
      if (sent >= total) channel.removeEventListener('bufferedamountlow', pump);
    };
    channel.addEventListener('bufferedamountlow', pump);
    pump();
    await done;
    return performance.now() - t0;
  },
  rawStop() {
    for (const pc of raw.pcs.values()) pc.close();
    raw = freshRaw();
  },

  channelStats,
  resetStats,

  stop() {
    window.JB.rawStop();
    provider?.destroy();
    socket?.disconnect();
    doc?.destroy();
    provider = null;
    socket = null;
    doc = null;
  },
};
