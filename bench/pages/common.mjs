// Shared by both browser bundles: the test document and data-channel instrumentation.
import * as Y from 'yjs';
import { prose } from '../../tests/support/prose.ts';

export const now = () => performance.now();

export const presence = (name) => ({ participantId: `bench-${name}`, name, role: 'agent', typing: false });

/**
 * Fill the session document's transcript (the product's schema: lib/session-doc.ts) with `entries`
 * chat messages of `entryChars` characters of word-like text (tests/support/prose.ts: deflate takes
 * it to about a third, like real conversation). Returns the size of the whole document as one update.
 */
export function fillTranscript(doc, entries, entryChars) {
  const transcript = doc.getArray('transcript');
  doc.transact(() => {
    for (let i = 0; i < entries; i++) {
      transcript.push([
        { id: `m${i}`, kind: 'chat', at: 1_700_000_000_000 + i, authorId: 'bench-A', authorName: 'A', role: 'agent', text: prose(entryChars, i + 1) },
      ]);
    }
  });
  return Y.encodeStateAsUpdate(doc).byteLength;
}

export const transcriptLength = (doc) => doc.getArray('transcript').length;

// Every RTCDataChannel.send on this page: largest message, peak bufferedAmount, failures.
const freshStats = () => ({ sends: 0, bytes: 0, maxMessageBytes: 0, maxBufferedAmount: 0, errors: [] });
let stats = freshStats();
/** Called before every send on this page, when set (`onEverySend`). */
let sendHook = null;
export function onEverySend(fn) {
  sendHook = fn;
}
const send = RTCDataChannel.prototype.send;
RTCDataChannel.prototype.send = function (data) {
  sendHook?.();
  const size = data.byteLength ?? data.size ?? data.length ?? 0;
  stats.sends++;
  stats.bytes += size;
  stats.maxMessageBytes = Math.max(stats.maxMessageBytes, size);
  try {
    send.call(this, data);
  } catch (err) {
    if (stats.errors.length < 5) stats.errors.push(`${err.name}: ${err.message}`);
    throw err;
  } finally {
    stats.maxBufferedAmount = Math.max(stats.maxBufferedAmount, this.bufferedAmount);
  }
};
// Remember every peer connection, to read the SCTP transport's maxMessageSize.
const connections = [];
const NativePC = window.RTCPeerConnection;
// What arrives on this page's data channels: message count, bytes, first and last arrival.
const freshReceived = () => ({ messages: 0, bytes: 0, firstAt: null, lastAt: null, openAt: null });
let received = freshReceived();
const watch = (channel) => {
  channel.addEventListener('open', () => {
    received.openAt ??= now();
  });
  channel.addEventListener('message', (e) => {
    const t = now();
    received.messages++;
    received.bytes += e.data.byteLength ?? e.data.size ?? e.data.length ?? 0;
    received.firstAt ??= t;
    received.lastAt = t;
  });
};
window.RTCPeerConnection = class extends NativePC {
  constructor(...args) {
    super(...args);
    connections.push(this);
    this.addEventListener('datachannel', (e) => watch(e.channel));
  }
  createDataChannel(...args) {
    const channel = super.createDataChannel(...args);
    watch(channel);
    return channel;
  }
};
/** Arrivals on this page, in ms since `t0`. */
export const receivedSince = (t0) => ({
  messages: received.messages,
  bytes: received.bytes,
  channelOpenMs: received.openAt === null ? null : received.openAt - t0,
  firstMessageMs: received.firstAt === null ? null : received.firstAt - t0,
  lastMessageMs: received.lastAt === null ? null : received.lastAt - t0,
});

export function channelStats() {
  const sizes = connections.map((pc) => pc.sctp?.maxMessageSize).filter((n) => typeof n === 'number');
  return { ...stats, maxMessageSize: sizes.length ? Math.min(...sizes) : null };
}

/** Between measurements on the same page: forget what earlier connections sent and received. */
export function resetStats() {
  stats = freshStats();
  received = freshReceived();
  connections.length = 0;
}
