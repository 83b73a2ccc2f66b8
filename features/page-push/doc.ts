/**
 * C3: pushed pages in the session document, a Y.Array of pushes in order; the current page is the
 * last valid one. Pushes are appended, never edited, so concurrent pushes from two tabs of the agent
 * converge to one order (Yjs orders concurrent inserts) and the history is the array itself.
 */
import * as Y from 'yjs';
import { z } from 'zod';
import { Limits } from '../../lib/protocol';
import { roleSchema, timestamp, type Author } from '../participants/doc';
import { checkWebAddress, MAX_ADDRESS_CHARS } from './address';

/**
 * Whether the site lets other sites show it in a frame (X-Frame-Options, CSP frame-ancestors), as
 * the signaling server found when the page was pushed; `unknown` when it could not tell.
 */
export const framingValues = ['allowed', 'refused', 'unknown'] as const;
export type Framing = (typeof framingValues)[number];

const pushSchema = z.object({
  id: z.string().min(1).max(64),
  url: z.string().max(MAX_ADDRESS_CHARS),
  at: timestamp,
  byId: z.string().max(64),
  byName: z.string().max(Limits.nameChars),
  role: roleSchema,
  framing: z.enum(framingValues),
});
export type PagePush = z.infer<typeof pushSchema>;

/** Most pushes kept: beyond it the oldest go (a session is not a browsing history). */
export const MAX_PUSHES = 200;

export const pushesOf = (doc: Y.Doc) => doc.getArray<PagePush>('pages');

/** Every valid push in order. A push of anything but an http(s) address (a hostile peer's) is dropped. */
export function readPushes(doc: Y.Doc): PagePush[] {
  const out: PagePush[] = [];
  for (const raw of pushesOf(doc).toArray()) {
    const parsed = pushSchema.safeParse(raw);
    if (!parsed.success) continue;
    const address = checkWebAddress(parsed.data.url);
    if (address.ok && address.url === parsed.data.url) out.push(parsed.data);
  }
  return out;
}

export function currentPage(pushes: PagePush[]): PagePush | null {
  return pushes.at(-1) ?? null;
}

/** Appends a push of an address already checked by `parseWebAddress`; refuses anything else. */
export function pushPage(
  doc: Y.Doc,
  by: Author,
  page: { url: string; framing: Framing },
  now: number,
  newId: () => string,
): PagePush {
  const address = checkWebAddress(page.url);
  if (!address.ok) throw new Error(address.message);
  const push: PagePush = { id: newId(), url: address.url, at: now, byId: by.participantId, byName: by.name, role: by.role, framing: page.framing };
  const pushes = pushesOf(doc);
  doc.transact(() => {
    pushes.push([push]);
    if (pushes.length > MAX_PUSHES) pushes.delete(0, pushes.length - MAX_PUSHES);
  });
  return push;
}

/** The distinct addresses pushed, latest first, each with its latest push (the agent's history). */
export function pushHistory(pushes: PagePush[]): PagePush[] {
  const seen = new Set<string>();
  const out: PagePush[] = [];
  for (let i = pushes.length - 1; i >= 0; i--) {
    const p = pushes[i]!;
    if (seen.has(p.url)) continue;
    seen.add(p.url);
    out.push(p);
  }
  return out;
}
