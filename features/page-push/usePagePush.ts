'use client';
import { useCallback, useMemo, useState } from 'react';
import type { SessionConnection } from '../../lib/client/session-connection';
import { newId } from '../../lib/collab/ids';
import { useDocPart } from '../../lib/collab/use-doc-part';
import { parseWebAddress } from './address';
import { currentPage, pushesOf, pushHistory, pushPage, readPushes, type Framing, type PagePush } from './doc';

export interface PagePushState {
  pushes: PagePush[];
  /** The latest push (what everyone following sees). */
  current: PagePush | null;
  /** What this participant sees: the latest push, or the one it stopped following at. */
  shown: PagePush | null;
  following: boolean;
  setFollowing: (follow: boolean) => void;
  history: PagePush[];
  /** The agent pushes an address: checked, framing asked of the server, then written. */
  push: (typed: string) => Promise<{ ok: true; url: string } | { ok: false; message: string }>;
}

const followKey = (sessionId: string) => `joinus:follow:${sessionId}`;

/** Whether this tab follows pushed pages, and the push it stopped at; kept across a reload (S3). */
function loadFollow(sessionId: string): { following: boolean; pinnedId: string | null } {
  try {
    const raw = JSON.parse(sessionStorage.getItem(followKey(sessionId)) ?? 'null') as unknown;
    if (raw && typeof raw === 'object' && 'following' in raw && (raw as { following: unknown }).following === false) {
      const pinned = (raw as { pinnedId?: unknown }).pinnedId;
      return { following: false, pinnedId: typeof pinned === 'string' ? pinned : null };
    }
  } catch {
    /* storage unavailable or garbage: follow */
  }
  return { following: true, pinnedId: null };
}

export function usePagePush(conn: SessionConnection): PagePushState {
  const pushes = useDocPart(conn, pushesOf, readPushes);
  const current = currentPage(pushes);
  const [follow, setFollow] = useState(() => loadFollow(conn.sessionId));

  const setFollowing = useCallback(
    (following: boolean) => {
      const next = { following, pinnedId: following ? null : (current?.id ?? null) };
      setFollow(next);
      try {
        sessionStorage.setItem(followKey(conn.sessionId), JSON.stringify(next));
      } catch {
        /* not kept across a reload; still works now */
      }
    },
    [conn.sessionId, current],
  );

  const shown = follow.following ? current : (pushes.find((p) => p.id === follow.pinnedId) ?? null);

  const push = useCallback(
    async (typed: string) => {
      const address = parseWebAddress(typed);
      if (!address.ok) return address;
      const me = conn.me;
      const signer = conn.signer;
      if (!me || !signer) return { ok: false as const, message: 'You are not in the session yet. Wait a moment and try again.' };
      if (me.role !== 'agent') return { ok: false as const, message: 'Only the agent pushes pages.' };
      const check = await conn.call('page:check', { sessionId: conn.sessionId, url: address.url });
      if (!check.ok && check.error.reason === 'invalid_request') return { ok: false as const, message: check.error.message };
      if (!check.ok && check.error.reason === 'forbidden') return { ok: false as const, message: check.error.message };
      // The server could not be asked (a blip): push anyway; the page shows a link beside the frame.
      const framing: Framing = check.ok ? check.framing : 'unknown';
      let p: PagePush;
      try {
        p = await pushPage(conn.doc, signer, conn.auth, { url: address.url, framing }, Date.now(), newId);
      } catch {
        return { ok: false as const, message: 'The page could not be pushed. Try again.' };
      }
      void conn.note(`${me.name} pushed a page: ${p.url}`, 'page_pushed').catch(() => undefined);
      return { ok: true as const, url: p.url };
    },
    [conn],
  );

  const history = useMemo(() => pushHistory(pushes), [pushes]);
  return { pushes, current, shown, following: follow.following, setFollowing, history, push };
}
