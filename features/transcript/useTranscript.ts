'use client';
import type { SessionConnection } from '../../lib/client/session-connection';
import { useDocPart } from '../../lib/collab/use-doc-part';
import { dedupe, readTranscript, transcriptOf, type TranscriptEntry } from './doc';

const readAll = (doc: Parameters<typeof readTranscript>[0]) => dedupe(readTranscript(doc));

/** C1: the transcript, read again only when the transcript changed. */
export function useTranscript(conn: SessionConnection): TranscriptEntry[] {
  return useDocPart(conn, transcriptOf, readAll);
}
