'use client';
/**
 * The browser's socket to the signaling server: its type, a typed request helper. The socket.io
 * client itself is in connect.ts, loaded only when a page wants the connection (app/_components/hooks.ts).
 */
import type { Socket } from 'socket.io-client';
import type { Ack, AckData, ClientEvent, ClientToServerEvents, Payload, ServerToClientEvents } from '../protocol';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** The signaling nodes' origin when the pages are served elsewhere (JOINUS_SIGNALING_URL, via the layout). */
export function signalingOrigin(): string | undefined {
  const meta = typeof document === 'undefined' ? null : document.querySelector<HTMLMetaElement>('meta[name="joinus-signaling"]');
  return meta?.content || undefined;
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

/**
 * Everything the server says on `socket` from now until `take()`, which stops listening and returns
 * it in order. A login that attaches in its own round trip puts the socket in the session's rooms
 * before the page has a session connection to listen: what the room says meanwhile (a peer dialling
 * us, the directory) is kept here and handed to the connection when it is made.
 */
export function captureEvents(socket: ClientSocket): { take(): [string, unknown][] } {
  const heard: [string, unknown][] = [];
  const keep = (event: string, payload: unknown) => {
    heard.push([event, payload]);
  };
  socket.onAny(keep);
  return {
    take() {
      socket.offAny(keep);
      return heard.splice(0);
    },
  };
}
