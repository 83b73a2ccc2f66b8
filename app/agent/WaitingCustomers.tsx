'use client';
/**
 * "Waiting customers" (S1) at contact-center scale (issue 9): the console follows the queue's
 * changes (lib/client/queue-view.ts), shows the first few and the count, and fetches more only when
 * asked to show more or when what it holds runs short.
 */
import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import { Limits, type QueueChange, type QueueSnapshot } from '@/lib/protocol';
import { request, type ClientSocket } from '@/lib/client/socket';
import { applyChange, applySnapshot, freshView, needsMore, stalled, type QueueView } from '@/lib/client/queue-view';
import { useNow } from '../_components/hooks';

/** Shown at first, and added by each "Show more". */
const STEP = 10;
/** Held beyond what is shown, so that a few customers taken do not each cost a fetch. */
const SLACK = 10;
/** Changes missing for this long (a gap that does not fill): fetch a snapshot instead. */
const STALL_MS = 1000;

type Action = { type: 'fresh'; snap: QueueSnapshot } | { type: 'snapshot'; snap: QueueSnapshot } | { type: 'change'; change: QueueChange };

function reduce(view: QueueView | null, a: Action): QueueView | null {
  if (a.type === 'fresh') return freshView(a.snap);
  // Changes before the first snapshot (sign-in still answering) are covered by it.
  if (!view) return a.type === 'snapshot' ? freshView(a.snap) : null;
  return a.type === 'change' ? applyChange(view, a.change) : applySnapshot(view, a.snap);
}

export interface QueueFeed {
  view: QueueView | null;
  /** A snapshot that came with a sign-in or a resume: a new connection, nothing to replay. */
  start(snap: QueueSnapshot): void;
  shown: number;
  showMore(): void;
  showFewer(): void;
  /** A fetch of more entries failed. */
  trouble: string | null;
}

/** The queue as this console follows it, on `socket` while signed in. */
export function useQueueFeed(socket: ClientSocket | null, signedIn: boolean): QueueFeed {
  const [view, dispatch] = useReducer(reduce, null);
  const [shown, setShown] = useState(STEP);
  const [trouble, setTrouble] = useState<string | null>(null);
  const fetching = useRef(false);

  useEffect(() => {
    if (!socket || !signedIn) return;
    const onChange = (change: QueueChange) => dispatch({ type: 'change', change });
    socket.on('queue:changed', onChange);
    return () => {
      socket.off('queue:changed', onChange);
    };
  }, [socket, signedIn]);

  const fetchMore = useCallback(
    async (limit: number) => {
      if (!socket || fetching.current) return;
      fetching.current = true;
      try {
        const r = await request(socket, 'queue:list', { limit: Math.min(limit, Limits.queuePage) });
        if (r.ok) {
          setTrouble(null);
          dispatch({ type: 'snapshot', snap: r });
        } else setTrouble(r.error.message);
      } finally {
        fetching.current = false;
      }
    },
    [socket],
  );

  const short = view ? needsMore(view, shown) : false;
  const isStalled = view ? stalled(view) : false;
  useEffect(() => {
    if (!signedIn || !short) return;
    void fetchMore(shown + SLACK);
  }, [signedIn, short, shown, fetchMore, view?.version]);
  useEffect(() => {
    if (!signedIn || !isStalled) return;
    const t = setTimeout(() => void fetchMore(shown + SLACK), STALL_MS);
    return () => clearTimeout(t);
  }, [signedIn, isStalled, shown, fetchMore]);

  return {
    view,
    start: useCallback((snap: QueueSnapshot) => dispatch({ type: 'fresh', snap }), []),
    shown,
    showMore: () => setShown((n) => Math.min(n + STEP, Limits.queuePage)),
    showFewer: () => setShown(STEP),
    trouble,
  };
}

export function WaitingCustomers({ feed, onAccept }: { feed: QueueFeed; onAccept: (requestId: string) => void }) {
  const now = useNow(5000);
  const view = feed.view;
  const count = view?.count ?? 0;
  const visible = view?.entries.slice(0, feed.shown) ?? [];
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
          {more && feed.shown < Limits.queuePage ? (
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
