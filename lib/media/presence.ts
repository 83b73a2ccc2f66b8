/**
 * C7, C8: who is in voice and who shares a screen, as each participant says in its awareness state
 * (`voice`, `screen`), and the rules every peer applies to it the same way. Pure, unit-tested
 * (tests/unit/c7-c8-media-presence.test.ts). The state is only a participant's word about itself: the
 * signed presence (features/participants/doc.ts) says whose it is, and media tracks travel only on
 * the peer connections of admitted participants, whatever anyone claims here.
 */
import * as z from '../zod';
import { timestamp, verifiedPresence } from '../../features/participants/doc';
import type { Authorship } from '../collab/authorship';
import { readClaim } from '../p2p/topology';

export const voiceField = z.object({ muted: z.boolean() });
export const screenField = z.object({ since: timestamp });

export type VoiceField = z.infer<typeof voiceField>;
export type ScreenField = z.infer<typeof screenField>;

/** One other tab's media, as its verified awareness state says. */
export interface RemoteMedia {
  participantId: string;
  name: string;
  /** The tab's peer id in the mesh (its `mesh` claim): which connection its media comes on. */
  peerId: string;
  voice: VoiceField | null;
  screen: ScreenField | null;
}

/** The other tabs' media fields, from states whose participant claim verifies; malformed fields count as off. */
export function remoteMedia(states: Map<number, Record<string, unknown>>, self: number, auth: Authorship): RemoteMedia[] {
  const out: RemoteMedia[] = [];
  for (const p of verifiedPresence(states, self, auth)) {
    const claim = readClaim(p.state);
    if (!claim) continue;
    const voice = voiceField.safeParse(p.state.voice);
    const screen = screenField.safeParse(p.state.screen);
    out.push({
      participantId: p.participantId,
      name: p.name,
      peerId: claim.peerId,
      voice: voice.success ? voice.data : null,
      screen: screen.success ? screen.data : null,
    });
  }
  return out;
}

export interface ShareClaim {
  participantId: string;
  peerId: string;
  since: number;
}

/**
 * C8, one share at a time: of everyone who says it shares, the earliest start counts (ties: the
 * lower participant id, then peer id). Every peer works it out from the same states, so all agree;
 * a later sharer that sees an earlier one stops its own.
 */
export function currentShare<T extends ShareClaim>(claims: readonly T[]): T | null {
  let best: T | null = null;
  for (const c of claims) {
    if (
      !best ||
      c.since < best.since ||
      (c.since === best.since && (c.participantId < best.participantId || (c.participantId === best.participantId && c.peerId < best.peerId)))
    ) {
      best = c;
    }
  }
  return best;
}

/**
 * Shares first seen here within this long of the first one are a contest, decided by
 * `currentShare` the same way everywhere; a share claimed later never displaces one already seen,
 * whatever start time it claims (a clock that is off, or a hostile `since: 0`).
 */
export const SHARE_CONTEST_MS = 3000;

export function settledShare<T extends ShareClaim & { seenAt: number }>(claims: readonly T[], contestMs = SHARE_CONTEST_MS): T | null {
  if (claims.length === 0) return null;
  const first = Math.min(...claims.map((c) => c.seenAt));
  return currentShare(claims.filter((c) => c.seenAt <= first + contestMs));
}

/** What a participant's line in "Participants" says about voice, merged over its tabs. */
export interface VoiceView {
  /** In voice (some tab of it is). */
  inVoice: boolean;
  muted: boolean;
  /** We are in voice too, yet have no direct connection to any of its tabs in voice: we cannot hear it. */
  unheard: boolean;
}

export function voiceViews(remote: readonly RemoteMedia[], linked: ReadonlySet<string>, selfInVoice: boolean): Map<string, VoiceView> {
  const out = new Map<string, VoiceView>();
  for (const r of remote) {
    if (!r.voice) continue;
    const seen = out.get(r.participantId);
    const heard = linked.has(r.peerId);
    out.set(r.participantId, {
      inVoice: true,
      // Muted only if every tab of it in voice is.
      muted: (seen ? seen.muted : true) && r.voice.muted,
      unheard: selfInVoice && (seen ? seen.unheard : true) && !heard,
    });
  }
  return out;
}

/** What went wrong asking for the microphone, in words for the participant (getUserMedia's error names). */
export function microphoneProblem(err: unknown): string {
  const name = (err as { name?: string } | null)?.name ?? '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
    case 'PermissionDeniedError':
      return 'Microphone access was refused. Allow the microphone for this site in the browser (the icon in the address bar) and choose "Join voice" again. The session carries on without voice.';
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return 'No microphone was found. Connect one and choose "Join voice" again. The session carries on without voice.';
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return 'The microphone could not be started: another program may be using it. Close that program and choose "Join voice" again.';
    default:
      return 'The microphone could not be started. The session carries on without voice.';
  }
}

/** What went wrong asking for a screen (getDisplayMedia's error names). */
export function screenProblem(err: unknown): string {
  const name = (err as { name?: string } | null)?.name ?? '';
  switch (name) {
    case 'NotAllowedError':
    case 'AbortError':
      return 'Screen sharing was cancelled or not allowed: nothing is shared.';
    case 'NotReadableError':
      return 'The screen could not be captured: the system may not allow this browser to record the screen.';
    case 'NotFoundError':
      return 'There is no screen or window this browser can share.';
    default:
      return 'The screen could not be shared.';
  }
}
