'use client';
/** The third party's entry (steps 3–4): name and handle, then straight into the session. */
import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { Limits, type ProtocolError } from '@/lib/protocol';
import { request } from '@/lib/client/socket';
import { storageKeys, useNow, useSocket } from '../_components/hooks';

export function JoinForm() {
  const router = useRouter();
  const { socket, connected, trouble } = useSocket();
  const [name, setName] = useState('');
  const [handle, setHandle] = useState('');
  const [error, setError] = useState<(ProtocolError & { until?: number }) | null>(null);
  const [busy, setBusy] = useState(false);
  const now = useNow(1000);
  const waitLeft = error?.until ? Math.max(0, Math.ceil((error.until - now) / 1000)) : 0;

  const join = async () => {
    if (!socket) return;
    setBusy(true);
    setError(null);
    const r = await request(socket, 'handle:login', { name, handle });
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
          {error.reason === 'rate_limited' && blocked
            ? `Too many failed attempts. Wait ${waitLeft} second${waitLeft === 1 ? '' : 's'}, then try again.`
            : error.reason === 'rate_limited'
              ? 'You can try again now.'
              : error.message}
          {error.reason === 'rate_limited' ? (
            // The server's message says who is limited and the limit; its "Wait N seconds" was true
            // when it was sent, so leave it out: the line above counts down.
            <div className="hint">{error.message.replace(/\s*Wait \d+ seconds?, then try again\.?$/, '')}</div>
          ) : null}
          {error.attemptsLeft !== undefined && error.reason !== 'rate_limited' ? (
            <div className="hint">
              {error.attemptsLeft === 0
                ? 'That was the last attempt for now; the next one will have to wait.'
                : `${error.attemptsLeft} attempt${error.attemptsLeft === 1 ? '' : 's'} left before a short wait.`}
            </div>
          ) : null}
        </div>
      ) : null}
      {trouble && !connected ? (
        <div role="alert" className="alert">We cannot reach the service right now. We keep trying; check your connection.</div>
      ) : null}
      <button type="submit" disabled={busy || blocked || !connected || !name.trim() || !handle.trim()}>
        {busy ? 'Joining…' : 'Join Us'}
      </button>
    </form>
  );
}
