'use client';
/** The third party's entry (steps 3–4): name and handle, then straight into the session. */
import { useEffect, useState } from 'react';
import { Limits, type ProtocolError } from '@/lib/protocol';
import { requestWithProof } from '@/lib/client/proof';
import { mark } from '@/lib/marks';
import { captureEvents } from '@/lib/client/socket';
import type { NewTabKeys } from '@/lib/collab/authorship';
import { useNow, useSocket } from '../_components/hooks';
import { preloadSessionView, useSessionHandoff } from '../_components/SessionHandoff';

/**
 * The tab's key pair for the session to come, made while the person types (WebCrypto takes a few
 * milliseconds) and sent with the handle; null where WebCrypto is missing (not a secure context: the
 * session view then says what is needed).
 */
let keysMade: Promise<NewTabKeys | null> | null = null;
function prepareKeys(): Promise<NewTabKeys | null> {
  keysMade ??= globalThis.crypto?.subtle
    ? import('@/lib/collab/authorship').then((m) => m.newTabKeys()).catch(() => null)
    : Promise.resolve(null);
  return keysMade;
}

export function JoinForm() {
  // The connection (and the session's code and key) are fetched once someone starts on the form,
  // or at once when an invite link brought the handle: the page itself ships only the form.
  const [started, setStarted] = useState(false);
  const { socket, connected, trouble } = useSocket(started);
  const start = () => {
    setStarted(true);
    void preloadSessionView().catch(() => {});
    void prepareKeys();
  };
  const { open, enter } = useSessionHandoff();
  const [name, setName] = useState('');
  const [handle, setHandle] = useState('');
  const [error, setError] = useState<(ProtocolError & { until?: number }) | null>(null);
  const [busy, setBusy] = useState(false);
  /** H8 under pressure: why the browser is checking, shown while it does. */
  const [checking, setChecking] = useState<string | null>(null);
  const now = useNow(1000);

  // An invite link carries the handle in the fragment (never sent to a server or in a Referer):
  // take it into the form, then out of the address bar and the history.
  useEffect(() => {
    const fromLink = new URLSearchParams(window.location.hash.slice(1)).get('handle');
    if (!fromLink) return;
    // eslint-disable-next-line react-hooks/set-state-in-effect -- read once from the address bar, an external system
    setHandle(fromLink.slice(0, Limits.handleInputChars));
    window.history.replaceState(window.history.state, '', window.location.pathname + window.location.search);
    // The handle is here: joining is the next thing this person does.
    start();
  }, []);
  useEffect(() => mark('joinus:form-ready'), []);
  useEffect(() => {
    if (connected) mark('joinus:connected');
  }, [connected]);
  const waitLeft = error?.until ? Math.max(0, Math.ceil((error.until - now) / 1000)) : 0;

  const join = async () => {
    if (!socket) return;
    setBusy(true);
    setError(null);
    void preloadSessionView().catch(() => {});
    // The tab's key goes with the handle, so a party let in at once is attached in the same round
    // trip; what the session's room says from then until the view listens is kept.
    const keys = await prepareKeys();
    const heard = captureEvents(socket);
    const r = await requestWithProof(socket, 'handle:login', { name, handle, ...(keys ? { publicKey: keys.publicKey } : {}) }, setChecking);
    if (!r.ok) {
      heard.take();
      setBusy(false);
      setError({ ...r.error, ...(r.error.retryAfterMs ? { until: Date.now() + r.error.retryAfterMs } : {}) });
      return;
    }
    mark('joinus:login');
    if (keys) {
      (await import('@/lib/collab/authorship')).keepTabKeys(r.sessionId, keys);
      keysMade = null; // spent: a pair is never used for two sessions
    }
    await enter(socket, r.sessionId, r.credential, { ...(keys ? { keys } : {}), ...(r.attached ? { attached: r.attached } : {}), heard });
  };

  if (open) return <open.View sessionId={open.sessionId} handedOver={open.conn} />;

  const blocked = waitLeft > 0;
  return (
    <form
      className="card narrow stack"
      // The session view's code is fetched as soon as someone starts on the form (not with the page).
      onFocus={start}
      onPointerDown={start}
      onSubmit={(e) => {
        e.preventDefault();
        void join();
      }}
    >
      <div>
        <h1>Join a session</h1>
        <p className="status-note">
          Enter your name and the handle the agent or the customer gave you. A handle works once.
        </p>
      </div>
      <label className="field">
        Your name
        <input value={name} onChange={(e) => setName(e.target.value)} maxLength={Limits.nameChars} autoComplete="name" required />
      </label>
      <label className="field">
        Handle
        <input
          value={handle}
          onChange={(e) => setHandle(e.target.value)}
          maxLength={Limits.handleInputChars}
          autoComplete="off"
          autoCapitalize="none"
          spellCheck={false}
          placeholder="for example amber-otter-48213"
          required
        />
      </label>
      {error ? (
        <div role="alert" className="alert">
          {error.message}
          {error.attemptsLeft !== undefined ? (
            <div className="hint">
              {error.attemptsLeft === 0
                ? 'From now on each attempt starts with a short check by your browser (about a second).'
                : `${error.attemptsLeft} attempt${error.attemptsLeft === 1 ? '' : 's'} left before each one needs a short check.`}
            </div>
          ) : null}
        </div>
      ) : null}
      {checking ? (
        <div role="status" className="status-note">
          Checking your browser before the handle is tried (about a second)…
          <div className="hint">{checking}</div>
        </div>
      ) : null}
      {trouble && !connected ? (
        <div role="alert" className="alert">We cannot reach the service right now. We keep trying; check your connection.</div>
      ) : null}
      <button type="submit" disabled={busy || blocked || !connected || !name.trim() || !handle.trim()}>
        {checking ? 'Checking…' : busy ? 'Joining…' : 'Join Us'}
      </button>
    </form>
  );
}
