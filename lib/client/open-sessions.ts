'use client';
/**
 * The tab's open session connections, shared by whoever shows them. The Join Us form opens the
 * session the moment its handle is accepted, before the view that shows it has rendered (the mesh
 * starts dialling while React works), and the view then takes the same connection rather than
 * attaching a second time. A connection is destroyed once nobody holds it any more, a turn later,
 * so a view that unmounts and mounts again at once (React's strict mode) keeps it.
 */
import { SessionConnection, type SessionConnectionOptions } from './session-connection';
import type { ClientSocket } from './socket';

const open = new Map<string, { conn: SessionConnection; socket: ClientSocket; credential: string; users: number }>();

/**
 * This tab's connection to `sessionId` (opened now if there is none, with `init`), held until
 * `releaseSession`.
 */
export function acquireSession(
  socket: ClientSocket,
  sessionId: string,
  credential: string,
  init: Pick<SessionConnectionOptions, 'keys' | 'attached' | 'heardBefore'> = {},
): SessionConnection {
  const held = open.get(sessionId);
  if (held && held.socket === socket && held.credential === credential) {
    held.users++;
    return held.conn;
  }
  if (held) {
    // Another socket or credential (the page's socket was replaced): the old one goes.
    open.delete(sessionId);
    held.conn.destroy();
  }
  const conn = new SessionConnection(socket, sessionId, credential, init);
  open.set(sessionId, { conn, socket, credential, users: 1 });
  return conn;
}

export function releaseSession(conn: SessionConnection): void {
  const held = open.get(conn.sessionId);
  if (!held || held.conn !== conn) {
    conn.destroy();
    return;
  }
  held.users--;
  setTimeout(() => {
    if (held.users > 0 || open.get(conn.sessionId) !== held) return;
    open.delete(conn.sessionId);
    conn.destroy();
  }, 0);
}
