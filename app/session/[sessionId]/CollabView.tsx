'use client';
/** The customer's and every joined party's collaboration view. Survives a reload (S3). */
import Link from 'next/link';
import { memo, useEffect, useState, useSyncExternalStore } from 'react';
import type { SessionConnection } from '@/lib/client/session-connection';
import { acquireSession, releaseSession } from '@/lib/client/open-sessions';
import { SessionPanel } from '../../_components/SessionPanel';
import { RemoteVoices } from '@/features/media/MediaControls';
import { storageKeys, useSessionSnapshot, useSocket } from '../../_components/hooks';

const noSubscription = () => () => {};

/**
 * `handedOver`: the session's connection, opened by the Join Us or help page that shows this view in
 * its place and holds it while it lives (decision 0014). The view then renders the session in its
 * first render, instead of a placeholder, then the socket, then the session (three commits).
 * Memoised: the page re-rendering (the address changing to the session's) leaves the session view
 * alone.
 */
export const CollabView = memo(function CollabView({ sessionId, handedOver }: { sessionId: string; handedOver?: SessionConnection }) {
  const { socket, trouble } = useSocket(!handedOver);
  // undefined while rendering on the server; the tab's stored credential (or null) in the browser.
  const credential = useSyncExternalStore(
    noSubscription,
    () => sessionStorage.getItem(storageKeys.credential(sessionId)),
    () => undefined,
  );
  const [conn, setConn] = useState<SessionConnection | null>(handedOver ?? null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const snap = useSessionSnapshot(conn);

  useEffect(() => {
    if (handedOver || !socket || !credential) return;
    // The tab's connection to this session, opened here (a reload, a bookmark): an external system
    // held for this effect's lifetime; React state only names it.
    const c = acquireSession(socket, sessionId, credential);
    setConn(c);
    return () => {
      releaseSession(c);
      setConn(null);
    };
  }, [handedOver, socket, credential, sessionId]);

  if (credential === null) {
    return (
      <div className="card narrow stack">
        <h1>Session not open here</h1>
        <div role="alert" className="alert">
          This browser tab has no access to that session. If you were invited, enter your handle on the Join Us page;
          if you asked for help, start a new session.
        </div>
        <div className="row">
          <Link href="/join">Go to Join Us</Link>
          <Link href="/help">Get help</Link>
        </div>
      </div>
    );
  }
  if (!conn || !snap) {
    return (
      <p className="status-note" role="status">
        {trouble ? 'Cannot reach the server. Retrying…' : 'Opening the session…'}
      </p>
    );
  }

  const role = snap.me?.role;
  const phase = snap.phase;
  const act = async (what: 'end' | 'leave') => {
    setBusy(true);
    setActionError(null);
    const r = what === 'end' ? await conn.end() : await conn.leave();
    setBusy(false);
    if (!r.ok) setActionError(r.error.message);
  };

  const toolbar =
    phase.kind === 'live' || phase.kind === 'reconnecting' ? (
      role === 'customer' ? (
        <button type="button" className="danger" disabled={busy} onClick={() => void act('end')}>
          End session
        </button>
      ) : role === 'guest' ? (
        <button type="button" className="secondary" disabled={busy} onClick={() => void act('leave')}>
          Leave
        </button>
      ) : null
    ) : null;

  if (phase.kind === 'waiting') {
    return (
      <div className="card narrow stack">
        <h1>Almost there</h1>
        <p role="status" className="alert info">
          Waiting for the agent to let you in
        </p>
        <p className="status-note">
          The agent asks before admitting anyone to this session. Keep this page open: it opens the session as soon as
          you are let in.
        </p>
      </div>
    );
  }
  if ((phase.kind === 'refused' || phase.kind === 'ended') && snap.me === null) {
    // Never in the session (declined in the lobby, ended while waiting, a dead link): nothing to show.
    return (
      <div className="card narrow stack">
        <h1>{phase.kind === 'ended' ? 'Session ended' : 'Not admitted'}</h1>
        <div role="alert" className="alert">
          {phase.message}
        </div>
        <div className="row">
          <Link href="/join">Go to Join Us</Link>
          <Link href="/">Back to the start page</Link>
        </div>
      </div>
    );
  }

  return (
    <div className="stack">
      {phase.kind === 'ended' || phase.kind === 'removed' || phase.kind === 'refused' ? (
        <div role="alert" className="alert">
          {phase.message} You can still download the transcript below.{' '}
          {conn.localCopyDeleted ? 'This browser no longer keeps a copy of the session: download it now if you need it. ' : null}
          <Link href="/">Back to the start page</Link>
        </div>
      ) : null}
      {phase.kind === 'left' ? (
        <div role="alert" className="alert info">
          You left the session. You can still download the transcript below.{' '}
          {conn.localCopyDeleted ? 'This browser no longer keeps a copy of the session: download it now if you need it. ' : null}
          <Link href="/">Back to the start page</Link>
        </div>
      ) : null}
      {actionError ? <div role="alert" className="alert">{actionError}</div> : null}
      <SessionPanel conn={conn} snap={snap} title={conn.title === '' ? 'Session' : capitalise(conn.title)} toolbar={toolbar} />
      <RemoteVoices conn={conn} />
    </div>
  );
});

function capitalise(s: string) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
