/**
 * A large session for browser tests and the benchmark: a long transcript and a heavy drawing, built
 * here with the product's own document helpers as one Yjs update, and put into a participant's local
 * copy (the IndexedDB database the page keeps, y-indexeddb's "updates" store) as if that participant
 * had been in a long session. After a reload the page loads it and the mesh carries it to the others.
 * No hook in the product: this is the browser's own storage.
 */
import type { Page } from '@playwright/test';
import * as Y from 'yjs';
import { beginStroke, extendStroke } from '../../../features/drawing/doc';
import { palette } from '../../../features/participants/colours';
import { appendEntry } from '../../../features/transcript/doc';

export interface LargeSession {
  update: Uint8Array;
  messages: number;
  strokes: number;
  lastMessage: string;
}

export function largeSession(author: { participantId: string; name: string; role: 'agent' | 'customer' | 'guest' }, opts = { messages: 700, strokes: 1200, pointsPerStroke: 300 }): LargeSession {
  const doc = new Y.Doc();
  const filler = 'All work and no play makes a long transcript. '.repeat(84).slice(0, 3900);
  let n = 0;
  const id = () => `seed-${++n}`;
  for (let i = 0; i < opts.messages; i++) appendEntry(doc, author, { kind: 'chat', text: `Seeded message ${i}: ${filler}` }, 1_700_000_000_000 + i, id);
  const lastMessage = `Seeded message ${opts.messages - 1}:`;
  appendEntry(doc, author, { kind: 'chat', text: 'The end of the seeded history.' }, 1_700_000_000_000 + opts.messages, id);
  for (let s = 0; s < opts.strokes; s++) {
    const y0 = (s * 37) % 7000;
    const stroke = beginStroke(doc, author, { colour: palette[s % palette.length]!.hex, width: 30 }, { x: 100, y: y0 }, id());
    extendStroke(
      stroke,
      Array.from({ length: opts.pointsPerStroke - 1 }, (_, i) => ({ x: 100 + i * 30, y: y0 + Math.round(200 * Math.sin(i / 7 + s)) + 250 })),
    );
  }
  return { update: Y.encodeStateAsUpdate(doc), messages: opts.messages + 1, strokes: opts.strokes, lastMessage };
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
