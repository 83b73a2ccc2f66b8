/**
 * Timing marks read by `npm run bench` (bench/product.mjs, bench/entry.mjs) from the page: where the
 * time between "Join Us" clicked and the transcript on screen goes, and when a form became usable.
 * Each is set once per page (the first time); a mark costs microseconds and nothing else reads them.
 */
export type JoinMark =
  /** The Join Us or help form is on screen and hydrated: it takes input. */
  | 'joinus:form-ready'
  /** The form's connection to the server is open: it can be sent. */
  | 'joinus:connected'
  /** The handle was accepted (handle:login answered). */
  | 'joinus:login'
  /** The session's connection exists (before the view renders it). */
  | 'joinus:connection'
  /** session:attach sent. */
  | 'joinus:attach-sent'
  /** session:attach answered. */
  | 'joinus:attach'
  /** The session view is on screen (its first commit). */
  | 'joinus:view'
  /** The mesh started dialling. */
  | 'joinus:mesh-start'
  /** A first data channel to a peer is open. */
  | 'joinus:channel'
  /** The mesh first reported synced. */
  | 'joinus:synced';

/** Marks set on this page: looking them up in the performance timeline costs far more. */
const done = new Set<JoinMark>();

export function mark(name: JoinMark): void {
  if (done.has(name) || typeof performance === 'undefined' || typeof performance.mark !== 'function') return;
  done.add(name);
  performance.mark(name);
}
