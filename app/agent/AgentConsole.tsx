'use client';
/** The agent's console: sign-in, the customer queue (S1), several sessions (S6), Join Us (H1–H9). */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { AgentSessionSummary, ProtocolError, QueueSnapshot } from '@/lib/protocol';
import { requestWithProof } from '@/lib/client/proof';
import { request, type ClientSocket } from '@/lib/client/socket';
import { SessionConnection } from '@/lib/client/session-connection';
import { RemoteVoices, useMedia } from '@/features/media/MediaControls';
import { storageKeys, useNow, useSessionSnapshot, useSocket } from '../_components/hooks';
import { AgentSessionView } from './AgentSessionView';
import { useQueueFeed, WaitingCustomers } from './WaitingCustomers';

type Auth = { state: 'checking' } | { state: 'signed-out' } | { state: 'signed-in'; name: string };

interface OpenSession {
  summary: Omit<AgentSessionSummary, 'credential'>;
  conn: SessionConnection;
}

/** Does `list` name a session this console does not hold yet? */
function hasUnknown(held: OpenSession[], list: { sessionId: string }[]): boolean {
  const known = new Set(held.map((o) => o.summary.sessionId));
  return list.some((x) => !known.has(x.sessionId));
}

export function AgentConsole() {
  const { socket, connected, trouble } = useSocket();
  const [auth, setAuth] = useState<Auth>({ state: 'checking' });
  const queue = useQueueFeed(socket, auth.state === 'signed-in');
  const startQueue = queue.start;
  const clearQueue = queue.clear;
  const [sessions, setSessions] = useState<OpenSession[]>([]);
  const [active, setActive] = useState<string | null>(null);
  const [queueError, setQueueError] = useState<string | null>(null);
  const sessionsRef = useRef<OpenSession[]>([]);
  /**
   * Accepts under way in this tab, and the session list that arrived meanwhile: the accepted session
   * is in it before the accept is answered, and is not "accepted in another tab".
   */
  const accepting = useRef(0);
  const listDuringAccept = useRef<{ sessionId: string }[] | null>(null);
  const resumeRef = useRef<() => Promise<void>>(async () => {});
  useEffect(() => {
    sessionsRef.current = sessions;
  }, [sessions]);

  const adopt = useCallback(
    (s: ClientSocket, list: AgentSessionSummary[]) => {
      const known = new Set(sessionsRef.current.map((o) => o.summary.sessionId));
      const fresh = list
        .filter((x) => !known.has(x.sessionId))
        .map(({ credential, ...summary }) => ({ summary, conn: new SessionConnection(s, summary.sessionId, credential) }));
      if (fresh.length === 0) return;
      sessionsRef.current = [...sessionsRef.current, ...fresh];
      setSessions((prev) => [...prev, ...fresh]);
      setActive((a) => a ?? fresh[0]!.summary.sessionId);
    },
    [],
  );

  // Every (re)connection re-authenticates the socket: agent rights belong to a connection.
  useEffect(() => {
    if (!socket) return;
    const resume = async () => {
      const token = localStorage.getItem(storageKeys.agentToken);
      if (!token) return setAuth({ state: 'signed-out' });
      const r = await request(socket, 'agent:resume', { token });
      if (!r.ok) {
        if (r.error.reason === 'unauthorized') localStorage.removeItem(storageKeys.agentToken);
        return setAuth({ state: 'signed-out' });
      }
      setAuth({ state: 'signed-in', name: r.name });
      startQueue(r.queue);
      adopt(socket, r.sessions);
    };
    resumeRef.current = resume;
    const onSessions = ({ sessions: list }: { sessions: Omit<AgentSessionSummary, 'credential'>[] }) => {
      if (accepting.current > 0) {
        listDuringAccept.current = list;
        return;
      }
      // A session accepted in another tab of this agent: fetch a credential for this console.
      if (hasUnknown(sessionsRef.current, list)) void resume();
    };
    socket.on('connect', resume);
    socket.on('agent:sessions', onSessions);
    if (socket.connected) void resume();
    return () => {
      socket.off('connect', resume);
      socket.off('agent:sessions', onSessions);
    };
  }, [socket, adopt, startQueue]);

  useEffect(
    () => () => {
      for (const s of sessionsRef.current) s.conn.destroy();
    },
    [],
  );

  if (!socket || auth.state === 'checking') {
    return <p className="status-note" role="status">{trouble ? 'Cannot reach the server. Retrying…' : 'Loading the console…'}</p>;
  }

  if (auth.state === 'signed-out') {
    return (
      <SignIn
        socket={socket}
        connected={connected}
        onSignedIn={(name, token, q, list) => {
          localStorage.setItem(storageKeys.agentToken, token);
          setAuth({ state: 'signed-in', name });
          startQueue(q);
          adopt(socket, list);
        }}
      />
    );
  }

  const accept = async (requestId: string) => {
    setQueueError(null);
    accepting.current++;
    try {
      const r = await request(socket, 'queue:accept', { requestId });
      if (!r.ok) return setQueueError(r.error.message);
      adopt(socket, [r.session]);
      setActive(r.session.sessionId);
    } finally {
      accepting.current--;
      const list = listDuringAccept.current;
      if (accepting.current === 0 && list) {
        listDuringAccept.current = null;
        // Another tab may have accepted meanwhile too.
        if (hasUnknown(sessionsRef.current, list)) void resumeRef.current();
      }
    }
  };

  const signOut = async () => {
    await request(socket, 'agent:signOut', {});
    localStorage.removeItem(storageKeys.agentToken);
    clearQueue();
    for (const s of sessions) s.conn.destroy();
    setSessions([]);
    setActive(null);
    setAuth({ state: 'signed-out' });
  };

  const close = (sessionId: string) => {
    const s = sessions.find((o) => o.summary.sessionId === sessionId);
    s?.conn.destroy();
    const rest = sessions.filter((o) => o.summary.sessionId !== sessionId);
    setSessions(rest);
    if (active === sessionId) setActive(rest[0]?.summary.sessionId ?? null);
  };

  const current = sessions.find((s) => s.summary.sessionId === active) ?? null;

  return (
    <div className="stack">
      <div className="row" style={{ justifyContent: 'space-between' }}>
        <h1 style={{ margin: 0 }}>Agent console</h1>
        <div className="row">
          <span className={`pill ${connected ? 'ok' : 'warn'}`} role="status">
            <span className="dot" />
            {connected ? `Signed in as ${auth.name}` : 'Reconnecting…'}
          </span>
          <button type="button" className="secondary small" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </div>
      <div className="console">
        <div className="side">
          <section className="card">
            <h2 id="queue-heading">Waiting customers</h2>
            <WaitingCustomers feed={queue} onAccept={(id) => void accept(id)} />
            {queueError ? <div role="alert" className="alert" style={{ marginTop: 10 }}>{queueError}</div> : null}
          </section>
          <section className="card">
            <h2>Your sessions</h2>
            {sessions.length === 0 ? (
              <p className="empty">No sessions yet. Accept a waiting customer to start one.</p>
            ) : (
              <ul className="session-tabs" aria-label="Your sessions">
                {sessions.map((s) => (
                  <SessionTab
                    key={s.summary.sessionId}
                    session={s}
                    active={s.summary.sessionId === active}
                    onSelect={() => setActive(s.summary.sessionId)}
                  />
                ))}
              </ul>
            )}
          </section>
        </div>
        <div>
          {current ? (
            <AgentSessionView
              key={current.summary.sessionId}
              socket={socket}
              conn={current.conn}
              summary={current.summary}
              onClose={() => close(current.summary.sessionId)}
            />
          ) : (
            <div className="card">
              <h2>No active session</h2>
              <p className="status-note">Customers asking for help appear under “Waiting customers”. Accept one to open the session here.</p>
            </div>
          )}
        </div>
      </div>
    </div>
  );
}

function SessionTab({ session, active, onSelect }: { session: OpenSession; active: boolean; onSelect: () => void }) {
  const snap = useSessionSnapshot(session.conn);
  const media = useMedia(session.conn.media);
  const over = snap ? ['ended', 'removed', 'refused'].includes(snap.phase.kind) : false;
  return (
    <li>
      <button type="button" className="session-tab" aria-current={active ? 'true' : undefined} onClick={onSelect}>
        <span>{session.summary.customerName}</span>
        <span className="row">
          {/* Voice and a share go on while another session is shown: say so where the agent looks. */}
          {media.voice === 'on' ? <span className="pill ok">{media.muted ? 'in voice, muted' : 'in voice'}</span> : null}
          {media.screen === 'on' ? <span className="pill bad">sharing</span> : null}
          <span className={`pill ${over ? 'bad' : 'ok'}`}>{over ? 'ended' : active ? 'active' : 'open'}</span>
        </span>
      </button>
      <RemoteVoices conn={session.conn} />
    </li>
  );
}

function SignIn({
  socket,
  connected,
  onSignedIn,
}: {
  socket: ClientSocket;
  connected: boolean;
  onSignedIn: (name: string, token: string, queue: QueueSnapshot, sessions: AgentSessionSummary[]) => void;
}) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<ProtocolError | null>(null);
  const [busy, setBusy] = useState(false);
  /** Many failed sign-ins for this account: why the browser is checking, while it does. */
  const [checking, setChecking] = useState<string | null>(null);
  /** Too many failed sign-ins: the button waits as long as the message says. */
  const [waitUntil, setWaitUntil] = useState(0);
  const now = useNow(1000);
  const waiting = waitUntil > now;
  return (
    <form
      className="card narrow stack"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        const r = await requestWithProof(socket, 'agent:signIn', { username, password }, setChecking);
        setBusy(false);
        if (!r.ok) {
          if (r.error.retryAfterMs) setWaitUntil(Date.now() + r.error.retryAfterMs);
          return setError(r.error);
        }
        onSignedIn(r.name, r.token, r.queue, r.sessions);
      }}
    >
      <div>
        <h1>Agent sign-in</h1>
        <p className="status-note">Sign in to see waiting customers and your sessions.</p>
      </div>
      <label className="field">
        Username
        <input value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username" required />
      </label>
      <label className="field">
        Password
        <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="current-password" required />
      </label>
      {error ? <div role="alert" className="alert">{error.message}</div> : null}
      {checking ? (
        <div role="status" className="status-note">
          Checking your browser before signing in (about a second)…
          <div className="hint">{checking}</div>
        </div>
      ) : null}
      {!connected ? <p className="status-note" role="status">Connecting to the server…</p> : null}
      <button type="submit" disabled={busy || waiting || !connected}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}
