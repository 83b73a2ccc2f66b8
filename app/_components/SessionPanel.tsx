'use client';
/**
 * The collaboration view every participant sees: the work area (shared form, C4; pushed page, C3;
 * drawing and pointers, C5), the chat (C1),
 * the participants (C2) and the downloads (C6). On a desktop all at once; on a phone one at a time
 * through tabs that mark where something new happened. Each part reads only its own part of the
 * document (features/*). The agent's console adds its controls through `toolbar`, `pushPage`
 * (Options ▸ Push page) and `participantAction`.
 */
import { startTransition, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactNode } from 'react';
import { mark } from '@/lib/marks';
import { transcriptJson, transcriptText } from '@/features/transcript/doc';
import { Chat } from '@/features/transcript/Chat';
import { useTranscript } from '@/features/transcript/useTranscript';
import { ParticipantList } from '@/features/participants/ParticipantList';
import { useParticipants, type ParticipantView } from '@/features/participants/useParticipants';
import { PushedPage, PushPageControls } from '@/features/page-push/PushedPage';
import { usePagePush } from '@/features/page-push/usePagePush';
import { SharedForms, ShareFormControls } from '@/features/forms/SharedForm';
import { useForms } from '@/features/forms/useForms';
import { SharedDrawing } from '@/features/drawing/SharedDrawing';
import { useDrawing } from '@/features/drawing/useDrawing';
import { colourAt } from '@/features/participants/colours';
import { MediaControls, ScreenShares, useMedia } from '@/features/media/MediaControls';
import type { VoiceLine } from '@/features/participants/ParticipantList';
import type { SessionConnection, SessionSnapshot } from '@/lib/client/session-connection';

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

const PHONE_QUERY = '(max-width: 860px)';
const subscribeMedia = (cb: () => void) => {
  const m = window.matchMedia(PHONE_QUERY);
  m.addEventListener('change', cb);
  return () => m.removeEventListener('change', cb);
};
/** True on a narrow screen, where the view shows one part at a time. */
function usePhone(): boolean {
  return useSyncExternalStore(subscribeMedia, () => window.matchMedia(PHONE_QUERY).matches, () => false);
}

type Tab = 'chat' | 'form' | 'page' | 'drawing' | 'people';
const tabs: { id: Tab; label: string }[] = [
  { id: 'chat', label: 'Chat' },
  { id: 'form', label: 'Form' },
  { id: 'page', label: 'Page' },
  { id: 'drawing', label: 'Drawing' },
  { id: 'people', label: 'People' },
];

/** A mark on a phone tab when its part changed while another tab was shown. */
function useNewMarks(phone: boolean, tab: Tab, keys: Record<Tab, string>): Set<Tab> {
  const [marks, setMarks] = useState<Set<Tab>>(new Set());
  const seen = useRef(keys);
  const serial = tabs.map((t) => keys[t.id]).join('|');
  useEffect(() => {
    const changed = tabs.map((t) => t.id).filter((t) => seen.current[t] !== keys[t]);
    seen.current = keys;
    // Derived from what changed between renders: the marks are this view's memory of it.
    setMarks((m) => {
      const next = new Set(m);
      next.delete(tab);
      if (phone) for (const t of changed) if (t !== tab) next.add(t);
      return next.size === m.size && [...next].every((t) => m.has(t)) ? m : next;
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [serial, tab, phone]);
  return marks;
}

/** How long the work area waits for the first sync before it is built anyway. */
const WORK_AREA_WAIT_MS = 1000;

/**
 * The work area (form, pushed page, drawing) is built once the session's state has arrived (or a
 * moment has passed): on the way in, the chat and the connection come first and the main thread is
 * left to the peer connections being set up (decision 0014). Built as a transition, in slices.
 */
function useWorkReady(snap: SessionSnapshot): boolean {
  const [ready, setReady] = useState(false);
  const arrived = snap.mesh.synced || (snap.phase.kind !== 'connecting' && snap.phase.kind !== 'live' && snap.phase.kind !== 'reconnecting');
  useEffect(() => {
    if (ready) return;
    if (arrived) {
      startTransition(() => setReady(true));
      return;
    }
    const t = setTimeout(() => startTransition(() => setReady(true)), WORK_AREA_WAIT_MS);
    return () => clearTimeout(t);
  }, [ready, arrived]);
  return ready;
}

export function SessionPanel({
  conn,
  snap,
  title,
  toolbar,
  localNotes,
  pushPage,
  shareForm,
  participantAction,
  canExportJson,
}: {
  conn: SessionConnection;
  snap: SessionSnapshot;
  title: string;
  toolbar?: ReactNode;
  localNotes?: ReactNode;
  /** The agent's push controls are open (Options ▸ Push page); `onClose` hides them. */
  pushPage?: { open: boolean; onClose: () => void };
  /** The agent's share-form controls are open (Options ▸ Share form). */
  shareForm?: { open: boolean; onClose: () => void };
  participantAction?: (p: ParticipantView) => ReactNode;
  canExportJson?: boolean;
}) {
  const transcript = useTranscript(conn);
  const pages = usePagePush(conn);
  const forms = useForms(conn, snap);
  const participants = useParticipants(snap);
  // C5: colours by joining order, the same on every peer (features/participants/colours.ts).
  const order = participants.map((p) => p.participantId).join(' ');
  const colours = useMemo(() => new Map(order.split(' ').map((id, i) => [id, colourAt(i)])), [order]);
  const colourOf = useCallback((id: string) => colours.get(id)?.hex ?? '#5b667a', [colours]);
  const myColour = (snap.me && colours.get(snap.me.participantId)) || colourAt(0);
  const drawing = useDrawing(conn, snap, myColour.hex);
  const phone = usePhone();
  const [tab, setTab] = useState<Tab>('chat');
  const marks = useNewMarks(phone, tab, {
    chat: String(transcript.length),
    page: pages.current?.id ?? '',
    drawing: String(drawing.strokes.length),
    form: `${forms.open?.instance.instanceId ?? ''}:${forms.last?.instanceId ?? ''}:${forms.last?.delivery?.state ?? ''}`,
    people: participants.map((p) => `${p.participantId}:${p.gone ?? ''}`).join(','),
  });
  // The agent opened Options ▸ Push page or Share form: show where it happens.
  const live = snap.phase.kind === 'live' || snap.phase.kind === 'reconnecting';
  const pushOpen = live && pushPage?.open === true;
  const shareOpen = live && shareForm?.open === true;
  const [lastOpen, setLastOpen] = useState({ pushOpen, shareOpen });
  if (pushOpen !== lastOpen.pushOpen || shareOpen !== lastOpen.shareOpen) {
    setLastOpen({ pushOpen, shareOpen });
    if (pushOpen && !lastOpen.pushOpen) setTab('page');
    if (shareOpen && !lastOpen.shareOpen) setTab('form');
  }

  const media = useMedia(conn.media);
  const meId = snap.me?.participantId ?? null;
  const voiceOf = useCallback(
    (participantId: string): VoiceLine | null => {
      if (participantId === meId) return media.voice === 'on' ? { muted: media.muted, unheard: false } : null;
      const v = media.voices.get(participantId);
      return v ? { muted: v.muted, unheard: v.unheard } : null;
    },
    [media, meId],
  );

  useLayoutEffect(() => {
    mark('joinus:view');
    conn.viewShown();
  }, [conn]);
  const workReady = useWorkReady(snap);

  const fileBase = `join-us-transcript-${snap.sessionId.slice(0, 8)}`;
  const endedNote = snap.phase.kind === 'ended' ? snap.phase.message : null;
  const isAgent = snap.me?.role === 'agent';

  return (
    <section className="session" aria-label={title}>
      <div className="session-head">
        <h2 style={{ margin: 0 }}>{title}</h2>
        <div className="row">
          <ConnectionPill snap={snap} />
          {toolbar}
        </div>
      </div>
      {live || media.voice !== 'off' || media.screen !== 'off' ? (
        <MediaControls media={conn.media} snap={media} live={live} />
      ) : null}
      <ScreenShares snap={media} />
      <div className="view-tabs" role="tablist" aria-label="Session parts">
        {tabs.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            aria-selected={tab === t.id}
            aria-controls={`part-${t.id}`}
            className="view-tab"
            onClick={() => setTab(t.id)}
          >
            {t.label}
            {marks.has(t.id) ? (
              <>
                <span className="new-dot" aria-hidden="true" />
                <span className="visually-hidden"> (new)</span>
              </>
            ) : null}
          </button>
        ))}
      </div>
      <div className="session-layout" data-tab={tab}>
        <div className="work">
          {workReady ? (
            <>
          <div className={`part part-form${forms.open ? ' active' : ''}`} id="part-form">
            <SharedForms
              state={forms}
              isAgent={isAgent}
              isPoster={snap.me?.role === 'customer'}
              controls={shareOpen && shareForm ? <ShareFormControls state={forms} onDone={shareForm.onClose} /> : null}
            />
          </div>
          <div className="part part-page" id="part-page">
            <PushedPage
              state={pages}
              isAgent={isAgent}
              controls={pushOpen && pushPage ? <PushPageControls state={pages} onDone={pushPage.onClose} /> : null}
            />
          </div>
          <div className="part part-drawing" id="part-drawing">
            <SharedDrawing state={drawing} isAgent={isAgent} myColour={myColour} colourOf={colourOf} disabled={!live} />
          </div>
            </>
          ) : null}
        </div>
        <div className="aside">
          <section className="part part-chat card" id="part-chat" aria-label="Chat">
            <Chat conn={conn} snap={snap} transcript={transcript} participants={participants} localNotes={localNotes} />
          </section>
          <div className="part part-people side" id="part-people">
            <ParticipantList participants={participants} colours={colours} action={participantAction} voice={voiceOf} speaking={conn.media.speaking} />
            <section className="card stack">
              <h3>Transcript</h3>
              <button
                type="button"
                className="secondary"
                onClick={() => download(`${fileBase}.txt`, 'text/plain;charset=utf-8', transcriptText({ title, endedNote }, transcript))}
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
                      transcriptJson({ sessionId: snap.sessionId, title }, transcript, participants.map(stripView), {
                        pagesPushed: pages.pushes.map(({ url, at, byName }) => ({ url, at, by: byName })),
                        // Masked fields as the document holds them: masked.
                        formsSubmitted: forms.submitted.map((f) => ({ form: f.title, submittedAt: f.endedAt, by: f.endedByName, result: f.result })),
                      }),
                    )
                  }
                >
                  Export JSON
                </button>
              ) : null}
            </section>
          </div>
        </div>
      </div>
    </section>
  );
}

/** The export lists who took part, not how this tab saw them at the moment. */
function stripView({ presence: _p, typing: _t, isMe: _m, ...p }: ParticipantView) {
  return p;
}
