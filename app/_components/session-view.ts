'use client';
/**
 * The session view and its connection, as one lazily loaded chunk: Yjs, the mesh, the features. The
 * Join Us and help pages load it only once someone starts using them (session-handoff.tsx), so their
 * first load stays light and the view is there by the time the session opens.
 */
export { CollabView } from '../session/[sessionId]/CollabView';
export { acquireSession, releaseSession } from '@/lib/client/open-sessions';
export { warmClockTime } from '@/lib/ui/time';
