// Browser bundle for the stock y-webrtc peers (built by bench/run.mjs with esbuild).
import * as Y from 'yjs';
import { WebrtcProvider } from 'y-webrtc';
import { channelStats, fillTranscript, resetStats, now, presence, receivedSince, transcriptLength } from './common.mjs';

let provider = null;
let doc = null;

window.JB = {
  /** Peer A: a document with content, connected to the signaling server. */
  async startA({ signaling, room, entries, entryChars }) {
    doc = new Y.Doc();
    const updateBytes = fillTranscript(doc, entries, entryChars);
    provider = new WebrtcProvider(room, doc, { signaling: [signaling], peerOpts: { config: { iceServers: [] } } });
    provider.awareness.setLocalState(presence('A'));
    const conn = provider.signalingConns[0];
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('A: signaling did not connect')), 10_000);
      const check = () => (conn.connected ? (clearTimeout(t), resolve()) : setTimeout(check, 5));
      check();
    });
    return { updateBytes };
  },

  /** Peer B: time from provider construction to 'synced' and to A's content being in the doc. */
  joinB({ signaling, room, expectEntries, timeoutMs }) {
    return new Promise((resolve) => {
      const t0 = now();
      const out = { syncedMs: null, contentMs: null, timedOut: false };
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
      provider = new WebrtcProvider(room, doc, { signaling: [signaling], peerOpts: { config: { iceServers: [] } } });
      provider.awareness.setLocalState(presence('B'));
      provider.on('synced', ({ synced }) => {
        if (synced && out.syncedMs === null) {
          out.syncedMs = now() - t0;
          finish();
        }
      });
    });
  },

  channelStats,
  resetStats,

  stop() {
    provider?.destroy();
    doc?.destroy();
    provider = null;
    doc = null;
  },
};
