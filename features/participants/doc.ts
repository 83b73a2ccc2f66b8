/**
 * C2: who is in the session, in the shared document (a Y.Map participantId → info), and the
 * presence each peer publishes in awareness. Both come from other peers: validated when read.
 */
import * as Y from 'yjs';
import { z } from 'zod';
import { Limits, type Role } from '../../lib/protocol';

export const roleSchema = z.enum(['agent', 'customer', 'guest']);
/** Milliseconds that `new Date()` can format: a hostile peer's 1e300 must not crash every page. */
export const timestamp = z.number().int().min(0).max(8.64e15);

const participantSchema = z.object({
  name: z.string().max(Limits.nameChars),
  role: roleSchema,
  joinedAt: timestamp,
  /** Set when a joined party leaves or is removed (S5); absent while in the session. */
  gone: z.enum(['left', 'removed']).optional(),
});
export type ParticipantInfo = z.infer<typeof participantSchema> & { participantId: string };

export const presenceSchema = z.object({
  participantId: z.string().max(64),
  name: z.string().max(Limits.nameChars),
  role: roleSchema,
  typing: z.boolean().optional(),
});
export type PresenceState = z.infer<typeof presenceSchema>;

export interface Author {
  participantId: string;
  name: string;
  role: Role;
}

export const participantsOf = (doc: Y.Doc) => doc.getMap<z.infer<typeof participantSchema>>('participants');

export function readParticipants(doc: Y.Doc): ParticipantInfo[] {
  const out: ParticipantInfo[] = [];
  participantsOf(doc).forEach((raw, participantId) => {
    const parsed = participantSchema.safeParse(raw);
    if (parsed.success && participantId.length <= 64) out.push({ participantId, ...parsed.data });
  });
  return out.sort((a, b) => a.joinedAt - b.joinedAt);
}

export function markParticipantGone(doc: Y.Doc, participantId: string, gone: 'left' | 'removed'): void {
  const map = participantsOf(doc);
  const p = map.get(participantId);
  if (p) map.set(participantId, { ...p, gone });
}

export function registerParticipant(doc: Y.Doc, p: Author, now: number): void {
  const map = participantsOf(doc);
  if (!map.has(p.participantId)) map.set(p.participantId, { name: p.name, role: p.role, joinedAt: now });
}

export const roleLabel: Record<Role, string> = { agent: 'Agent', customer: 'Customer', guest: 'Invited' };
