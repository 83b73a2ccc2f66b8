// Browser bundle for our MeshProvider peers (built by bench/run.mjs with esbuild), signaling through
// the bench's socket.io relay (bench/relay.mjs) instead of the product server.
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import { io } from 'socket.io-client';
import { MeshProvider } from '../../lib/p2p/mesh-provider';
import { channelStats, fillTranscript, resetStats, now, presence, receivedSince, transcriptLength } from './common.mjs';

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
    const at = epochNow();
    doc.getArray('transcript').push([{ id, kind: 'chat', at: Math.round(at), authorId: 'bench', authorName: 'bench', role: 'agent', text: id }]);
    return at;
  },
  fanArrival(id) {
    return arrivals.get(id) ?? null;
  },

  channelStats,
  resetStats,

  stop() {
    provider?.destroy();
    socket?.disconnect();
    doc?.destroy();
    provider = null;
    socket = null;
    doc = null;
  },
};
