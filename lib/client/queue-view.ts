/**
 * An agent's view of the customer queue (S1), kept from changes rather than the whole queue
 * (issue 9): a snapshot of the first waiting customers, then one `queue:changed` per change.
 *
 * The view holds a prefix of the queue (`entries`, oldest first) and the true `count`. A removal
 * keeps it a prefix, and one among the head (`Limits.queueHead`) brings the customer who moves into
 * the head's last place (`next`), so a view holding the head keeps holding it; a newcomer is
 * appended only when the view holds the whole queue (otherwise it is somewhere past the view's end).
 * When the prefix runs shorter than what the console shows ("Show more"), the console asks for more
 * (`queue:list`), and the answer, read at some version, is brought up to date with the changes
 * received after that version (`recent`).
 */
import type { QueueChange, QueueEntry, QueueSnapshot } from '../protocol';

export interface QueueView {
  /**
   * Whether the view rests on a snapshot of this connection. Until it does (the sign-in or resume
   * not yet answered), changes are only kept in `recent`, to be replayed over that snapshot.
   */
  ready: boolean;
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

export const emptyQueueView: QueueView = { ready: false, version: 0, count: 0, entries: [], pending: [], recent: [] };

function applyOne(view: QueueView, c: QueueChange): QueueView {
  let entries = view.entries;
  if (c.removed) {
    const gone = c.removed.requestId;
    if (entries.some((e) => e.requestId === gone)) {
      entries = entries.filter((e) => e.requestId !== gone);
      // The one who moved into the last place of the head this view holds: it keeps holding the head.
      if (c.next && entries.length === c.next.place - 1) entries = [...entries, c.next.entry];
    }
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
  // In version order, so one pass applies every change that follows on; the rest are behind a gap.
  for (const c of waiting) {
    if (c.version <= v.version) continue; // a duplicate
    if (c.version === v.version + 1) v = applyOne(v, c);
    else if (left.at(-1)?.version !== c.version) left.push(c);
  }
  return { ...v, pending: left };
}

/** One change from the server. */
export function applyChange(view: QueueView, change: QueueChange): QueueView {
  const recent = [...view.recent, change];
  if (recent.length > RECENT) recent.splice(0, recent.length - RECENT);
  if (!view.ready) return { ...view, recent };
  return settle({ ...view, recent }, [change]);
}

/**
 * A snapshot (sign-in, resume, `queue:list`): it replaces the view, then the changes received after
 * the version it was read at are applied over it. A snapshot older than changes already received
 * (read before them, answered after) is brought up to date by them, not taken as it is.
 */
export function applySnapshot(view: QueueView, snap: QueueSnapshot): QueueView {
  const base: QueueView = {
    ready: true,
    version: snap.version,
    count: snap.count,
    entries: snap.entries,
    pending: [],
    recent: view.recent,
  };
  return settle(base, [...view.pending, ...view.recent]);
}

/**
 * The socket connected again: what it received before means nothing for the next snapshot (the
 * server may even have restarted, and its versions with it). The entries stay on screen until that
 * snapshot comes; changes meanwhile wait for it.
 */
export function reconnected(view: QueueView): QueueView {
  return { ...view, ready: false, pending: [], recent: [] };
}

/** Changes are missing (a gap not filled): the console should ask for a snapshot. */
export const stalled = (view: QueueView) => view.ready && view.pending.length > 0;

/** The console shows `shown` entries: does the view hold fewer than there are to show? */
export const needsMore = (view: QueueView, shown: number) => view.ready && view.entries.length < Math.min(shown, view.count);
