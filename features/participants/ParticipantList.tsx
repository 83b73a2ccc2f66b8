'use client';
/** C2: list "Participants": role, presence, typing; the agent's per-person actions (Remove). */
import type { ReactNode } from 'react';
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

export function ParticipantList({
  participants,
  colours,
  action,
}: {
  participants: ParticipantView[];
  /** C5: each participant's colour (pointer and strokes). */
  colours?: ReadonlyMap<string, Colour>;
  action?: (p: ParticipantView) => ReactNode;
}) {
  return (
    <section className="card">
      <h3>Participants</h3>
      <ul className="people" aria-label="Participants">
        {participants.map((p) => (
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
              </div>
            </div>
            {action ? action(p) : null}
          </li>
        ))}
      </ul>
    </section>
  );
}
