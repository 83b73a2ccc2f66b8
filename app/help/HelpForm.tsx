'use client';
/** The customer's entry: ask for help, wait with the queue position shown, land in the session. */
import { useEffect, useRef, useState } from 'react';
import { Limits, type ProtocolError } from '@/lib/protocol';
import { request } from '@/lib/client/socket';
import { mark } from '@/lib/marks';
import { storageKeys, useSocket } from '../_components/hooks';
import { preloadSessionView, useSessionHandoff } from '../_components/SessionHandoff';

interface Waiting {
  requestToken: string;
  position: number;
  /** The queue version the position is as of: an older one never overwrites a newer (issue 9). */
  version: number;
}

/** The newer of two places in the queue (a batch of positions and an answer may cross). */
const newer = (w: Waiting, at: { position: number; version: number }): Waiting =>
  at.version >= w.version ? { ...w, position: at.position, version: at.version } : w;

export function HelpForm() {
  const { socket, connected, trouble } = useSocket();
  const { open, enter } = useSessionHandoff();
  const [name, setName] = useState('');
  const [topic, setTopic] = useState('');
  const [waiting, setWaiting] = useState<Waiting | null>(null);
  const [error, setError] = useState<ProtocolError | null>(null);
  const [busy, setBusy] = useState(false);
  /**
   * The newest place heard on this connection, even before the request or resume was answered: the
   * server tells a place once, and it may arrive ahead of an answer that is older than it.
   */
  const heard = useRef<{ position: number; version: number } | null>(null);
  /** The answer's place, or the newer one heard ahead of it. */
  const placed = (requestToken: string, answer: { position: number; version: number }): Waiting => {
    const h = heard.current;
    return newer({ requestToken, ...answer }, h && h.version > answer.version ? h : answer);
  };

  useEffect(() => {
    if (!socket) return;
    const admitted = ({ sessionId }: { sessionId: string }) => {
      const token = sessionStorage.getItem(storageKeys.request);
      if (!token) return;
      sessionStorage.removeItem(storageKeys.request);
      void enter(socket, sessionId, token);
    };
    const position = (at: { position: number; version: number }) => {
      if (!heard.current || at.version >= heard.current.version) heard.current = at;
      setWaiting((w) => (w ? newer(w, at) : w));
    };
    // Coming back (reload or reconnect) while waiting: pick the request up again.
    const resume = async () => {
      const token = sessionStorage.getItem(storageKeys.request);
      if (!token) return;
      // Waiting for an agent: the session view's code comes meanwhile.
      void preloadSessionView().catch(() => {});
      const r = await request(socket, 'customer:resume', { requestToken: token });
      if (!r.ok) {
        // Only a request the server no longer knows is gone; a timeout keeps the place in the queue.
        if (r.error.reason === 'not_found') {
          sessionStorage.removeItem(storageKeys.request);
          setWaiting(null);
        }
        setError(r.error);
        return;
      }
      setError(null);
      if ('admitted' in r) admitted(r.admitted);
      else setWaiting((w) => (w?.requestToken === token ? newer(w, r) : placed(token, r)));
    };
    socket.on('customer:admitted', admitted);
    socket.on('queue:position', position);
    const onConnect = () => {
      heard.current = null; // a new connection: what the old one heard is no guide
      void resume();
    };
    socket.on('connect', onConnect);
    if (socket.connected) void resume();
    return () => {
      socket.off('customer:admitted', admitted);
      socket.off('queue:position', position);
      socket.off('connect', onConnect);
    };
  }, [socket, enter]);

  useEffect(() => mark('joinus:form-ready'), []);
  useEffect(() => {
    if (connected) mark('joinus:connected');
  }, [connected]);
  const start = async () => {
    if (!socket) return;
    setBusy(true);
    setError(null);
    void preloadSessionView().catch(() => {});
    const r = await request(socket, 'customer:request', { name, topic });
    setBusy(false);
    if (!r.ok) return setError(r.error);
    sessionStorage.setItem(storageKeys.request, r.requestToken);
    setWaiting(placed(r.requestToken, r));
  };

  const cancel = async () => {
    if (!socket || !waiting) return;
    await request(socket, 'customer:cancel', { requestToken: waiting.requestToken });
    heard.current = null;
    sessionStorage.removeItem(storageKeys.request);
    setWaiting(null);
  };

  if (open) return <open.View sessionId={open.sessionId} handedOver={open.conn} />;

  if (waiting) {
    return (
      <div className="card narrow stack">
        <h1>Thanks{name ? `, ${name}` : ''}. An agent will be with you shortly.</h1>
        <p role="status" className="lead" aria-live="polite">
          {waiting.position === 1
            ? 'You are next in the queue (position 1).'
            : `You are number ${waiting.position} in the queue.`}
        </p>
        {!connected ? <p className="alert info" role="status">Connection lost. Reconnecting… you keep your place.</p> : null}
        <p className="status-note">Keep this page open. The session opens here as soon as an agent accepts.</p>
        <div>
          <button type="button" className="secondary" onClick={() => void cancel()}>
            Cancel request
          </button>
        </div>
      </div>
    );
  }

  return (
    <form
      className="card narrow stack"
      onSubmit={(e) => {
        e.preventDefault();
        void start();
      }}
    >
      <div>
        <h1>Get help</h1>
        <p className="status-note">Tell us who you are and what you need. You can chat with an agent and share your screen with them.</p>
      </div>
      <label className="field">
        Your name
        <input value={name} onChange={(e) => setName(e.target.value)} maxLength={Limits.nameChars} autoComplete="name" required />
      </label>
      <label className="field">
        How can we help?
        <textarea value={topic} onChange={(e) => setTopic(e.target.value)} maxLength={Limits.topicChars} />
      </label>
      {error ? <div role="alert" className="alert">{error.message}</div> : null}
      {trouble && !connected ? (
        <div role="alert" className="alert">We cannot reach the service right now. We keep trying; check your connection.</div>
      ) : null}
      <button type="submit" disabled={busy || !connected || name.trim().length === 0}>
        {busy ? 'Starting…' : 'Start session'}
      </button>
    </form>
  );
}
