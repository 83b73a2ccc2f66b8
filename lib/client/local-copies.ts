'use client';
/**
 * Privacy at rest: each participant's copy of a session (IndexedDB `joinus:<sessionId>`, y-indexeddb)
 * lives only while it is needed. A tab in a session holds a Web Lock named like its database; the
 * copy is deleted when the participant leaves or the session ends (session-connection.ts), and any
 * copy no open tab holds (a tab closed mid-session, a crash) is deleted the next time a Join Us page
 * that is not a session opens in that browser: a shared computer keeps nothing readable.
 */

export const localCopyName = (sessionId: string) => `joinus:${sessionId}`;

/** Hold the lock that marks this session's copy as in use; returns its release. */
export function holdLocalCopy(sessionId: string): () => void {
  if (typeof navigator === 'undefined' || !navigator.locks) return () => {};
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  void navigator.locks.request(localCopyName(sessionId), () => held).catch(() => {});
  return () => release();
}

export function deleteLocalCopy(sessionId: string): Promise<void> {
  return deleteDatabase(localCopyName(sessionId));
}

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve) => {
    if (typeof indexedDB === 'undefined') return resolve();
    const r = indexedDB.deleteDatabase(name);
    r.onsuccess = r.onerror = () => resolve();
    // Another tab still has it open: the browser deletes it when that tab closes it.
    r.onblocked = () => resolve();
  });
}

/**
 * Delete every session copy no open tab holds. Needs `indexedDB.databases()` and Web Locks (every
 * current browser); where either is missing, copies are still deleted when a session ends or is left.
 */
export async function sweepLocalCopies(): Promise<string[]> {
  if (typeof indexedDB === 'undefined' || typeof indexedDB.databases !== 'function') return [];
  if (typeof navigator === 'undefined' || !navigator.locks) return [];
  const names = (await indexedDB.databases()).map((d) => d.name ?? '').filter((n) => n.startsWith('joinus:'));
  const deleted: string[] = [];
  for (const name of names) {
    await navigator.locks.request(name, { ifAvailable: true }, async (lock) => {
      if (!lock) return; // an open tab is in that session
      await deleteDatabase(name);
      deleted.push(name);
    });
  }
  return deleted;
}
