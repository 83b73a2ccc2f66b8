'use client';
import type { SessionConnection } from '../../lib/client/session-connection';
import { useDocPart } from '../../lib/collab/use-doc-part';
import { dedupe, readTranscript, transcriptOf, type TranscriptEntry } from './doc';

const readAll = (...args: Parameters<typeof readTranscript>) => dedupe(readTranscript(...args));

/** C1: the transcript, read again only when the transcript changed or signature checks came in. */
export function useTranscript(conn: SessionConnection): TranscriptEntry[] {
  return useDocPart(conn, transcriptOf, readAll);
}
