'use client';
/**
 * "Waiting customers" (S1) at contact-center scale (issue 9): the console follows the queue's
 * changes (lib/client/queue-view.ts), shows the first few and the count, and fetches more only when
 * asked to show more or when what it holds runs short.
 */
import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import { Limits, type QueueChange, type QueueSnapshot } from '@/lib/protocol';
import { request, type ClientSocket } from '@/lib/client/socket';
import { applyChange, applySnapshot, emptyQueueView, needsMore, reconnected, stalled, type QueueView } from '@/lib/client/queue-view';
import { useNow } from '../_components/hooks';

/** Shown at first, and added by each "Show more". */
const STEP = 10;
/** "Show more" stops here: past it the console shows the count only. */
const MAX_SHOWN = 100;
/**
 * Held beyond what is shown (as many again, at least 10): a console showing 100 holds 200 and asks
 * again only after 100 have left the head, not on every customer taken.
 */
const fetchLimit = (shown: number) => Math.min(Limits.queuePage, shown + Math.max(STEP, shown));
/** Changes missing for this long (a gap that does not fill): fetch a snapshot instead. */
const STALL_MS = 1000;
/** After a failed fetch, the next try waits this long. */
const RETRY_MS = 2000;

type Action =
  | { type: 'connected' }
  | { type: 'signed-out' }
  | { type: 'snapshot'; snap: QueueSnapshot }
  | { type: 'change'; change: QueueChange };

function reduce(view: QueueView, a: Action): QueueView {
  switch (a.type) {
    case 'connected':
      return reconnected(view);
    case 'signed-out':
      return emptyQueueView;
    case 'snapshot':
      return applySnapshot(view, a.snap);
    case 'change':
      return applyChange(view, a.change);
  }
}

export interface QueueFeed {
  view: QueueView;
  /** The snapshot a sign-in or a resume answered with. */
  start(snap: QueueSnapshot): void;
  /** Signed out: forget the queue. */
  clear(): void;
  shown: number;
  showMore(): void;
  showFewer(): void;
  /** A fetch of more entries failed (cleared by the next snapshot). */
  trouble: string | null;
}

/**
 * The queue as this console follows it on `socket`. Changes are listened to from the moment the
 * socket exists, so that those sent between the server reading a snapshot and the snapshot arriving
 * are kept and replayed over it; a new connection starts over.
 */
export function useQueueFeed(socket: ClientSocket | null, signedIn: boolean): QueueFeed {
  const [view, dispatch] = useReducer(reduce, emptyQueueView);
  const [shown, setShown] = useState(STEP);
  const [trouble, setTrouble] = useState<string | null>(null);
  /** A fetch in flight (its end lets the effect below look again), and when the last one failed. */
  const [fetching, setFetching] = useState(false);
  const [failedAt, setFailedAt] = useState(0);
  /** Bumped by every new connection: answers to fetches sent before it are dropped. */
  const connection = useRef(0);

  useEffect(() => {
    if (!socket) return;
    const onChange = (change: QueueChange) => dispatch({ type: 'change', change });
    const onConnect = () => {
      connection.current++;
      setTrouble(null);
      dispatch({ type: 'connected' });
    };
    socket.on('queue:changed', onChange);
    socket.on('connect', onConnect);
    return () => {
      socket.off('queue:changed', onChange);
      socket.off('connect', onConnect);
    };
  }, [socket]);

  const fetchMore = useCallback(
    async (limit: number) => {
      if (!socket) return;
      const sentOn = connection.current;
      setFetching(true);
      try {
        const r = await request(socket, 'queue:list', { limit });
        if (sentOn !== connection.current) return;
        if (r.ok) {
          setTrouble(null);
          setFailedAt(0);
          dispatch({ type: 'snapshot', snap: r });
        } else {
          setTrouble(r.error.message);
          setFailedAt(Date.now());
        }
      } finally {
        setFetching(false);
      }
    },
    [socket],
  );

  // Fetch when the console holds fewer than it shows, or when changes are missing (after a second);
  // after a failure, again a little later. One fetch at a time: its end brings this effect back.
  const short = signedIn && needsMore(view, shown);
  const isStalled = signedIn && stalled(view);
  useEffect(() => {
    if (fetching || (!short && !isStalled)) return;
    const delay = Math.max(short ? 0 : STALL_MS, failedAt ? failedAt + RETRY_MS - Date.now() : 0);
    const t = setTimeout(() => void fetchMore(fetchLimit(shown)), delay);
    return () => clearTimeout(t);
  }, [fetching, short, isStalled, shown, failedAt, fetchMore]);

  return {
    view,
    start: useCallback((snap: QueueSnapshot) => {
      setTrouble(null);
      dispatch({ type: 'snapshot', snap });
    }, []),
    clear: useCallback(() => {
      setShown(STEP);
      setTrouble(null);
      setFailedAt(0);
      dispatch({ type: 'signed-out' });
    }, []),
    shown,
    showMore: () => setShown((n) => Math.min(n + STEP, MAX_SHOWN)),
    showFewer: () => setShown(STEP),
    trouble,
  };
}

export function WaitingCustomers({ feed, onAccept }: { feed: QueueFeed; onAccept: (requestId: string) => void }) {
  const now = useNow(5000);
  const view = feed.view;
  const count = view.count;
  const visible = view.entries.slice(0, feed.shown);
  const more = count > visible.length;
  return (
    <>
      {count > 0 ? (
        <p className="status-note queue-count" id="queue-count">
          {count === 1 ? '1 customer waiting' : `${count.toLocaleString('en')} customers waiting`}
          {more && visible.length > 0 ? ` · showing the first ${visible.length}` : ''}
        </p>
      ) : null}
      <ul className="queue-list" aria-label="Waiting customers" aria-describedby={count > 0 ? 'queue-count' : undefined}>
        {count === 0 ? <li className="empty" style={{ border: 0, padding: 0 }}>Nobody is waiting.</li> : null}
        {visible.map((q) => (
          <li key={q.requestId}>
            <div className="grow">
              <div className="person-name">{q.name}</div>
              <div className="person-sub">
                {q.topic ? `${q.topic.slice(0, 80)}${q.topic.length > 80 ? '…' : ''} · ` : ''}
                waiting {Math.max(0, Math.round((now - q.requestedAt) / 60_000))} min
              </div>
            </div>
            <button type="button" className="small" onClick={() => onAccept(q.requestId)}>
              Accept
            </button>
          </li>
        ))}
      </ul>
      {more || feed.shown > STEP ? (
        <div className="row" style={{ marginTop: 8 }}>
          {more && feed.shown < MAX_SHOWN ? (
            <button type="button" className="secondary small" onClick={feed.showMore}>
              Show more
            </button>
          ) : null}
          {feed.shown > STEP ? (
            <button type="button" className="secondary small" onClick={feed.showFewer}>
              Show fewer
            </button>
          ) : null}
        </div>
      ) : null}
      {feed.trouble ? (
        <div role="alert" className="alert" style={{ marginTop: 10 }}>
          Could not load more waiting customers: {feed.trouble}
        </div>
      ) : null}
    </>
  );
}
