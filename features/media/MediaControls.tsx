'use client';
/**
 * C7 voice and C8 screen sharing in the session view: the controls ("Join voice", "Mute" / "Unmute",
 * "Leave voice", "Microphone", "Share screen" / "Stop sharing"), the voices heard (hidden audio
 * elements), the sharer's own live preview, and region "Shared screen" for everyone else. The work is
 * lib/media/media-session.ts; this only shows it.
 */
import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { MediaSession, MediaSnapshot, HeardVoice } from '../../lib/media/media-session';
import type { SessionConnection } from '../../lib/client/session-connection';

export function useMedia(media: MediaSession): MediaSnapshot {
  return useSyncExternalStore(media.subscribe, media.getSnapshot, media.getSnapshot);
}

/** A <video> or <audio> playing `stream` (srcObject is not an attribute React sets). */
function useStream<T extends HTMLMediaElement>(stream: MediaStream | null) {
  const ref = useRef<T>(null);
  const [blocked, setBlocked] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.srcObject = stream;
    if (!stream) return;
    el.play().then(
      () => setBlocked(false),
      // Autoplay refused (no click on this page yet): the element offers a click to start.
      (err: { name?: string }) => setBlocked(err?.name === 'NotAllowedError'),
    );
  }, [stream]);
  const retry = () => {
    void ref.current?.play().then(() => setBlocked(false), () => {});
  };
  return { ref, blocked, retry };
}

function RemoteVoice({ voice, name }: { voice: HeardVoice; name: string }) {
  const { ref, blocked, retry } = useStream<HTMLAudioElement>(voice.stream);
  return (
    <>
      <audio ref={ref} autoPlay data-voice-from={voice.participantId} data-voice-name={name} />
      {blocked ? (
        <button type="button" className="secondary small" onClick={retry}>
          Play {name}&rsquo;s voice
        </button>
      ) : null}
    </>
  );
}

function Problem({ text, onDismiss }: { text: string | null; onDismiss: () => void }) {
  if (!text) return null;
  return (
    <div role="alert" className="alert media-alert">
      {text}{' '}
      <button type="button" className="ghost small" onClick={onDismiss}>
        Dismiss
      </button>
    </div>
  );
}

/**
 * The voices we hear in one session. Rendered by whatever outlives the session's view (the agent's
 * session list, the collaboration page), so that switching to another session's view does not
 * silence this one while our microphone is still in it.
 */
export function RemoteVoices({ conn }: { conn: SessionConnection }) {
  const snap = useMedia(conn.media);
  return (
    <>
      {snap.heard.map((v) => (
        <RemoteVoice key={v.peerId} voice={v} name={conn.auth.who(v.participantId)?.name ?? 'a participant'} />
      ))}
    </>
  );
}

export function MediaControls({ media, snap, live }: { media: MediaSession; snap: MediaSnapshot; live: boolean }) {
  const inVoice = snap.voice === 'on';
  return (
    <div className="media-controls" role="group" aria-label="Voice and screen">
      <div className="row">
        {snap.support.voice ? (
          inVoice ? (
            <>
              <button type="button" className={snap.muted ? 'secondary muted-on' : 'secondary'} onClick={() => media.setMuted(!snap.muted)}>
                {snap.muted ? 'Unmute' : 'Mute'}
              </button>
              <button type="button" className="secondary" onClick={() => media.leaveVoice()}>
                Leave voice
              </button>
            </>
          ) : (
            <button type="button" className="secondary" disabled={!live || snap.voice === 'starting'} onClick={() => void media.joinVoice()}>
              Join voice
            </button>
          )
        ) : (
          <span className="status-note">Voice is not available in this browser.</span>
        )}
        {snap.support.screen ? (
          snap.screen === 'on' ? (
            <button type="button" className="danger" onClick={() => media.stopSharing()}>
              Stop sharing
            </button>
          ) : (
            <button type="button" className="secondary" disabled={!live || snap.screen === 'starting'} onClick={() => void media.shareScreen()}>
              Share screen
            </button>
          )
        ) : (
          <span className="status-note">Screen sharing is not available in this browser.</span>
        )}
      </div>
      {inVoice && snap.microphones.length > 1 ? (
        <label className="mic-choice">
          Microphone
          <select value={snap.microphoneId ?? ''} onChange={(e) => void media.chooseMicrophone(e.target.value)}>
            {snap.microphones.map((m) => (
              <option key={m.deviceId} value={m.deviceId}>
                {m.label}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      <div role="status" className="media-status">
        {snap.voice === 'starting' ? 'Asking for the microphone…' : null}
        {snap.voice === 'on' ? (snap.muted ? 'In voice, muted' : 'In voice') : null}
      </div>
      <Problem text={snap.voiceProblem} onDismiss={() => media.dismissProblem('voice')} />
      <Problem text={snap.screenProblem} onDismiss={() => media.dismissProblem('screen')} />
    </div>
  );
}

/** The sharer's own view: plainly live, with what the others see. */
function OwnShare({ stream }: { stream: MediaStream }) {
  const { ref } = useStream<HTMLVideoElement>(stream);
  return (
    <section className="screen-share own card" aria-label="Your shared screen">
      <div className="row screen-head">
        <span className="live-badge">
          <span className="live-dot" aria-hidden="true" /> Live
        </span>
        <strong>You are sharing your screen with everyone in the session.</strong>
      </div>
      <video ref={ref} className="screen-preview" autoPlay muted playsInline aria-label="Preview of your shared screen" />
    </section>
  );
}

/** Region "Shared screen": the current share, with the sharer's name; enlarge to fill the window. */
function RemoteShare({ share }: { share: NonNullable<MediaSnapshot['share']> }) {
  const { ref, blocked, retry } = useStream<HTMLVideoElement>(share.stream);
  const [large, setLarge] = useState(false);
  const toggle = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (!large) return;
    // The overlay covers the page: keyboard focus goes with it (Escape or the button shrinks it).
    toggle.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setLarge(false);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [large]);
  return (
    <section className={`screen-share card${large ? ' enlarged' : ''}`} aria-label="Shared screen">
      <div className="row screen-head">
        <span className="live-badge">
          <span className="live-dot" aria-hidden="true" /> Live
        </span>
        <strong className="grow">{share.name} is sharing a screen</strong>
        {share.stream ? (
          <button ref={toggle} type="button" className="secondary small" onClick={() => setLarge(!large)}>
            {large ? 'Shrink' : 'Enlarge'}
          </button>
        ) : null}
      </div>
      {share.stream ? (
        <>
          <video ref={ref} className="screen-video" autoPlay muted playsInline aria-label={`${share.name}’s screen`} />
          {blocked ? (
            <button type="button" className="secondary small" onClick={retry}>
              Show the screen
            </button>
          ) : null}
        </>
      ) : (
        <p className="status-note">
          There is no direct connection between you and {share.name} yet, so the screen cannot be shown here. It appears as
          soon as there is.
        </p>
      )}
    </section>
  );
}

export function ScreenShares({ snap }: { snap: MediaSnapshot }) {
  if (snap.ownScreen) return <OwnShare stream={snap.ownScreen} />;
  // A new sharer starts with a fresh view (not enlarged).
  if (snap.share) return <RemoteShare key={snap.share.participantId} share={snap.share} />;
  return null;
}
