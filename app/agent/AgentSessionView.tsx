'use client';
/** One of the agent's sessions: transcript and presence, Options (Join Us, Push page, Share form, End session), moderation. */
import { useState } from 'react';
import type { AgentSessionSummary, LobbyEntry, ReservedHandle } from '@/lib/protocol';
import { clockTime } from '@/lib/ui/time';
import { request, type ClientSocket } from '@/lib/client/socket';
import type { SessionConnection } from '@/lib/client/session-connection';
import { SessionPanel } from '../_components/SessionPanel';
import { ToolPanel } from '../_components/ToolPanel';
import { useNow, useSessionSnapshot } from '../_components/hooks';

export function AgentSessionView({
  socket,
  conn,
  summary,
  onClose,
}: {
  socket: ClientSocket;
  conn: SessionConnection;
  summary: Omit<AgentSessionSummary, 'credential'>;
  onClose: () => void;
}) {
  const snap = useSessionSnapshot(conn);
  const [joinUsOpen, setJoinUsOpen] = useState(false);
  const [pushOpen, setPushOpen] = useState(false);
  const [shareOpen, setShareOpen] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!snap) return null;
  const live = snap.phase.kind === 'live' || snap.phase.kind === 'reconnecting';
  const title = `Session with ${summary.customerName}`;

  const onOption = async (value: string) => {
    setError(null);
    if (value === 'join-us') setJoinUsOpen(true);
    if (value === 'push-page') setPushOpen(true);
    if (value === 'share-form') setShareOpen(true);
    if (value === 'end') {
      const r = await conn.end();
      if (!r.ok) setError(r.error.message);
    }
  };

  const toolbar = live ? (
    <label className="row" style={{ gap: 6, fontWeight: 600, fontSize: 14 }}>
      Options
      <select
        aria-label="Options"
        value=""
        onChange={(e) => void onOption(e.target.value)}
        style={{ width: 'auto' }}
      >
        <option value="" disabled>
          Choose…
        </option>
        <option value="join-us">Join Us</option>
        <option value="push-page">Push page</option>
        <option value="share-form">Share form</option>
        <option value="end">End session</option>
      </select>
    </label>
  ) : (
    <button type="button" className="secondary small" onClick={onClose}>
      Close
    </button>
  );

  return (
    <div className="stack">
      {summary.topic ? <p className="status-note" style={{ margin: 0 }}>Customer’s request: {summary.topic}</p> : null}
      {snap.phase.kind === 'ended' || snap.phase.kind === 'refused' ? (
        <div role="alert" className="alert">
          {'message' in snap.phase ? snap.phase.message : ''} You can still download the transcript.
          {conn.localCopyDeleted ? ' This browser no longer keeps a copy of the session: download it now if you need it.' : ''}
        </div>
      ) : null}
      {error ? <div role="alert" className="alert">{error}</div> : null}
      {joinUsOpen && live ? (
        <JoinUsControls
          socket={socket}
          conn={conn}
          handles={snap.handles}
          lobbyOn={snap.lobby.enabled}
          onDone={() => setJoinUsOpen(false)}
        />
      ) : null}
      {live && snap.lobby.waiting.length > 0 ? <Lobby conn={conn} waiting={snap.lobby.waiting} onError={setError} /> : null}
      <SessionPanel
        conn={conn}
        snap={snap}
        title={title}
        toolbar={toolbar}
        canExportJson
        pushPage={{ open: pushOpen, onClose: () => setPushOpen(false) }}
        shareForm={{ open: shareOpen, onClose: () => setShareOpen(false) }}
        localNotes={
          joinUsOpen && live ? (
            <div className="sys help">
              <strong>Join Us:</strong> type a handle for the person you want to invite (4–32 letters, digits or
              hyphens) or press Suggest, then OK. Then tell them to open <strong>{joinUrl()}</strong> and enter the
              handle. It works once, and only while this session lasts.
            </div>
          ) : null
        }
        participantAction={(p) =>
          live && p.role === 'guest' && !p.gone ? (
            <button
              type="button"
              className="secondary small"
              onClick={async () => {
                const r = await conn.remove(p.participantId, p.name);
                if (!r.ok) setError(r.error.message);
              }}
            >
              Remove
            </button>
          ) : null
        }
      />
    </div>
  );
}

function joinUrl(): string {
  return typeof window === 'undefined' ? '/join' : `${window.location.origin}/join`;
}

/**
 * Invite link: the Join Us address with the handle in the fragment, which browsers never send to a
 * server or in a Referer; the Join Us page reads it and takes it out of the address bar.
 */
function inviteLink(handle: string): string {
  return `${joinUrl()}#handle=${encodeURIComponent(handle)}`;
}

/** Admission lobby: who waits to be let in, with Admit and Decline for each. */
function Lobby({ conn, waiting, onError }: { conn: SessionConnection; waiting: LobbyEntry[]; onError: (m: string) => void }) {
  const [busy, setBusy] = useState<string | null>(null);
  const decide = async (p: LobbyEntry, admit: boolean) => {
    setBusy(p.participantId);
    const r = await conn.decide(p.participantId, admit);
    setBusy(null);
    // An admitted party announces itself ("… joined the session with a handle"); a declined one cannot.
    if (r.ok && !admit) conn.note(`${p.name} asked to join and was not let in`, 'lobby_declined');
    if (!r.ok) onError(r.error.message);
  };
  return (
    <section className="card lobby" aria-label="Waiting to join">
      <h3 style={{ margin: '0 0 6px' }}>Waiting to join</h3>
      <ul className="handles" aria-label="Waiting to join">
        {waiting.map((p) => (
          <li key={p.participantId}>
            <span>
              <strong>{p.name}</strong> <span className="hint">logged in with a handle at {clockTime(p.since)}</span>
            </span>
            <span className="row">
              <button type="button" className="small" disabled={busy !== null} onClick={() => void decide(p, true)}>
                Admit
              </button>
              <button type="button" className="secondary small" disabled={busy !== null} onClick={() => void decide(p, false)}>
                Decline
              </button>
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

function JoinUsControls({
  socket,
  conn,
  handles,
  lobbyOn,
  onDone,
}: {
  socket: ClientSocket;
  conn: SessionConnection;
  handles: ReservedHandle[];
  lobbyOn: boolean;
  onDone: () => void;
}) {
  const [handle, setHandle] = useState('');
  /** The handle OK reserved last: what "Copy invite link" is for. */
  const [reserved, setReserved] = useState<string | null>(null);
  const [link, setLink] = useState<{ url: string; copied: boolean } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const now = useNow(1000);
  const sessionId = conn.sessionId;

  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } finally {
      setBusy(false);
    }
  };

  const reserve = () =>
    run(async () => {
      const r = await request(socket, 'handle:reserve', { sessionId, handle });
      if (!r.ok) {
        setNotice(null);
        setError(r.error.message);
        return;
      }
      setHandle(r.handle);
      setReserved(r.handle);
      setLink(null);
      setNotice(`Handle ${r.handle} is reserved. Tell the third party to open ${joinUrl()} and enter it.`);
      conn.note(`Handle ${r.handle} reserved for a third party. They can join at ${joinUrl()}`, 'handle_reserved');
    });

  const suggest = () =>
    run(async () => {
      const r = await request(socket, 'handle:suggest', { sessionId });
      if (!r.ok) return setError(r.error.message);
      setHandle(r.handle);
      setNotice(null);
    });

  const cancelHandle = (h: string) =>
    run(async () => {
      const r = await request(socket, 'handle:cancel', { sessionId, handle: h });
      if (!r.ok) return setError(r.error.message);
      setNotice(`Handle ${h} is cancelled and can no longer be used.`);
      if (reserved === h) {
        setReserved(null);
        setLink(null);
      }
      conn.note(`Handle ${h} was cancelled`, 'handle_cancelled');
      if (handle.trim().toLowerCase() === h) setHandle('');
    });

  const copyInvite = async (h: string) => {
    const url = inviteLink(h);
    let copied = false;
    try {
      // Not every browser lets a page write the clipboard (an insecure context, a refused permission).
      await navigator.clipboard.writeText(url);
      copied = true;
    } catch {
      copied = false;
    }
    setLink({ url, copied });
  };

  /** What the agent last chose, shown at once; the server's word (lobbyOn) once it agrees. */
  const [lobbyChoice, setLobbyChoice] = useState<boolean | null>(null);
  // Whenever the server's word changes (our change confirmed, or one from another console), it wins.
  const [lobbyBefore, setLobbyBefore] = useState(lobbyOn);
  if (lobbyBefore !== lobbyOn) {
    setLobbyBefore(lobbyOn);
    setLobbyChoice(null);
  }
  const lobbyShown = lobbyChoice ?? lobbyOn;
  const toggleLobby = (enabled: boolean) =>
    run(async () => {
      setLobbyChoice(enabled);
      const r = await conn.setLobby(enabled);
      if (!r.ok) {
        setLobbyChoice(null);
        setError(r.error.message);
      }
    });

  // "Cancel" withdraws the handle in the box if it is reserved here; otherwise it closes the controls.
  const cancel = () => {
    const h = handle.trim().toLowerCase();
    if (handles.some((x) => x.handle === h)) void cancelHandle(h);
    else onDone();
  };

  return (
    <ToolPanel label="Join Us" title="Join Us: invite a third party" onHide={onDone}>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          void reserve();
        }}
      >
        <label className="field grow">
          Handle
          <input
            value={handle}
            onChange={(e) => setHandle(e.target.value)}
            autoComplete="off"
            autoCapitalize="none"
            spellCheck={false}
            maxLength={64}
            placeholder="e.g. amber-otter-48213"
          />
        </label>
        <div className="row" style={{ alignSelf: 'flex-end' }}>
          <button type="submit" disabled={busy || handle.trim().length === 0}>
            OK
          </button>
          <button type="button" className="secondary" disabled={busy} onClick={() => void suggest()}>
            Suggest
          </button>
          <button type="button" className="secondary" disabled={busy} onClick={cancel}>
            Cancel
          </button>
        </div>
      </form>
      <label className="row check">
        <input type="checkbox" checked={lobbyShown} disabled={busy} onChange={(e) => void toggleLobby(e.target.checked)} />
        Ask before admitting
        <span className="hint"> (a joining party waits until you let them in)</span>
      </label>
      {error ? <div role="alert" className="alert">{error}</div> : null}
      {notice ? <div role="status" className="alert info">{notice}</div> : null}
      {reserved && handles.some((x) => x.handle === reserved) ? (
        <div className="row">
          <button type="button" className="secondary" onClick={() => void copyInvite(reserved)}>
            Copy invite link
          </button>
          {link ? (
            link.copied ? (
              <span role="status" className="hint">
                Invite link copied: <code className="handle invite-link">{link.url}</code>. Paste it into the chat or an e-mail; it
                works once.
              </span>
            ) : (
              <label className="field grow">
                Invite link (copy it from here)
                <input readOnly value={link.url} onFocus={(e) => e.currentTarget.select()} />
              </label>
            )
          ) : null}
        </div>
      ) : null}
      {handles.length > 0 ? (
        <div>
          <h3 style={{ margin: '4px 0' }}>Reserved handles</h3>
          <ul className="handles" aria-label="Reserved handles">
            {handles.map((h) => (
              <li key={h.handle}>
                <span>
                  <code className="handle">{h.handle}</code>{' '}
                  <span className="hint">expires in {formatLeft(h.expiresAt - now)}</span>
                </span>
                <button
                  type="button"
                  className="ghost small"
                  aria-label={`Withdraw ${h.handle}`}
                  disabled={busy}
                  onClick={() => void cancelHandle(h.handle)}
                >
                  Withdraw
                </button>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </ToolPanel>
  );
}

function formatLeft(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s >= 60) return `${Math.ceil(s / 60)} min`;
  return `${s} s`;
}
