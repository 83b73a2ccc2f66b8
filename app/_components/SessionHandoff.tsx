'use client';
/**
 * From the Join Us or help page straight into the session, in place: no route change, no server
 * round trip, no new socket (decision 0014). The view's code is fetched while the person fills in
 * the form (`preloadSessionView`); once the server lets them in, the session's connection is opened
 * at once (the attach and the mesh start), and once the mesh is in sync (at most VIEW_WAIT_MS)
 * the view takes the page's place, with the connection handed to it as it is; once it is on screen
 * the address becomes /session/<id> (so a reload, a bookmark or a shared tab land on the session
 * route, S3).
 */
import { useRouter } from 'next/navigation';
import { startTransition, useCallback, useEffect, useRef, useState, type ComponentType } from 'react';
import type { ClientSocket } from '@/lib/client/socket';
import type { SessionConnection } from '@/lib/client/session-connection';
import type { TabKeys } from '@/lib/collab/authorship';
import type { AttachResult } from '@/lib/protocol';
import { storageKeys } from './hooks';

type ViewModule = typeof import('./session-view');

let loading: Promise<ViewModule> | null = null;

/** The longest the view waits for the first sync (decision 0014). */
const VIEW_WAIT_MS = 250;
/** Then the longest it waits for the signatures of what its first commit shows to be checked. */
const CHECK_WAIT_MS = 50;

/** The session's own page (S3). */
const sessionPath = (sessionId: string) => `/session/${encodeURIComponent(sessionId)}`;

/** The address and title of the session's own page, for a reload, a bookmark or a shared tab (S3). */
function showAddress(sessionId: string): void {
  const path = sessionPath(sessionId);
  if (window.location.pathname === path) return;
  window.history.replaceState(null, '', path);
  document.title = 'Session · Join Us';
}

/** Start fetching the session view's code (idempotent); a failed fetch is tried again next time. */
export function preloadSessionView(): Promise<ViewModule> {
  loading ??= import('./session-view').then(
    (view) => {
      // Warmed in a task of its own, while the person still types, not when the session opens.
      setTimeout(view.warmClockTime, 0);
      setTimeout(view.warmPeerConnections, 0);
      return view;
    },
    (err: unknown) => {
      loading = null;
      throw err;
    },
  );
  return loading;
}

/** What the page knows already when it hands the session over (the Join Us page's login). */
export interface OpenWith {
  keys?: TabKeys;
  attached?: AttachResult;
  /** What the server said since the login was sent (`captureEvents`). */
  heard?: { take(): [string, unknown][] };
}

interface Open {
  sessionId: string;
  View: ComponentType<{ sessionId: string; handedOver?: SessionConnection }>;
  /** The session's connection, held by this hook while the page lives: the view takes it as it is. */
  conn: SessionConnection;
}

/**
 * `enter(socket, sessionId, credential)` opens the session here; `open` is set once it is, for the
 * page to render `<open.View sessionId={open.sessionId} handedOver={open.conn} />` instead of its form.
 */
export function useSessionHandoff() {
  const router = useRouter();
  const [open, setOpen] = useState<Open | null>(null);
  const held = useRef<{ conn: SessionConnection; release: (c: SessionConnection) => void } | null>(null);
  const mounted = useRef(true);

  useEffect(() => {
    // Back (or forward) to a session's address that this page took over in place: the history entry
    // holds this page, not the session's. Load the session's own page instead.
    if (window.location.pathname.startsWith('/session/')) window.location.reload();
  }, []);

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
      const h = held.current;
      held.current = null;
      if (h) h.release(h.conn);
    };
  }, []);

  // For a session in sync, the address changes once the view is committed, not before its render:
  // Next's router takes a new address in with work and a render of its own, which the view's render
  // waited behind (decision 0014, "Checked, then rendered whole").
  const shownId = open?.sessionId ?? null;
  useEffect(() => {
    if (shownId) showAddress(shownId);
  }, [shownId]);

  const enter = useCallback(
    async (socket: ClientSocket, sessionId: string, credential: string, init: OpenWith = {}) => {
      sessionStorage.setItem(storageKeys.credential(sessionId), credential);
      const path = sessionPath(sessionId);
      let view: ViewModule;
      let conn: SessionConnection;
      try {
        try {
          view = await preloadSessionView();
        } catch {
          // The chunk did not load (a deploy replaced it, the network dropped): the session route
          // loads it afresh (and attaches again: the server takes the peer back).
          if (mounted.current) router.push(path);
          return;
        }
        if (!mounted.current) return;
        // The connection first: attaching and dialling the peers start now, not after the render.
        conn = view.acquireSession(socket, sessionId, credential, {
          ...(init.keys ? { keys: init.keys } : {}),
          ...(init.attached ? { attached: init.attached } : {}),
          ...(init.heard ? { heardBefore: init.heard.take } : {}),
        });
      } finally {
        // Whatever happened, the room's events stop being kept (a new connection took them already).
        init.heard?.take();
      }
      held.current = { conn, release: view.releaseSession };
      // The view is built once the mesh is in sync (or the session is over or in the lobby, or
      // VIEW_WAIT_MS passed; the button says "Joining…" meanwhile): building it takes the main thread
      // for tens of milliseconds, which the offer, the answer, the channel's opening and the first
      // sync would each wait behind (decision 0014).
      const inSync = await conn.whenInSync(VIEW_WAIT_MS);
      if (!mounted.current) return;
      const opened = { sessionId, View: view.CollabView, conn };
      if (!inSync) {
        // Still arriving (a large session), or not live: as before, the address first, then the
        // view built as a transition, in slices, so the frames still coming are not held up
        // (rendered whole, a 5 MB late join took 300-500 ms longer).
        showAddress(sessionId);
        startTransition(() => setOpen(opened));
        return;
      }
      // In sync: the transcript's signatures are checked (at most CHECK_WAIT_MS), then the view is
      // rendered whole, not as a transition, and its first commit holds the transcript. As a
      // transition, its render gave way to everything else on the main thread and was started over
      // whenever the session changed during it ("Checked, then rendered whole").
      // Only a head start: whatever goes wrong there, the view opens (and checks as it reads).
      await view.prepareView(conn, CHECK_WAIT_MS).catch(() => {});
      if (!mounted.current) return;
      setOpen(opened);
    },
    [router],
  );

  return { open, enter };
}
