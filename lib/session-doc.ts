/**
 * The session's shared state: one Y.Doc per session, synced peer to peer. Every peer is an outside
 * party to every other, so what is read back from the document is validated before it is shown.
 */
import * as Y from 'yjs';
import { z } from 'zod';
import { Limits, type Role } from './protocol';

export type SystemEvent =
  | 'started'
  | 'joined'
  | 'left'
  | 'removed'
  | 'handle_reserved'
  | 'handle_cancelled'
  | 'session_ended';

const roleSchema = z.enum(['agent', 'customer', 'guest']);
/** Milliseconds that `new Date()` can format: a hostile peer's 1e300 must not crash every page. */
const timestamp = z.number().int().min(0).max(8.64e15);

const entrySchema = z.object({
  id: z.string().max(64),
  kind: z.enum(['chat', 'system']),
  at: timestamp,
  authorId: z.string().max(64),
  authorName: z.string().max(Limits.nameChars),
  role: roleSchema,
  text: z.string().max(Limits.messageChars),
  event: z
    .enum(['started', 'joined', 'left', 'removed', 'handle_reserved', 'handle_cancelled', 'session_ended'])
    .optional(),
});
export type TranscriptEntry = z.infer<typeof entrySchema>;

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
export type Presence = z.infer<typeof presenceSchema>;

export const transcriptOf = (doc: Y.Doc) => doc.getArray<TranscriptEntry>('transcript');
export const participantsOf = (doc: Y.Doc) => doc.getMap<z.infer<typeof participantSchema>>('participants');

export function readTranscript(doc: Y.Doc): TranscriptEntry[] {
  const out: TranscriptEntry[] = [];
  for (const raw of transcriptOf(doc).toArray()) {
    const parsed = entrySchema.safeParse(raw);
    if (parsed.success) out.push(parsed.data);
  }
  return out;
}

export function readParticipants(doc: Y.Doc): ParticipantInfo[] {
  const out: ParticipantInfo[] = [];
  participantsOf(doc).forEach((raw, participantId) => {
    const parsed = participantSchema.safeParse(raw);
    if (parsed.success && participantId.length <= 64) out.push({ participantId, ...parsed.data });
  });
  return out.sort((a, b) => a.joinedAt - b.joinedAt);
}

export interface Author {
  participantId: string;
  name: string;
  role: Role;
}

export function appendEntry(
  doc: Y.Doc,
  author: Author,
  entry: { kind: 'chat' | 'system'; text: string; event?: SystemEvent; id?: string },
  now: number,
  newId: () => string,
): TranscriptEntry {
  const e: TranscriptEntry = {
    id: entry.id ?? newId(),
    kind: entry.kind,
    at: now,
    authorId: author.participantId,
    authorName: author.name,
    role: author.role,
    text: entry.text.slice(0, Limits.messageChars),
    ...(entry.event ? { event: entry.event } : {}),
  };
  transcriptOf(doc).push([e]);
  return e;
}

/** Add an entry once: a fixed id written by several peers at once is shown once (see dedupe). */
export function appendOnce(
  doc: Y.Doc,
  author: Author,
  entry: { kind: 'system'; text: string; event: SystemEvent; id: string },
  now: number,
): void {
  if (readTranscript(doc).some((e) => e.id === entry.id)) return;
  appendEntry(doc, author, entry, now, () => entry.id);
}

/** Entries in document order with duplicate ids (concurrent appendOnce) shown once. */
export function dedupe(entries: TranscriptEntry[]): TranscriptEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => (seen.has(e.id) ? false : (seen.add(e.id), true)));
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

function stamp(at: number): string {
  return new Date(at).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

/** C6: the transcript as plain text, as any participant downloads it. */
export function transcriptText(meta: { title: string; endedNote?: string | null }, entries: TranscriptEntry[]): string {
  const lines = [`Join Us transcript: ${meta.title}`, `Downloaded ${stamp(Date.now())}`, ''];
  for (const e of dedupe(entries)) {
    lines.push(
      e.kind === 'chat'
        ? `[${stamp(e.at)}] ${e.authorName} (${roleLabel[e.role]}): ${e.text}`
        : `[${stamp(e.at)}] * ${e.text}`,
    );
  }
  if (meta.endedNote) lines.push('', `* ${meta.endedNote}`);
  return lines.join('\n') + '\n';
}

/** C6: the agent's structured export. */
export function transcriptJson(meta: { sessionId: string; title: string }, entries: TranscriptEntry[], participants: ParticipantInfo[]): string {
  return JSON.stringify({ sessionId: meta.sessionId, title: meta.title, participants, entries: dedupe(entries) }, null, 2);
}
