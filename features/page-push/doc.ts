/**
 * C3: pushed pages in the session document, a Y.Array of signed pushes, append-only (peers refuse
 * updates that delete from it: lib/p2p/update-gate.ts). A push counts only when its signature
 * verifies against the keys of a participant whose directory role is agent (decision 0010): the
 * customer or an invited party running a modified page cannot push anything.
 *
 * The order of the pushes is in the signed records, not in the array: each push carries `seq`, one
 * more than the largest its writer saw, and the pushes are ordered by (seq, at, id). Two tabs of the
 * agent pushing at once converge to one order, and a copy of an old push inserted again anywhere in
 * the array (a replay) changes nothing: it has the old push's id and place.
 */
import * as Y from 'yjs';
import * as z from '../../lib/zod';
import type { Authorship, Signer } from '../../lib/collab/authorship';
import type { Role } from '../../lib/protocol';
import { timestamp } from '../participants/doc';
import { checkWebAddress, MAX_ADDRESS_CHARS } from './address';

/**
 * Whether the site lets other sites show it in a frame (X-Frame-Options, CSP frame-ancestors), as
 * the signaling server found when the page was pushed; `unknown` when it could not tell.
 */
export const framingValues = ['allowed', 'refused', 'unknown'] as const;
export type Framing = (typeof framingValues)[number];

/** What the document holds: the pusher's participant id and signature, never its name or role. */
const storedSchema = z.object({
  id: z.string().min(1).max(64),
  url: z.string().max(MAX_ADDRESS_CHARS),
  at: timestamp,
  seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  framing: z.enum(framingValues),
  by: z.string().max(64),
  sig: z.string().max(100),
});
type StoredPush = z.infer<typeof storedSchema>;

/** A push as shown: the pusher's name and role from the directory. */
export interface PagePush {
  id: string;
  url: string;
  at: number;
  seq: number;
  framing: Framing;
  byId: string;
  byName: string;
  role: Role;
}

/** Most pushes shown: beyond it the oldest are left out (a session is not a browsing history). */
export const MAX_PUSHES = 200;

export const pushesOf = (doc: Y.Doc) => doc.getArray<StoredPush>('pages');

const signedPart = (p: Pick<StoredPush, 'id' | 'url' | 'at' | 'seq' | 'framing'>) => ['push', p.id, p.url, p.at, p.seq, p.framing] as const;

const order = (a: PagePush, b: PagePush) => a.seq - b.seq || a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Every push by the agent whose signature verifies, oldest first (by seq, then time, then id), each
 * id once, the latest MAX_PUSHES. A push of anything but an http(s) address, by anyone but an agent,
 * forged, tampered with or malformed is left out; so are pushes still being checked, until
 * `auth.subscribe` announces the result.
 */
export function readPushes(doc: Y.Doc, auth: Authorship): PagePush[] {
  const byId = new Map<string, PagePush>();
  for (const raw of pushesOf(doc).toArray()) {
    const parsed = storedSchema.safeParse(raw);
    if (!parsed.success) continue;
    const p = parsed.data;
    if (byId.has(p.id)) continue;
    const address = checkWebAddress(p.url);
    if (!address.ok || address.url !== p.url) continue;
    const pusher = auth.who(p.by);
    if (pusher?.role !== 'agent') continue;
    if (auth.check(p.by, p.sig, () => signedPart(p), raw as object) !== true) continue;
    byId.set(p.id, { id: p.id, url: p.url, at: p.at, seq: p.seq, framing: p.framing, byId: p.by, byName: pusher.name, role: pusher.role });
  }
  return [...byId.values()].sort(order).slice(-MAX_PUSHES);
}

export function currentPage(pushes: PagePush[]): PagePush | null {
  return pushes.at(-1) ?? null;
}

/**
 * Signs and appends a push of an address already checked by `parseWebAddress`; refuses anything
 * else. It comes after every push its writer can verify now (checks in flight are waited for).
 */
export async function pushPage(
  doc: Y.Doc,
  signer: Signer,
  auth: Authorship,
  page: { url: string; framing: Framing },
  now: number,
  newId: () => string,
): Promise<PagePush> {
  const address = checkWebAddress(page.url);
  if (!address.ok) throw new Error(address.message);
  const seen = await auth.readSettled(() => readPushes(doc, auth));
  const seq = Math.max(0, ...seen.map((p) => p.seq)) + 1;
  const unsigned = { id: newId(), url: address.url, at: now, seq, framing: page.framing };
  const push: StoredPush = { ...unsigned, by: signer.participantId, sig: await signer.sign(signedPart(unsigned)) };
  pushesOf(doc).push([push]);
  const me = auth.who(signer.participantId);
  return { ...unsigned, byId: signer.participantId, byName: me?.name ?? '', role: me?.role ?? 'agent' };
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
