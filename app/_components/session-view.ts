'use client';
/**
 * The session view and its connection, as one lazily loaded chunk: Yjs, the mesh, the features. The
 * Join Us and help pages load it only once someone starts using them (session-handoff.tsx), so their
 * first load stays light and the view is there by the time the session opens.
 */
import type { SessionConnection } from '@/lib/client/session-connection';
import { readTranscript } from '@/features/transcript/doc';

export { CollabView } from '../session/[sessionId]/CollabView';
export { acquireSession, releaseSession } from '@/lib/client/open-sessions';
export { warmClockTime } from '@/lib/ui/time';
export { warmPeerConnections } from '@/lib/p2p/peer';

/**
 * Before the view's first render: reading the transcript starts the checks of its signatures (it
 * shows only the lines whose signatures hold); waiting for them, at most `maxWaitMs`, lets the first
 * commit show the lines rather than a second one (decision 0014, "Checked, then rendered whole").
 */
export async function prepareView(conn: SessionConnection, maxWaitMs: number): Promise<void> {
  readTranscript(conn.doc, conn.auth);
  await conn.auth.settled(maxWaitMs);
}
