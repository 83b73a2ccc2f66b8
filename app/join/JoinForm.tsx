'use client';
/** The third party's entry (steps 3–4): name and handle, then straight into the session. */
import { useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';
import { Limits, type ProtocolError } from '@/lib/protocol';
import { requestWithProof } from '@/lib/client/proof';
import { storageKeys, useNow, useSocket } from '../_components/hooks';

export function JoinForm() {
  const router = useRouter();
  const { socket, connected, trouble } = useSocket();
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
  }, []);
  const waitLeft = error?.until ? Math.max(0, Math.ceil((error.until - now) / 1000)) : 0;

  const join = async () => {
    if (!socket) return;
    setBusy(true);
    setError(null);
    const r = await requestWithProof(socket, 'handle:login', { name, handle }, setChecking);
    if (!r.ok) {
      setBusy(false);
      setError({ ...r.error, ...(r.error.retryAfterMs ? { until: Date.now() + r.error.retryAfterMs } : {}) });
      return;
    }
    sessionStorage.setItem(storageKeys.credential(r.sessionId), r.credential);
    router.push(`/session/${r.sessionId}`);
  };

  const blocked = waitLeft > 0;
  return (
    <form
      className="card narrow stack"
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
