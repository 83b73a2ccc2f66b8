/**
 * C1/C6: the transcript in the session's shared document, a Y.Array of signed entries, append-only
 * (peers refuse updates that delete from it: lib/p2p/update-gate.ts). Every peer is an outside party
 * to every other, so what is read back is validated and its signature checked before it is shown.
 */
import * as Y from 'yjs';
import * as z from '../../lib/zod';
import { describeEndReason, Limits, type Role } from '../../lib/protocol';
import type { Authorship, Signer } from '../../lib/collab/authorship';
import { oncePerObject } from '../../lib/collab/once-per-object';
import { roleLabel, timestamp, type ParticipantInfo } from '../participants/doc';

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

/**
 * What the document holds: the writer's participant id and signature, never its name or role (those
 * come from the server's directory when read: nobody can write under another's name).
 */
const storedSchema = z.object({
  id: z.string().min(1).max(64),
  kind: z.enum(['chat', 'system']),
  at: timestamp,
  by: z.string().max(64),
  text: z.string().max(Limits.messageChars),
  event: z.enum(systemEvents).optional(),
  sig: z.string().max(100),
});
type StoredEntry = z.infer<typeof storedSchema>;

/** An entry as shown: its author's name and role from the directory. */
export interface TranscriptEntry {
  id: string;
  kind: 'chat' | 'system';
  at: number;
  authorId: string;
  authorName: string;
  role: Role;
  text: string;
  event?: SystemEvent;
}

export const transcriptOf = (doc: Y.Doc) => doc.getArray<StoredEntry>('transcript');

/** What an entry's signature covers (besides the session and the writer). */
export const signedPart = (e: Pick<StoredEntry, 'id' | 'kind' | 'at' | 'text' | 'event'>) => ['entry', e.id, e.kind, e.at, e.text, e.event ?? null] as const;

/**
 * Lines several pages may write for one event (whoever learns of it first) carry a fixed id, which
 * says what the line is about; a line under such an id counts only if it is that event, written by
 * someone who may write it. Every other line has a random id of its writer's.
 */
function fixedIdAllowed(e: Pick<TranscriptEntry, 'id' | 'event' | 'role' | 'authorId'>): boolean {
  const agent = e.role === 'agent';
  if (e.id === 'session-ended') return e.event === 'session_ended' && (agent || e.role === 'customer');
  if (e.id.startsWith('joined-')) return e.event === 'joined' && e.id === `joined-${e.authorId}`;
  if (e.id.startsWith('left-')) return e.event === 'left' && (agent || e.id === `left-${e.authorId}`);
  if (e.id.startsWith('removed-')) return e.event === 'removed' && agent;
  // These events are only ever written under their fixed ids.
  return e.event !== 'session_ended' && e.event !== 'joined' && e.event !== 'left' && e.event !== 'removed';
}
const isFixedId = (id: string) => id === 'session-ended' || /^(joined|left|removed)-/.test(id);

/**
 * System lines that are not the agent's say only what their writer may say, in the words the page
 * writes: its own arrival or departure, or (the customer) that it ended the session or that the
 * agent's connection was lost, and what its browser did with a form's result, under its own name.
 * An agent's system lines record its own actions (a page pushed, a handle reserved) and are shown
 * as written.
 */
export function systemLineAllowed(e: Pick<TranscriptEntry, 'id' | 'event' | 'text' | 'role' | 'authorId' | 'authorName'>): boolean {
  if (!fixedIdAllowed(e)) return false;
  if (e.role === 'agent') return true;
  const name = e.authorName;
  switch (e.event) {
    case 'joined':
      return e.text === joinedText(name, e.role);
    case 'left':
      return e.role === 'guest' && e.text === leftText(name);
    case 'session_ended':
      return e.role === 'customer' && (e.text === endedByText(name) || e.text === describeEndReason('agent_disconnected'));
    case 'form_submitted':
      // The customer's browser delivers a form's result (C4) and says how it went, as itself.
      return e.role === 'customer' && e.text.startsWith(`${name}'s browser `);
    default:
      return false;
  }
}

export const joinedText = (name: string, role: Role) => `${name} ${role === 'guest' ? 'joined the session with a handle' : `joined as ${role}`}`;
export const leftText = (name: string) => `${name} left the session`;
export const endedByText = (name: string) => `${name} ended the session`;

/** Entries are immutable objects in the array: each is validated once, however often it is read. */
const parseStored = oncePerObject((raw): StoredEntry | null => {
  const parsed = storedSchema.safeParse(raw);
  return parsed.success ? parsed.data : null;
});

/** The entry as shown, if its signature verified (`check` answered true) and its writer may write it. */
function shown(e: StoredEntry, auth: Authorship): TranscriptEntry | null {
  const author = auth.who(e.by);
  if (!author) return null;
  const entry: TranscriptEntry = {
    id: e.id,
    kind: e.kind,
    at: e.at,
    authorId: e.by,
    authorName: author.name,
    role: author.role,
    text: e.text,
    ...(e.event ? { event: e.event } : {}),
  };
  if (entry.kind === 'system') return systemLineAllowed(entry) ? entry : null;
  // A chat line is never under a fixed id (a guest's line must not stand in for the agent's record).
  return isFixedId(entry.id) ? null : entry;
}

/**
 * Every entry whose signature verifies against its author's keys, in document order. Entries still
 * being checked are left out until the check is done (`auth.subscribe` announces it); forged,
 * malformed or unauthorised ones never show.
 */
export function readTranscript(doc: Y.Doc, auth: Authorship): TranscriptEntry[] {
  const out: TranscriptEntry[] = [];
  for (const raw of transcriptOf(doc).toArray()) {
    const e = parseStored(raw);
    if (!e) continue;
    if (auth.check(e.by, e.sig, () => signedPart(e), raw as object) !== true) continue;
    const entry = shown(e, auth);
    if (entry) out.push(entry);
  }
  return out;
}

/** Signs and appends an entry; resolves with it once written. */
export async function appendEntry(
  doc: Y.Doc,
  signer: Signer,
  entry: { kind: 'chat' | 'system'; text: string; event?: SystemEvent; id?: string },
  now: number,
  newId: () => string,
): Promise<StoredEntry> {
  const unsigned = {
    id: entry.id ?? newId(),
    kind: entry.kind,
    at: now,
    by: signer.participantId,
    text: entry.text.slice(0, Limits.messageChars),
    ...(entry.event ? { event: entry.event } : {}),
  };
  const e: StoredEntry = { ...unsigned, sig: await signer.sign(signedPart(unsigned)) };
  transcriptOf(doc).push([e]);
  return e;
}

/**
 * Add an entry once: a fixed id written by several peers at once is shown once (see dedupe). Only a
 * valid entry under the id counts as written: a hostile peer's forgery under it blocks nothing.
 */
export async function appendOnce(
  doc: Y.Doc,
  auth: Authorship,
  signer: Signer,
  entry: { kind: 'system'; text: string; event: SystemEvent; id: string },
  now: number,
): Promise<void> {
  for (const raw of transcriptOf(doc).toArray()) {
    const e = parseStored(raw);
    if (!e || e.id !== entry.id) continue;
    if ((await auth.verified(e.by, e.sig, () => signedPart(e), raw as object)) && shown(e, auth)) return;
  }
  await appendEntry(doc, signer, entry, now, () => entry.id);
}

/**
 * Entries in document order, each once: a line under a fixed id (written by several peers at once:
 * appendOnce) once, any other line once per writer and id (a replayed copy, or another's line under
 * the same id, hides nothing).
 */
export function dedupe(entries: TranscriptEntry[]): TranscriptEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => {
    const key = isFixedId(e.id) ? e.id : `${e.authorId}\u0000${e.id}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
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

