'use client';
/** The browser's one socket.io connection to the signaling server, and a typed request helper. */
import { io, type Socket } from 'socket.io-client';
import type { Ack, AckData, ClientEvent, ClientToServerEvents, Payload, ServerToClientEvents } from '../protocol';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** The signaling nodes' origin when the pages are served elsewhere (JOINUS_SIGNALING_URL, via the layout). */
export function signalingOrigin(): string | undefined {
  const meta = typeof document === 'undefined' ? null : document.querySelector<HTMLMetaElement>('meta[name="joinus-signaling"]');
  return meta?.content || undefined;
}

export function connectSocket(): ClientSocket {
  const options = { transports: ['websocket'], reconnectionDelay: 250, reconnectionDelayMax: 2000, timeout: 6000 };
  // WebSocket only: no long-polling fallback, so several signaling nodes need no sticky sessions.
  // A connection attempt that has not completed in 6 s is given up and tried again (socket.io waits
  // 20 s by default): a handshake lost on the way must not keep the page "reconnecting" for long.
  const origin = signalingOrigin();
  return origin ? io(origin, options) : io(options);
}

const REQUEST_TIMEOUT_MS = 10_000;

/** Ask the server; every outcome, a timeout included, comes back as an Ack the page can show. */
export async function request<E extends ClientEvent>(
  socket: ClientSocket,
  event: E,
  payload: Payload<E>,
): Promise<Ack<AckData[E]>> {
  try {
    // The typed overloads do not resolve for a generic event name; the payload type is checked above.
    const timed = socket.timeout(REQUEST_TIMEOUT_MS) as unknown as {
      emitWithAck(e: E, p: Payload<E>): Promise<Ack<AckData[E]>>;
    };
    return await timed.emitWithAck(event, payload);
  } catch {
    return {
      ok: false,
      error: {
        reason: 'internal',
        message: 'The server did not answer. Check your connection; we keep trying to reconnect.',
      },
    };
  }
}
