'use client';
/**
 * The collaboration view every participant sees: transcript (C1), presence (C2), composer, download
 * (C6). The agent's console wraps it with its own controls through `toolbar` and `participantAction`.
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { Limits } from '@/lib/protocol';
import { roleLabel, transcriptJson, transcriptText } from '@/lib/session-doc';
import type { ParticipantView, SessionConnection, SessionSnapshot } from '@/lib/client/session-connection';
import type { Presence } from '@/lib/client/connection-state';

const presenceLabel: Record<Presence, string> = {
  online: 'online',
  offline: 'offline',
  unknown: 'not known while you are offline',
  left: 'left',
  removed: 'removed',
};

const TYPING_IDLE_MS = 3000;

function download(filename: string, type: string, body: string) {
  const url = URL.createObjectURL(new Blob([body], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function time(at: number) {
  return new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/**
 * The connection status, always visible: what can move changes right now (connection-state.ts).
 * A polite live region with a name of its own; the detail line says what it means and what next.
 */
export function ConnectionPill({ snap }: { snap: SessionSnapshot }) {
  const { tone, text, detail } = snap.connection;
  return (
    <div className="connection" role="status" aria-label="Connection">
      <span className={`pill ${tone}`} title={snap.mesh.synced ? 'Shared state is in sync' : 'Syncing shared state…'}>
        <span className="dot" />
        {text}
      </span>
      {detail ? <span className="connection-detail">{detail}</span> : null}
    </div>
  );
}

export function SessionPanel({
  conn,
  snap,
  title,
  toolbar,
  localNotes,
  participantAction,
  canExportJson,
}: {
  conn: SessionConnection;
  snap: SessionSnapshot;
  title: string;
  toolbar?: ReactNode;
  localNotes?: ReactNode;
  participantAction?: (p: ParticipantView) => ReactNode;
  canExportJson?: boolean;
}) {
  const [text, setText] = useState('');
  const [sendError, setSendError] = useState<string | null>(null);
  const logRef = useRef<HTMLDivElement>(null);
  const typingTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const live = snap.phase.kind === 'live' || snap.phase.kind === 'reconnecting';
  const over = !live && snap.phase.kind !== 'connecting';

  useEffect(() => {
    const el = logRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [snap.transcript.length, localNotes]);

  useEffect(() => () => {
    if (typingTimer.current) clearTimeout(typingTimer.current);
  }, []);

  const onType = (value: string) => {
    setText(value);
    setSendError(null);
    if (!live) return;
    conn.setTyping(value.length > 0);
    if (typingTimer.current) clearTimeout(typingTimer.current);
    typingTimer.current = setTimeout(() => conn.setTyping(false), TYPING_IDLE_MS);
  };

  const send = () => {
    const body = text.trim();
    if (!body) return;
    if (body.length > Limits.messageChars) {
      setSendError(`A message can have at most ${Limits.messageChars} characters. Shorten it and send again.`);
      return;
    }
    conn.sendChat(body);
    setText('');
  };

  const typing = snap.participants.filter((p) => p.typing && !p.isMe);
  const fileBase = `join-us-transcript-${snap.sessionId.slice(0, 8)}`;
  const endedNote = snap.phase.kind === 'ended' ? snap.phase.message : null;

  return (
    <div className="session-layout">
      <section className="card" aria-label={title}>
        <div className="session-head">
          <div>
            <h2 style={{ margin: 0 }}>{title}</h2>
          </div>
          <div className="row">
            <ConnectionPill snap={snap} />
            {toolbar}
          </div>
        </div>
        <div className="transcript" role="log" aria-label="Session transcript" aria-live="polite" ref={logRef}>
          {snap.transcript.length === 0 && !localNotes ? <p className="empty">No messages yet.</p> : null}
          {snap.transcript.map((e) =>
            e.kind === 'chat' ? (
              <div key={e.id} className={`msg${e.authorId === snap.me?.participantId ? ' mine' : ''}`}>
                <div className="meta">
                  <strong>{e.authorName}</strong>
                  <span>{roleLabel[e.role]}</span>
                  <time dateTime={new Date(e.at).toISOString()}>{time(e.at)}</time>
                </div>
                <div className="text">{e.text}</div>
                {snap.waiting.has(e.id) ? <div className="waiting">Waiting to be sent…</div> : null}
              </div>
            ) : (
              <div key={e.id} className="sys">
                {e.text} · <time dateTime={new Date(e.at).toISOString()}>{time(e.at)}</time>
              </div>
            ),
          )}
          {localNotes}
        </div>
        <div className="typing" aria-live="polite">
          {typing.length > 0 ? `${typing.map((p) => p.name).join(', ')} ${typing.length === 1 ? 'is' : 'are'} typing…` : ''}
        </div>
        <form
          className="composer"
          onSubmit={(e) => {
            e.preventDefault();
            send();
          }}
        >
          <label className="grow">
            <span className="visually-hidden">Message</span>
            <textarea
              aria-label="Message"
              placeholder={live ? 'Type a message…' : over ? 'This session is over' : 'Connecting…'}
              value={text}
              disabled={over}
              maxLength={Limits.messageChars + 1}
              onChange={(e) => onType(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' && !e.shiftKey) {
                  e.preventDefault();
                  send();
                }
              }}
            />
          </label>
          <button type="submit" disabled={over || !snap.me || text.trim().length === 0}>
            Send
          </button>
        </form>
        {text.length > Limits.messageChars * 0.9 ? (
          <div className="counter">{text.length} / {Limits.messageChars}</div>
        ) : null}
        {sendError ? <div role="alert" className="alert">{sendError}</div> : null}
      </section>
      <aside className="side">
        <section className="card">
          <h3 id={`people-${snap.sessionId}`}>Participants</h3>
          <ul className="people" aria-label="Participants">
            {snap.participants.map((p) => (
              <li key={p.participantId}>
                <div>
                  <div className="person-name">
                    {p.name}
                    {p.isMe ? ' (you)' : ''}
                  </div>
                  <div className="person-sub">
                    {roleLabel[p.role]} ·{' '}
                    <span className={p.presence === 'online' ? 'online' : 'offline'}>{presenceLabel[p.presence]}</span>
                    {p.typing ? ' · typing…' : ''}
                  </div>
                </div>
                {participantAction ? participantAction(p) : null}
              </li>
            ))}
          </ul>
        </section>
        <section className="card stack">
          <h3>Transcript</h3>
          <button
            type="button"
            className="secondary"
            onClick={() => download(`${fileBase}.txt`, 'text/plain;charset=utf-8', transcriptText({ title, endedNote }, snap.transcript))}
          >
            Download transcript
          </button>
          {canExportJson ? (
            <button
              type="button"
              className="secondary"
              onClick={() =>
                download(
                  `${fileBase}.json`,
                  'application/json',
                  transcriptJson({ sessionId: snap.sessionId, title }, snap.transcript, snap.participants),
                )
              }
            >
              Export JSON
            </button>
          ) : null}
        </section>
      </aside>
    </div>
  );
}
