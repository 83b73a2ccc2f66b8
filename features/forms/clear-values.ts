/**
 * C4: the clear values of masked fields, in this tab's memory only: never in the shared document,
 * never in storage (so never in the local IndexedDB copy either), gone with the tab. The customer's
 * browser uses them for one thing: posting the result to the form's own endpoint.
 */
import type { SessionConnection } from '../../lib/client/session-connection';

const byConnection = new WeakMap<SessionConnection, Map<string, string>>();

const keyOf = (instanceId: string, fieldId: string) => `${instanceId}/${fieldId}`;

export const clearValues = {
  get(conn: SessionConnection, instanceId: string, fieldId: string): string | undefined {
    return byConnection.get(conn)?.get(keyOf(instanceId, fieldId));
  },
  set(conn: SessionConnection, instanceId: string, fieldId: string, value: string): void {
    let m = byConnection.get(conn);
    if (!m) byConnection.set(conn, (m = new Map()));
    m.set(keyOf(instanceId, fieldId), value);
  },
  /** Forgets every clear value of one form (sent, or the form closed). */
  forget(conn: SessionConnection, instanceId: string): void {
    const m = byConnection.get(conn);
    if (!m) return;
    for (const k of [...m.keys()]) if (k.startsWith(`${instanceId}/`)) m.delete(k);
  },
};
