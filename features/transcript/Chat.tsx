'use client';
/** C1: the session transcript, who is typing, and the composer. */
import { clockTime } from '@/lib/ui/time';
import { memo, useDeferredValue, useEffect, useRef, useState, type ReactNode } from 'react';
import { Limits } from '../../lib/protocol';
import type { SessionConnection, SessionSnapshot } from '../../lib/client/session-connection';
import { roleLabel } from '../participants/doc';
import type { ParticipantView } from '../participants/useParticipants';
import type { TranscriptEntry } from './doc';

const TYPING_IDLE_MS = 3000;

/**
 * Entries rendered at first (the latest); earlier ones a click away. A session of thousands of long
 * messages would otherwise put megabytes of text in the page at once and freeze it while it syncs.
 */
export const TRANSCRIPT_WINDOW = 150;


const Entry = memo(function Entry({ e, mine, waiting }: { e: TranscriptEntry; mine: boolean; waiting: boolean }) {
  return e.kind === 'chat' ? (
    <div className={`msg${mine ? ' mine' : ''}`}>
      <div className="meta">
        <strong>{e.authorName}</strong>
        <span>{roleLabel[e.role]}</span>
        <time dateTime={new Date(e.at).toISOString()}>{clockTime(e.at)}</time>
      </div>
      <div className="text">{e.text}</div>
      {waiting ? <div className="waiting">Waiting to be sent…</div> : null}
    </div>
  ) : (
    <div className="sys">
      {e.text} · <time dateTime={new Date(e.at).toISOString()}>{clockTime(e.at)}</time>
    </div>
  );
});

export function Chat({
  conn,
  snap,
  transcript: latest,
  participants,
  localNotes,
}: {
  conn: SessionConnection;
  snap: SessionSnapshot;
  transcript: TranscriptEntry[];
  participants: ParticipantView[];
  localNotes?: ReactNode;
}) {
  const [text, setText] = useState('');
  const [sendError, setSendError] = useState<string | null>(null);
  // A big change (a late joiner's first sync) renders in the background, in slices, so the page keeps
  // answering; a single new message renders at once as before.
  const transcript = useDeferredValue(latest);
  const [shown, setShown] = useState(TRANSCRIPT_WINDOW);
  const logRef = useRef<HTMLDivElement>(null);
  const typingTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const live = snap.phase.kind === 'live' || snap.phase.kind === 'reconnecting';
  const over = !live && snap.phase.kind !== 'connecting';

  useEffect(() => {
    const el = logRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [transcript.length, localNotes]);

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
    setText('');
    conn.sendChat(body).catch(() => {
      // Not signed or not written (the session is over, or the tab's key is gone): nothing lost.
      setText(body);
      setSendError('The message could not be sent. Try again.');
    });
  };

  const typing = participants.filter((p) => p.typing && !p.isMe);
  const hidden = Math.max(0, transcript.length - shown);
  const visible = hidden > 0 ? transcript.slice(hidden) : transcript;

  return (
    <>
      <div className="transcript" role="log" aria-label="Session transcript" aria-live="polite" ref={logRef}>
        {transcript.length === 0 && !localNotes ? <p className="empty">No messages yet.</p> : null}
        {hidden > 0 ? (
          <button type="button" className="ghost small earlier" onClick={() => setShown((n) => n + TRANSCRIPT_WINDOW)}>
            Show {Math.min(hidden, TRANSCRIPT_WINDOW)} earlier entries ({hidden} not shown)
          </button>
        ) : null}
        {visible.map((e) => (
          <Entry key={e.id} e={e} mine={e.authorId === snap.me?.participantId} waiting={snap.waiting.has(e.id)} />
        ))}
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
        <div className="counter">
          {text.length} / {Limits.messageChars}
        </div>
      ) : null}
      {sendError ? <div role="alert" className="alert">{sendError}</div> : null}
    </>
  );
}
