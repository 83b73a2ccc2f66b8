/**
 * What each peer knows of the mesh beyond its own connections: every participant publishes, in its
 * awareness state, its peer id and the peers it has an open data channel to (`mesh`). From those
 * claims each peer works out who it reaches through others (C9) and which forwards it can skip.
 *
 * A link between two other peers counts only when both claim it: a peer that crashed keeps claiming
 * its old links in its last awareness state, and the survivors' fresh states outvote it. Links of our
 * own come from our own connections, never from claims.
 */

/** The field each participant's awareness state carries (written by MeshProvider). */
export interface MeshClaim {
  peerId: string;
  links: string[];
}

/** Bounds on what a peer may claim: a hostile state must not make us do unbounded work. */
const MAX_ID_CHARS = 64;
const MAX_LINKS = 64;

/** Reads and checks the `mesh` field of an awareness state; anything malformed is ignored. */
export function readClaim(state: unknown): MeshClaim | null {
  if (typeof state !== 'object' || state === null) return null;
  const mesh = (state as { mesh?: unknown }).mesh;
  if (typeof mesh !== 'object' || mesh === null) return null;
  const { peerId, links } = mesh as { peerId?: unknown; links?: unknown };
  if (typeof peerId !== 'string' || peerId.length === 0 || peerId.length > MAX_ID_CHARS) return null;
  if (!Array.isArray(links) || links.length > MAX_LINKS) return null;
  if (!links.every((l): l is string => typeof l === 'string' && l.length > 0 && l.length <= MAX_ID_CHARS)) return null;
  return { peerId, links };
}

export class Topology {
  /** peer id → the peers it claims a link to. */
  private readonly claims = new Map<string, Set<string>>();

  constructor(
    readonly self: string,
    /** Our own open connections. */
    readonly direct: ReadonlySet<string>,
    claims: Iterable<MeshClaim>,
  ) {
    for (const c of claims) {
      if (c.peerId === self) continue; // nobody speaks for us
      const set = this.claims.get(c.peerId) ?? new Set<string>();
      for (const l of c.links) set.add(l);
      this.claims.set(c.peerId, set);
    }
  }

  /** Both ends claim the link (or it is one of ours). */
  linked(a: string, b: string): boolean {
    if (a === this.self) return this.direct.has(b);
    if (b === this.self) return this.direct.has(a);
    return (this.claims.get(a)?.has(b) ?? false) && (this.claims.get(b)?.has(a) ?? false);
  }

  private neighbours(peer: string): string[] {
    if (peer === this.self) return [...this.direct];
    const out: string[] = [];
    for (const other of this.claims.get(peer) ?? []) if (this.linked(peer, other)) out.push(other);
    return out;
  }

  /** Every peer a message of ours reaches, directly or through others (ourselves excluded). */
  reachable(): Set<string> {
    const seen = new Set<string>([this.self]);
    const queue = [this.self];
    while (queue.length > 0) {
      for (const next of this.neighbours(queue.shift()!)) {
        if (seen.has(next)) continue;
        seen.add(next);
        queue.push(next);
      }
    }
    seen.delete(this.self);
    return seen;
  }

  /** Every link known, as sorted "a|b" keys: to tell when one went away. */
  edges(): Set<string> {
    const out = new Set<string>();
    const key = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`);
    for (const d of this.direct) out.add(key(this.self, d));
    for (const [a, set] of this.claims) for (const b of set) if (this.linked(a, b)) out.add(key(a, b));
    return out;
  }
}
