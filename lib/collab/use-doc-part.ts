'use client';
/* eslint-disable @typescript-eslint/no-explicit-any -- any Y type: its event type does not matter here */
import { useMemo, useSyncExternalStore } from 'react';
import type * as Y from 'yjs';
import type { SessionConnection } from '../client/session-connection';
import { DocPart } from './doc-part';
import type { Authorship } from './authorship';

/**
 * One feature's part of the session document, read again only when that part changed or a signature
 * check on it came in (`read` shows only records whose signatures verify, lib/collab/authorship.ts). `part` and
 * `read` must not depend on anything but the document (they are taken once per connection).
 */
export function useDocPart<T>(
  conn: SessionConnection,
  part: (doc: Y.Doc) => Y.AbstractType<any>,
  read: (doc: Y.Doc, auth: Authorship) => T,
): T {
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const store = useMemo(() => new DocPart(part(conn.doc), () => read(conn.doc, conn.auth), conn.auth), [conn]);
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}
