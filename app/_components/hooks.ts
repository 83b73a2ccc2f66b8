'use client';
import { useEffect, useState, useSyncExternalStore } from 'react';
import type { ClientSocket } from '@/lib/client/socket';
import type { SessionConnection, SessionSnapshot } from '@/lib/client/session-connection';

export interface SocketState {
  socket: ClientSocket | null;
  connected: boolean;
  /** Set once the first connection attempt failed, so pages can say so instead of spinning. */
  trouble: boolean;
}

/**
 * One socket per tab, shared by the pages that use it and kept across client-side navigation: from
 * /join or /help to the session view the connection is already open, so the session attaches at
 * once instead of after a new handshake. Closed a few seconds after its last user unmounts.
 *
 * The socket.io client is a chunk of its own (lib/client/connect.ts), fetched when a page first
 * wants the connection: the Join Us page asks for it when someone starts on the form, so the page
 * itself stays light (decision 0014); the other pages ask at once.
 */
const IDLE_CLOSE_MS = 5000;
interface Shared {
  socket: Promise<ClientSocket>;
  users: number;
  closeTimer: ReturnType<typeof setTimeout> | null;
}
let shared: Shared | null = null;

function acquireSocket(): Promise<ClientSocket> {
  if (!shared) {
    const entry: Shared = {
      socket: import('@/lib/client/connect').then((m) => m.connectSocket()),
      users: 0,
      closeTimer: null,
    };
    // The chunk did not load (offline, a deploy replaced it): the next page that asks tries again.
    entry.socket.catch(() => {
      if (shared === entry) shared = null;
    });
    shared = entry;
  }
  if (shared.closeTimer) clearTimeout(shared.closeTimer);
  shared.closeTimer = null;
  shared.users++;
  return shared.socket;
}

function releaseSocket(): void {
  const s = shared;
  if (!s) return;
  s.users--;
  if (s.users > 0) return;
  s.closeTimer = setTimeout(() => {
    if (s.users > 0) return;
    void s.socket.then((socket) => socket.disconnect()).catch(() => {});
    if (shared === s) shared = null;
  }, IDLE_CLOSE_MS);
}

/**
 * The tab's socket for this component's lifetime, with its connection state. `wanted: false` holds
 * off (nothing is fetched or opened) until the page asks.
 */
export function useSocket(wanted = true): SocketState {
  const [state, setState] = useState<SocketState>({ socket: null, connected: false, trouble: false });
  useEffect(() => {
    if (!wanted) return;
    let live = true;
    let off = () => {};
    acquireSocket().then(
      (socket) => {
        if (!live) return;
        const update = (trouble: boolean) => setState({ socket, connected: socket.connected, trouble });
        const onConnect = () => update(false);
        const onDisconnect = () => update(false);
        const onError = () => update(true);
        socket.on('connect', onConnect);
        socket.on('disconnect', onDisconnect);
        socket.on('connect_error', onError);
        update(false);
        off = () => {
          socket.off('connect', onConnect);
          socket.off('disconnect', onDisconnect);
          socket.off('connect_error', onError);
        };
      },
      () => {
        if (live) setState({ socket: null, connected: false, trouble: true });
      },
    );
    return () => {
      live = false;
      off();
      releaseSocket();
    };
  }, [wanted]);
  return state;
}

const EMPTY: SessionSnapshot | null = null;
const noop = () => () => {};

export function useSessionSnapshot(conn: SessionConnection | null): SessionSnapshot | null {
  return useSyncExternalStore(
    conn ? conn.subscribe : noop,
    () => (conn ? conn.getSnapshot() : EMPTY),
    () => EMPTY,
  );
}

/** A clock for countdowns shown to people (rate-limit waits, handle expiry). */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
  return now;
}

export const storageKeys = {
  agentToken: 'joinus:agent-token',
  request: 'joinus:request',
  credential: (sessionId: string) => `joinus:credential:${sessionId}`,
};
