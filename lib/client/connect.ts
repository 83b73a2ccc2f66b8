'use client';
/** Opens the browser's one socket.io connection (a chunk of its own: see app/_components/hooks.ts). */
import { io } from 'socket.io-client';
import { signalingOrigin, type ClientSocket } from './socket';

export function connectSocket(): ClientSocket {
  const options = { transports: ['websocket'], reconnectionDelay: 250, reconnectionDelayMax: 2000, timeout: 6000 };
  // WebSocket only: no long-polling fallback, so several signaling nodes need no sticky sessions.
  // A connection attempt that has not completed in 6 s is given up and tried again (socket.io waits
  // 20 s by default): a handshake lost on the way must not keep the page "reconnecting" for long.
  const origin = signalingOrigin();
  return origin ? io(origin, options) : io(options);
}
