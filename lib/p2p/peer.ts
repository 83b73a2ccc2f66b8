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
  /** Stream write: holds frames back while the channel's buffer is full (backpressure). */
  write(chunk: Uint8Array): unknown;
  destroy(): void;
  /** The underlying RTCPeerConnection, where there is one (diagnostics only). */
  readonly _pc?: RTCPeerConnection;
}

export interface PeerFactoryOptions {
  initiator: boolean;
  config: RTCConfiguration;
}

export type PeerFactory = (opts: PeerFactoryOptions) => PeerLike;

/** Real WebRTC through simple-peer; `wrtc` for Node (e.g. @roamhq/wrtc), browsers use their own. */
export function simplePeerFactory(wrtc?: SimplePeer.Options['wrtc']): PeerFactory {
  return ({ initiator, config }) =>
    new SimplePeer({ initiator, trickle: true, config, ...(wrtc ? { wrtc } : {}) }) as unknown as PeerLike;
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
