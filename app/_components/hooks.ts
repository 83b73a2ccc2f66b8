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

/**
 * One socket per tab, shared by the pages that use it and kept across client-side navigation: from
 * /join or /help to the session view the connection is already open, so the session attaches at
 * once instead of after a new handshake. Closed a few seconds after its last user unmounts.
 */
const IDLE_CLOSE_MS = 5000;
let shared: { socket: ClientSocket; users: number; closeTimer: ReturnType<typeof setTimeout> | null } | null = null;

function acquireSocket(): ClientSocket {
  shared ??= { socket: connectSocket(), users: 0, closeTimer: null };
  if (shared.closeTimer) clearTimeout(shared.closeTimer);
  shared.closeTimer = null;
  shared.users++;
  return shared.socket;
}

function releaseSocket(socket: ClientSocket): void {
  const s = shared;
  if (!s || s.socket !== socket) return;
  s.users--;
  if (s.users > 0) return;
  s.closeTimer = setTimeout(() => {
    if (s.users > 0) return;
    s.socket.disconnect();
    if (shared === s) shared = null;
  }, IDLE_CLOSE_MS);
}

/** The tab's socket for this component's lifetime, with its connection state. */
export function useSocket(): SocketState {
  const [state, setState] = useState<SocketState>({ socket: null, connected: false, trouble: false });
  useEffect(() => {
    const socket = acquireSocket();
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
      releaseSocket(socket);
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
