/**
 * What the connection status says to a participant, worked out from everything that can move
 * changes: the signaling service, the browser's network, and the links to the other participants.
 * Pure, so every case is unit-tested (tests/unit/connection-state.test.ts). Never "connected" while
 * nothing can move.
 */
import type { LinkFailure, PeerStatus } from '../p2p/mesh-provider';

export type PhaseKind = 'connecting' | 'waiting' | 'live' | 'reconnecting' | 'ended' | 'removed' | 'left' | 'refused';

/** One other participant and the best way we reach it (over all its tabs). */
export interface OtherParticipant {
  participantId: string;
  name: string;
  link: PeerStatus['link'];
  failure: LinkFailure | null;
}

export interface ConnectionInput {
  phase: PhaseKind;
  /** Our socket is connected and attached to the session. */
  signaling: boolean;
  /** The browser says it has a network (navigator.onLine). */
  online: boolean;
  others: OtherParticipant[];
  synced: boolean;
  /** Our own messages that have not reached anyone yet. */
  waiting: number;
  /** Bytes received so far of a large transfer still arriving (a late joiner's first sync). */
  receivingBytes?: number;
}

export interface ConnectionView {
  tone: 'ok' | 'warn' | 'bad';
  /** The status line (short). */
  text: string;
  /** What it means for the person, and what happens next; empty when all is well. */
  detail: string;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const names = (list: OtherParticipant[]) => {
  const n = list.map((p) => p.name);
  return n.length <= 1 ? (n[0] ?? '') : `${n.slice(0, -1).join(', ')} and ${n.at(-1)}`;
};

const rank: Record<PeerStatus['link'], number> = { direct: 3, relayed: 2, connecting: 1, failed: 0 };

/** Groups peers (tabs) by participant, keeping the best link of each; `self` is left out. */
export function othersFrom(
  peers: PeerStatus[],
  self: string | null,
  nameOf: (participantId: string) => string | undefined,
): OtherParticipant[] {
  const best = new Map<string, OtherParticipant>();
  for (const p of peers) {
    if (!p.participantId || p.participantId === self) continue;
    const seen = best.get(p.participantId);
    if (seen && rank[seen.link] >= rank[p.link]) continue;
    best.set(p.participantId, {
      participantId: p.participantId,
      name: nameOf(p.participantId) ?? seen?.name ?? 'a participant',
      link: p.link,
      failure: p.failure,
    });
  }
  return [...best.values()];
}

export function describeConnection(input: ConnectionInput): ConnectionView {
  const { phase, others } = input;
  if (phase === 'ended') return { tone: 'bad', text: 'Session ended', detail: '' };
  if (phase === 'left' || phase === 'removed') return { tone: 'bad', text: 'Not in the session', detail: '' };
  if (phase === 'refused') return { tone: 'bad', text: 'Not connected', detail: '' };
  if (phase === 'waiting') return { tone: 'warn', text: 'Waiting for the agent to let you in', detail: '' };

  const n = others.length;
  const direct = others.filter((p) => p.link === 'direct').length;
  const relayed = others.filter((p) => p.link === 'relayed').length;
  const reached = direct + relayed;
  const waitingNote = input.waiting > 0 ? `${plural(input.waiting, 'message')} waiting to be sent.` : '';
  const keptNote = 'What you type is kept and sent when you are back.';
  const join = (...parts: string[]) => parts.filter(Boolean).join(' ');

  if (!input.online) {
    return { tone: 'bad', text: 'Offline', detail: join('Your device has no network.', keptNote, waitingNote) };
  }
  if (phase === 'connecting') return { tone: 'warn', text: 'Connecting…', detail: '' };

  const through = relayed > 0 ? ` · ${relayed} through others` : '';
  const receiving = input.receivingBytes ?? 0;
  const syncing =
    receiving > 0 ? ` · receiving the session, ${(receiving / 1e6).toFixed(1)} MB so far…` : !input.synced && reached > 0 ? ' · syncing…' : '';
  const ofN = `${reached} of ${plural(n, 'participant')}`;

  if (!input.signaling) {
    if (reached > 0) {
      return {
        tone: 'warn',
        text: `Reconnecting to the service · still connected to ${ofN}`,
        detail: join('Messages still reach the others; joining and leaving show up once the service is back.', waitingNote),
      };
    }
    return { tone: 'warn', text: 'Reconnecting to the service…', detail: join(keptNote, waitingNote) };
  }

  if (n === 0) return { tone: 'ok', text: 'Connected', detail: join('Nobody else is connected right now.', waitingNote) };

  const unreached = others.filter((p) => p.link === 'connecting' || p.link === 'failed');
  const relayRefused = unreached.some((p) => p.failure === 'relay');
  const failing = unreached.filter((p) => p.link === 'failed');
  let detail = '';
  if (relayRefused) {
    detail = 'The relay server (TURN) refused the connection or cannot be reached, and this service allows no other path. Tell the agent; the administrator has to check the relay settings.';
  } else if (failing.length > 0) {
    detail = `Can't reach ${names(failing)} yet; trying again.`;
  } else if (unreached.length > 0) {
    detail = `Connecting to ${names(unreached)}…`;
  }
  if (reached === 0 && unreached.length > 0) {
    const anyFailed = failing.length > 0 || relayRefused;
    return {
      tone: anyFailed ? 'bad' : 'warn',
      text: anyFailed ? 'Cannot connect to the other participants' : `Connecting to ${plural(n, 'participant')}…`,
      detail: join(detail, waitingNote || (anyFailed ? keptNote : '')),
    };
  }
  return {
    tone: reached === n ? 'ok' : 'warn',
    text: `Connected to ${ofN}${through}${syncing}`,
    detail: join(detail, waitingNote),
  };
}

/** What the participant list says of one person. */
export type Presence = 'online' | 'offline' | 'unknown' | 'left' | 'removed';

/**
 * A participant's presence as seen from this tab. While our own device is offline we cannot know
 * whether the others are there, so they read "unknown" (not "offline"), and we ourselves read
 * "offline" (not "online").
 */
export function presenceOf(p: {
  isMe: boolean;
  gone?: 'left' | 'removed' | undefined;
  /** Our tab is in the session (live or reconnecting). */
  live: boolean;
  /** The browser says it has a network. */
  deviceOnline: boolean;
  /** Another participant: one of its tabs is reachable now, directly or through others. */
  reached: boolean;
}): Presence {
  if (p.gone) return p.gone;
  if (p.isMe) return p.live && p.deviceOnline ? 'online' : 'offline';
  if (!p.deviceOnline && p.live) return 'unknown';
  return p.reached ? 'online' : 'offline';
}
