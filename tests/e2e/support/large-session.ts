/**
 * A large session for browser tests and the benchmark: a long transcript and a heavy drawing, built
 * here with the product's own document helpers as one Yjs update, and put into a participant's local
 * copy (the IndexedDB database the page keeps, y-indexeddb's "updates" store) as if that participant
 * had been in a long session. After a reload the page loads it and the mesh carries it to the others.
 * Every record is signed (decision 0010) with that participant's own key, read from the tab's
 * sessionStorage. No hook in the product: this is the browser's own storage.
 */
import type { Page } from '@playwright/test';
import * as Y from 'yjs';
import { Authorship, KEY_SLOT, tabKeys, type Signer } from '../../../lib/collab/authorship';
import { appendStroke } from '../../../features/drawing/doc';
import { palette } from '../../../features/participants/colours';
import { appendEntry, signedPart, transcriptOf } from '../../../features/transcript/doc';
import { prose } from '../../support/prose';

export interface LargeSession {
  update: Uint8Array;
  messages: number;
  strokes: number;
  lastMessage: string;
}

/**
 * `signer` signs the seeded entries and strokes (decision 0010): its participant must be in the
 * session's directory with that key for the pages to show them (`pageSigner`).
 */
export async function largeSession(signer: Signer, opts = { messages: 700, strokes: 1200, pointsPerStroke: 300 }): Promise<LargeSession> {
  const doc = new Y.Doc();
  let n = 0;
  const id = () => `seed-${++n}`;
  // Word-like text, different in every entry: it deflates like real conversation (decision 0018).
  for (let i = 0; i < opts.messages; i++) await appendEntry(doc, signer, { kind: 'chat', text: `Seeded message ${i}: ${prose(3880, i + 1)}` }, 1_700_000_000_000 + i, id);
  const lastMessage = `Seeded message ${opts.messages - 1}:`;
  await appendEntry(doc, signer, { kind: 'chat', text: 'The end of the seeded history.' }, 1_700_000_000_000 + opts.messages, id);
  await seedStrokes(doc, signer, opts.strokes, opts.pointsPerStroke, id);
  return { update: Y.encodeStateAsUpdate(doc), messages: opts.messages + 1, strokes: opts.strokes, lastMessage };
}

/** Signed finished strokes of `pointsPerStroke` points each, wavy lines down the surface. */
export async function seedStrokes(doc: Y.Doc, signer: Signer, strokes: number, pointsPerStroke: number, id: () => string): Promise<void> {
  for (let s = 0; s < strokes; s++) {
    const y0 = (s * 37) % 7000;
    const pts = [100, y0];
    for (let i = 0; i < pointsPerStroke - 1; i++) pts.push(Math.min(10_000, 100 + i * 30), Math.max(0, Math.min(7_500, y0 + Math.round(200 * Math.sin(i / 7 + s)) + 250)));
    await appendStroke(doc, signer, { id: id(), colour: palette[s % palette.length]!.hex, width: 30, pts }, 1_700_000_000_000 + s);
  }
}

/**
 * The participant of `page` in `sessionId`, able to sign as it does: its key from the tab's
 * sessionStorage, its participant id found by which entries of its local copy that key signed.
 */
export async function pageSigner(page: Page, sessionId: string): Promise<Signer> {
  const stored = await page.evaluate((slot) => sessionStorage.getItem(slot), KEY_SLOT(sessionId));
  if (!stored) throw new Error('the page holds no key for this session');
  // The product's own reading of the stored key (a storage holding just that one value).
  const keys = await tabKeys(sessionId, { getItem: () => stored, setItem: () => {}, removeItem: () => {} } as unknown as Storage);
  const doc = await readLocalCopy(page, sessionId);
  const entries = transcriptOf(doc).toArray() as (Parameters<typeof signedPart>[0] & { by?: unknown; sig?: unknown })[];
  const writers = [...new Set(entries.map((e) => e?.by).filter((b): b is string => typeof b === 'string'))];
  const auth = new Authorship(sessionId);
  auth.setDirectory(writers.map((participantId) => ({ participantId, name: participantId, role: 'guest' as const, keys: [keys.publicKey], joinedAt: 0 })));
  let participantId: string | null = null;
  for (const e of entries) if (await auth.verified(e.by, e.sig, () => signedPart(e))) participantId = e.by as string;
  if (!participantId) throw new Error('none of the entries in the local copy is signed by this tab');
  const signer = new Authorship(sessionId);
  signer.setSigner(participantId, keys);
  return signer.signer!;
}

/** The session document as the page's local copy (IndexedDB) holds it. */
export async function readLocalCopy(page: Page, sessionId: string): Promise<Y.Doc> {
  const updates = await page.evaluate(async (name) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open(name);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const all = await new Promise<Uint8Array[]>((resolve, reject) => {
      const r = db.transaction('updates', 'readonly').objectStore('updates').getAll();
      r.onsuccess = () => resolve(r.result as Uint8Array[]);
      r.onerror = () => reject(r.error);
    });
    db.close();
    // Chunked: spreading a multi-megabyte array into one call overflows the stack. (Inline, not a
    // named const: the bench loads this file through tsx, whose keepNames would wrap a named function
    // in a `__name` helper that does not exist in the page.)
    return all.map((u) => {
      let s = '';
      for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode(...u.subarray(i, i + 0x8000));
      return btoa(s);
    });
  }, `joinus:${sessionId}`);
  const doc = new Y.Doc();
  for (const u of updates) Y.applyUpdate(doc, Uint8Array.from(Buffer.from(u, 'base64')));
  return doc;
}

/** Adds an update to the page's local copy of the session (the page must have opened it already). */
export async function addToLocalCopy(page: Page, sessionId: string, update: Uint8Array): Promise<void> {
  await page.evaluate(
    async ({ name, base64 }) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const r = indexedDB.open(name);
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      await new Promise<void>((resolve, reject) => {
        const tx = db.transaction('updates', 'readwrite');
        tx.objectStore('updates').add(bytes);
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
      });
      db.close();
    },
    { name: `joinus:${sessionId}`, base64: Buffer.from(update).toString('base64') },
  );
}

declare global {
  interface Window {
    __statusTexts?: string[];
  }
}

/** Records every text the connection status shows (a MutationObserver, before any page script). */
export async function recordStatusTexts(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const seen: string[] = [];
    window.__statusTexts = seen;
    const look = () => {
      const el = document.querySelector('[role="status"][aria-label="Connection"]');
      const t = el?.textContent ?? '';
      if (t && seen.at(-1) !== t) seen.push(t);
    };
    new MutationObserver(look).observe(document, { subtree: true, childList: true, characterData: true });
  });
}

export async function statusTexts(page: Page): Promise<string[]> {
  return page.evaluate(() => window.__statusTexts ?? []);
}
