'use client';
import { useMemo } from 'react';
import { presenceOf, type Presence } from '../../lib/client/connection-state';
import type { SessionSnapshot } from '../../lib/client/session-connection';
import { withoutKeys, type ParticipantInfo } from './doc';

export interface ParticipantView extends ParticipantInfo {
  /** What the participant list says (connection-state.ts `presenceOf`). */
  presence: Presence;
  typing: boolean;
  isMe: boolean;
}

/** C2: the participant list as the page shows it, from the server's directory and who we reach now. */
export function projectParticipants(
  people: ParticipantInfo[],
  s: Pick<SessionSnapshot, 'reached' | 'deviceOnline' | 'phase'> & { meId: string | null },
): ParticipantView[] {
  const live = s.phase.kind === 'live' || s.phase.kind === 'reconnecting';
  return people.map((p) => {
    const isMe = p.participantId === s.meId;
    const presence = presenceOf({ isMe, gone: p.gone, live, deviceOnline: s.deviceOnline, reached: s.reached.has(p.participantId) });
    return { ...p, isMe, presence, typing: presence === 'online' && s.reached.get(p.participantId) === true };
  });
}

/**
 * Rebuilt when the directory (from the server), who we reach, or our own state changed: all from the
 * connection's snapshot, whose notices wait while a newcomer arrives (decision 0024).
 */
export function useParticipants(snap: SessionSnapshot): ParticipantView[] {
  const { directory, reached, deviceOnline, phase } = snap;
  const people = useMemo(() => withoutKeys(directory), [directory]);
  const meId = snap.me?.participantId ?? null;
  return useMemo(() => projectParticipants(people, { reached, deviceOnline, phase, meId }), [people, reached, deviceOnline, phase, meId]);
}
