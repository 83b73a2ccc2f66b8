/**
 * Browser-test tools for the peer network (issue 5), all from the outside of the product:
 *
 *  - SignalingRoutes: each participant's socket.io connection goes through Playwright's
 *    routeWebSocket, so a test can (a) block two participants from ever connecting directly, by
 *    dropping the signals each receives from the other (as two strict NATs would make every attempt
 *    fail), and (b) cut a participant's signaling and let it back in later.
 *  - instrumentRtc / rtcSummary: counts the RTCPeerConnections a page creates and how many are
 *    connected, and reads the selected candidate pair's types (getStats), without product hooks.
 *
 * socket.io frames on the websocket: `42["event",payload]` (an event), `43<id>[payload]` (an ack).
 */
import type { BrowserContext, Page, WebSocketRoute } from '@playwright/test';

type Frame = { kind: 'event'; name: string; payload: Record<string, unknown> } | { kind: 'ack'; payload: Record<string, unknown> };

function decode(frame: string | Buffer): Frame | null {
  if (typeof frame !== 'string') return null;
  const m = /^4([23])\d*(\[[\s\S]*)$/.exec(frame);
  if (!m) return null;
  try {
    const data = JSON.parse(m[2]!) as unknown[];
    if (m[1] === '2') return { kind: 'event', name: String(data[0]), payload: (data[1] ?? {}) as Record<string, unknown> };
    return { kind: 'ack', payload: (data[0] ?? {}) as Record<string, unknown> };
  } catch {
    return null;
  }
}

const SOCKET_IO = /\/socket\.io\//;

export class SignalingRoutes {
  /** Each participant's own peer ids, read from its attach answers as they pass. */
  private readonly peerIds = new Map<string, Set<string>>();
  private readonly blocked: [string, string][] = [];
  private readonly live = new Map<string, Set<WebSocketRoute>>();
  private readonly cutOff = new Set<string>();
  /** Signals each participant received (offers, answers, candidates, hellos): media must add none. */
  readonly signalsReceived = new Map<string, number>();
  /** Signals dropped because of a block: a test asserts the block did something. */
  dropped = 0;
  /** The ICE candidate types each participant was told of by others (`host`, `srflx`, `relay`…). */
  readonly candidateTypes = new Map<string, string[]>();

  /** The peer ids this participant was given so far (from its attach answers). */
  peersOf(label: string): string[] {
    return [...(this.peerIds.get(label) ?? [])];
  }

  /** `a` and `b` never connect directly: each drops the other's signals. */
  block(a: string, b: string): void {
    this.blocked.push([a, b]);
  }

  private isBlocked(label: string, fromPeerId: string): boolean {
    for (const [a, b] of this.blocked) {
      const partner = a === label ? b : b === label ? a : null;
      if (partner && this.peerIds.get(partner)?.has(fromPeerId)) return true;
    }
    return false;
  }

  /** Route this participant's signaling. Install before the page opens its socket (before goto). */
  async route(context: BrowserContext, label: string): Promise<void> {
    this.peerIds.set(label, new Set());
    this.live.set(label, new Set());
    await context.routeWebSocket(SOCKET_IO, (ws) => {
      if (this.cutOff.has(label)) {
        // Signaling is down for this participant: every attempt fails at once. (Closing a route that
        // never connected does not reach the page, which then waits out socket.io's 20 s connect
        // timeout; a connection the server side closes fails at once, and the page retries.)
        void ws.connectToServer().close();
        return;
      }
      const server = ws.connectToServer();
      const routes = this.live.get(label)!;
      routes.add(ws);
      ws.onClose(() => {
        routes.delete(ws);
        void server.close();
      });
      server.onClose(() => {
        routes.delete(ws);
        void ws.close();
      });
      ws.onMessage((m) => server.send(m));
      server.onMessage((m) => {
        const f = decode(m);
        if (f?.kind === 'ack' && f.payload.ok === true) {
          // An attach answer, or a log-in that attached in the same round trip (`attached`, decision 0014).
          const a = (typeof f.payload.attached === 'object' && f.payload.attached !== null ? f.payload.attached : f.payload) as Record<string, unknown>;
          if (typeof a.peerId === 'string' && Array.isArray(a.peers)) this.peerIds.get(label)!.add(a.peerId);
        }
        if (f?.kind === 'event' && f.name === 'signal:recv') {
          this.signalsReceived.set(label, (this.signalsReceived.get(label) ?? 0) + 1);
          if (this.isBlocked(label, String(f.payload.from))) {
            this.dropped++;
            return;
          }
          // Candidates travel alone (trickle) or inside an SDP: `… typ host …`.
          const types = this.candidateTypes.get(label) ?? [];
          for (const m of JSON.stringify(f.payload.data ?? {}).matchAll(/ typ ([a-z]+)/g)) types.push(m[1]!);
          this.candidateTypes.set(label, types);
        }
        ws.send(m);
      });
    });
  }

  /** Close this participant's signaling connection and refuse new ones until restore(). */
  async cut(label: string): Promise<void> {
    this.cutOff.add(label);
    for (const ws of [...(this.live.get(label) ?? [])]) await ws.close({ code: 1011, reason: 'cut off by the test' });
  }

  /** Signaling works again for this participant: its next attempt (within socket.io's backoff) connects. */
  restore(label: string): void {
    this.cutOff.delete(label);
  }
}

declare global {
  interface Window {
    __rtcProbe?: { pcs: RTCPeerConnection[] };
    __channels?: { channels: RTCDataChannel[]; closed: number; received: string[] };
  }
}

/**
 * Every data channel the context's pages open or accept, however the page listens for them
 * (ondatachannel or addEventListener): kept in `window.__channels` with how many have closed and,
 * as text, everything received on them. Before goto. Read by support/collab.ts (what a peer was
 * sent) and support/hostile.ts (raw frames on a modified page's channels).
 */
export async function watchChannels(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const watched = { channels: [] as RTCDataChannel[], closed: 0, received: [] as string[] };
    window.__channels = watched;
    const decoder = new TextDecoder('utf-8', { fatal: false });
    const keep = (ch: RTCDataChannel) => {
      watched.channels.push(ch);
      ch.addEventListener('close', () => watched.closed++);
      ch.addEventListener('message', (e: MessageEvent) => {
        const d: unknown = e.data;
        if (typeof d === 'string') watched.received.push(d);
        else if (d instanceof ArrayBuffer) watched.received.push(decoder.decode(d));
        else if (ArrayBuffer.isView(d)) watched.received.push(decoder.decode(d));
        else if (d instanceof Blob) void d.text().then((t) => watched.received.push(t));
      });
    };
    const Native = window.RTCPeerConnection;
    const create = Native.prototype.createDataChannel;
    Native.prototype.createDataChannel = function (this: RTCPeerConnection, ...args: Parameters<typeof create>) {
      const ch = create.apply(this, args);
      keep(ch);
      return ch;
    };
    const addListener = Native.prototype.addEventListener;
    const seen = new WeakSet<RTCPeerConnection>();
    const hook = (pc: RTCPeerConnection) => {
      if (seen.has(pc)) return;
      seen.add(pc);
      addListener.call(pc, 'datachannel', ((e: RTCDataChannelEvent) => keep(e.channel)) as EventListener);
    };
    const ondc = Object.getOwnPropertyDescriptor(Native.prototype, 'ondatachannel');
    Object.defineProperty(Native.prototype, 'ondatachannel', {
      configurable: true,
      get() {
        return ondc?.get?.call(this);
      },
      set(v) {
        hook(this as RTCPeerConnection);
        ondc?.set?.call(this, v);
      },
    });
    Native.prototype.addEventListener = function (this: RTCPeerConnection, ...args: Parameters<typeof addListener>) {
      hook(this);
      return addListener.apply(this, args);
    };
  });
}

/** Record every RTCPeerConnection the context's pages create (runs before any page script). */
export async function instrumentRtc(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    const probe = { pcs: [] as RTCPeerConnection[] };
    window.__rtcProbe = probe;
    const Wrapped = function (this: unknown, ...args: ConstructorParameters<typeof RTCPeerConnection>) {
      const pc = new Native(...args);
      probe.pcs.push(pc);
      return pc;
    } as unknown as typeof RTCPeerConnection;
    Wrapped.prototype = Native.prototype;
    Object.defineProperty(Wrapped, 'generateCertificate', { value: Native.generateCertificate.bind(Native) });
    window.RTCPeerConnection = Wrapped;
  });
}

export interface RtcSummary {
  /**
   * Peer connections the page created and negotiated (a description set). The one the Join Us and
   * help forms make and close at once, ahead of need (decision 0025), is not counted.
   */
  created: number;
  /** Every one the page created, that one included. */
  made: number;
  connected: number;
  /** For each connected peer connection: the local and remote candidate types of the selected pair. */
  selected: { local: string; remote: string }[];
}

export async function rtcSummary(page: Page): Promise<RtcSummary> {
  return page.evaluate(async () => {
    const pcs = window.__rtcProbe?.pcs ?? [];
    const selected: { local: string; remote: string }[] = [];
    for (const pc of pcs) {
      if (pc.connectionState !== 'connected') continue;
      const stats = await pc.getStats();
      let pairId: string | undefined;
      stats.forEach((r: { type: string; selectedCandidatePairId?: string }) => {
        if (r.type === 'transport' && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
      });
      const pair = pairId ? (stats.get(pairId) as { localCandidateId: string; remoteCandidateId: string } | undefined) : undefined;
      if (!pair) continue;
      const type = (id: string) => (stats.get(id) as { candidateType?: string } | undefined)?.candidateType ?? 'unknown';
      selected.push({ local: type(pair.localCandidateId), remote: type(pair.remoteCandidateId) });
    }
    const negotiated = pcs.filter((pc) => pc.localDescription !== null || pc.remoteDescription !== null);
    return { created: negotiated.length, made: pcs.length, connected: pcs.filter((pc) => pc.connectionState === 'connected').length, selected };
  });
}
