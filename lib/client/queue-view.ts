/**
 * An agent's view of the customer queue (S1), kept from changes rather than the whole queue
 * (issue 9): a snapshot of the first waiting customers, then one `queue:changed` per change.
 *
 * The view holds a prefix of the queue (`entries`, oldest first) and the true `count`. A removal
 * keeps it a prefix; a newcomer is appended only when the view holds the whole queue (otherwise it
 * is somewhere past the view's end). When the prefix runs shorter than what the console shows, the
 * console asks for more (`queue:list`), and the answer, read at some version, is brought up to date
 * with the changes received after that version (`recent`).
 */
import type { QueueChange, QueueEntry, QueueSnapshot } from '../protocol';

export interface QueueView {
  version: number;
  count: number;
  entries: QueueEntry[];
  /** Changes that arrived ahead of one they follow: applied once the gap is filled (or a snapshot covers them). */
  pending: QueueChange[];
  /** The last changes received, to bring an older snapshot up to date. */
  recent: QueueChange[];
}

/** How many recent changes are kept for bringing a snapshot up to date. */
const RECENT = 256;

export const emptyQueueView: QueueView = { version: 0, count: 0, entries: [], pending: [], recent: [] };

function applyOne(view: QueueView, c: QueueChange): QueueView {
  let entries = view.entries;
  if (c.removed) {
    const gone = c.removed.requestId;
    if (entries.some((e) => e.requestId === gone)) entries = entries.filter((e) => e.requestId !== gone);
  }
  // The view held the whole queue before this change: the newcomer, last in line, belongs in it.
  if (c.added && view.entries.length >= view.count && !entries.some((e) => e.requestId === c.added!.requestId)) {
    entries = [...entries, c.added];
  }
  return { ...view, version: c.version, count: c.count, entries };
}

/** Apply what can be applied in order; keep what comes after a gap. */
function settle(view: QueueView, incoming: QueueChange[]): QueueView {
  const waiting = [...view.pending, ...incoming]
    .filter((c) => c.version > view.version)
    .sort((a, b) => a.version - b.version);
  let v: QueueView = { ...view, pending: [] };
  const left: QueueChange[] = [];
  for (const c of waiting) {
    if (c.version <= v.version) continue; // a duplicate
    if (c.version === v.version + 1) v = applyOne(v, c);
    else left.push(c);
  }
  // What was left behind a gap may now follow on.
  const still = left.filter((c) => c.version > v.version);
  if (still.length > 0 && still.length < left.length) return settle(v, still);
  return { ...v, pending: still };
}

/** One change from the server. */
export function applyChange(view: QueueView, change: QueueChange): QueueView {
  const recent = [...view.recent, change];
  if (recent.length > RECENT) recent.splice(0, recent.length - RECENT);
  return settle({ ...view, recent }, [change]);
}

/**
 * A snapshot (sign-in, resume, `queue:list`): it replaces the view, then the changes received after
 * the version it was read at are applied over it. An older snapshot than the view is still welcome
 * when it carries more entries; those recent changes bring it up to date.
 */
export function applySnapshot(view: QueueView | null, snap: QueueSnapshot): QueueView {
  const base: QueueView = {
    version: snap.version,
    count: snap.count,
    entries: snap.entries,
    pending: [],
    recent: view?.recent ?? [],
  };
  if (!view) return base;
  return settle(base, [...view.pending, ...view.recent]);
}

/** A fresh connection's snapshot: nothing from the old connection is replayed over it. */
export function freshView(snap: QueueSnapshot): QueueView {
  return applySnapshot(null, snap);
}

/** Changes are missing (a gap not filled): the console should ask for a snapshot. */
export const stalled = (view: QueueView) => view.pending.length > 0;

/** The console shows `shown` entries: does the view hold fewer than there are to show? */
export const needsMore = (view: QueueView, shown: number) => view.entries.length < Math.min(shown, view.count);
