'use client';
import { useEffect, useState, useSyncExternalStore } from 'react';
import { connectSocket, type ClientSocket } from '@/lib/client/socket';
import type { SessionConnection, SessionSnapshot } from '@/lib/client/session-connection';

export interface SocketState {
  socket: ClientSocket | null;
  connected: boolean;
  /** Set once the first connection attempt failed, so pages can say so instead of spinning. */
  trouble: boolean;
}

/** Owns the page's one socket: opened on mount, closed on unmount. */
export function useSocket(): SocketState {
  const [state, setState] = useState<SocketState>({ socket: null, connected: false, trouble: false });
  useEffect(() => {
    const socket = connectSocket();
    const update = (trouble: boolean) => setState({ socket, connected: socket.connected, trouble });
    const onConnect = () => update(false);
    const onDisconnect = () => update(false);
    const onError = () => update(true);
    socket.on('connect', onConnect);
    socket.on('disconnect', onDisconnect);
    socket.on('connect_error', onError);
    update(false);
    return () => {
      socket.off('connect', onConnect);
      socket.off('disconnect', onDisconnect);
      socket.off('connect_error', onError);
      socket.disconnect();
    };
  }, []);
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
