'use client';
/** C2: list "Participants": role, presence, typing; the agent's per-person actions (Remove). */
import { useSyncExternalStore, type ReactNode } from 'react';
import type { Presence } from '../../lib/client/connection-state';
import type { Colour } from './colours';
import { roleLabel } from './doc';
import type { ParticipantView } from './useParticipants';

const presenceLabel: Record<Presence, string> = {
  online: 'online',
  offline: 'offline',
  unknown: 'not known while you are offline',
  left: 'left',
  removed: 'removed',
};

/** C7: a participant in voice, as its line says it. */
export interface VoiceLine {
  muted: boolean;
  /** We are in voice too but have no direct connection to it: we cannot hear it. */
  unheard: boolean;
}

/** C7: who is speaking now, participant id → loudness step (0.2 … 1); read only by the lines in voice. */
export interface SpeakingStore {
  subscribe(listener: () => void): () => void;
  get(): ReadonlyMap<string, number>;
}

const nobodySpeaking: SpeakingStore = { subscribe: () => () => {}, get: () => new Map() };

function VoiceState({ participantId, v, store }: { participantId: string; v: VoiceLine; store: SpeakingStore }) {
  const level = useSyncExternalStore(store.subscribe, () => store.get().get(participantId) ?? 0, () => 0);
  return (
    <>
      {' · '}
      <span className="in-voice">in voice</span>
      {v.muted ? ' · muted' : null}
      {v.unheard ? ' · cannot be heard here (no direct connection)' : null}
      {level > 0 && !v.muted ? (
        <>
          {' · '}
          <span className="speaking">
            <span className="level" aria-hidden="true">
              <span style={{ width: `${Math.round(level * 100)}%` }} />
            </span>
            speaking
          </span>
        </>
      ) : null}
    </>
  );
}

export function ParticipantList({
  participants,
  colours,
  action,
  voice,
  speaking = nobodySpeaking,
}: {
  participants: ParticipantView[];
  /** C5: each participant's colour (pointer and strokes). */
  colours?: ReadonlyMap<string, Colour>;
  action?: (p: ParticipantView) => ReactNode;
  /** C7: who is in voice (null: not in voice). */
  voice?: (participantId: string) => VoiceLine | null;
  speaking?: SpeakingStore;
}) {
  return (
    <section className="card">
      <h3>Participants</h3>
      <ul className="people" aria-label="Participants">
        {participants.map((p) => {
          const inVoice = p.presence === 'online' ? (voice?.(p.participantId) ?? null) : null;
          return (
            <li key={p.participantId}>
              <div>
                <div className="person-name">
                  {colours?.get(p.participantId) ? (
                    <span
                      className="swatch"
                      style={{ background: colours.get(p.participantId)!.hex }}
                      role="img"
                      aria-label={`colour ${colours.get(p.participantId)!.name}`}
                    />
                  ) : null}
                  {p.name}
                  {p.isMe ? ' (you)' : ''}
                </div>
                <div className="person-sub">
                  {roleLabel[p.role]} ·{' '}
                  <span className={p.presence === 'online' ? 'online' : 'offline'}>{presenceLabel[p.presence]}</span>
                  {p.typing ? ' · typing…' : ''}
                  {inVoice ? <VoiceState participantId={p.participantId} v={inVoice} store={speaking} /> : null}
                </div>
              </div>
              {action ? action(p) : null}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
