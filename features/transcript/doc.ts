/**
 * C1/C6: the transcript in the session's shared document, a Y.Array of entries. Every peer is an
 * outside party to every other, so what is read back is validated before it is shown.
 */
import * as Y from 'yjs';
import { z } from 'zod';
import { Limits } from '../../lib/protocol';
import { roleLabel, roleSchema, timestamp, type Author, type ParticipantInfo } from '../participants/doc';

export const systemEvents = [
  'started',
  'joined',
  'left',
  'removed',
  'handle_reserved',
  'handle_cancelled',
  'session_ended',
  'page_pushed',
  'form_shared',
  'form_submitted',
  'drawing_cleared',
  'lobby_declined',
] as const;
export type SystemEvent = (typeof systemEvents)[number];

const entrySchema = z.object({
  id: z.string().max(64),
  kind: z.enum(['chat', 'system']),
  at: timestamp,
  authorId: z.string().max(64),
  authorName: z.string().max(Limits.nameChars),
  role: roleSchema,
  text: z.string().max(Limits.messageChars),
  event: z.enum(systemEvents).optional(),
});
export type TranscriptEntry = z.infer<typeof entrySchema>;

export const transcriptOf = (doc: Y.Doc) => doc.getArray<TranscriptEntry>('transcript');

export function readTranscript(doc: Y.Doc): TranscriptEntry[] {
  const out: TranscriptEntry[] = [];
  for (const raw of transcriptOf(doc).toArray()) {
    const parsed = entrySchema.safeParse(raw);
    if (parsed.success) out.push(parsed.data);
  }
  return out;
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
export function transcriptJson(
  meta: { sessionId: string; title: string },
  entries: TranscriptEntry[],
  participants: ParticipantInfo[],
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify({ sessionId: meta.sessionId, title: meta.title, participants, entries: dedupe(entries), ...extra }, null, 2);
}

