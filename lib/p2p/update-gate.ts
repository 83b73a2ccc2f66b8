/**
 * Update gate: refuses a peer's Yjs update (v1; sync step 2 or update message) whose delete set
 * would delete anything under a protected root type (append-only logs such as the transcript).
 * Honest code never deletes there, so such an update comes from a hostile or broken peer, and once
 * applied the deletion spreads to everyone: it must be caught before `Y.applyUpdate`.
 *
 * The check reads the update without applying it. A deleted id is looked up in the local document
 * first and then among the update's own structs. Yjs keeps a deletion it cannot apply yet (its item
 * has not arrived, or arrived with a missing dependency) and applies it later to whatever struct
 * turns up under that id, which we never get to see; so an update struct only counts if Yjs would
 * integrate it right away (`integratedEnds`), and anything else is 'unknown'.
 *
 * Verdicts on deleted items:
 * - local item already deleted, or garbage-collected (GC): harmless, nothing changes;
 * - local live item: refused if its root is protected;
 * - item carried by the update: refused if its root is protected, unless its content is already
 *   gone (ContentDeleted, what a sender with `gc: true` sends for deleted items): such an item arrives
 *   deleted whatever the delete set says, so the delete set takes nothing away;
 * - GC struct carried by the update, or an item Yjs would turn into GC (its left neighbour or parent
 *   is GC): harmless;
 * - an id neither the document nor the update can supply right now: 'unknown'.
 * 'refused' wins over 'unknown'.
 *
 * What it does not stop: a peer inserting items (even ones that arrive deleted) under another
 * client's id. That is authorship, not deletion.
 */
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';

export type GateVerdict = 'ok' | 'refused' | 'unknown';

type Struct = Y.Item | Y.GC | Y.Skip;
type AnyType = Y.AbstractType<unknown>;

/** Where a struct lives. A root name; null for garbage (harmless); UNKNOWN when we cannot tell. */
const UNKNOWN = Symbol('unknown');
type Root = string | null | typeof UNKNOWN;

/** Nesting depth of local types we are willing to walk; real documents nest a few levels. */
const MAX_TYPE_DEPTH = 10_000;

/**
 * Whether applying `update` (Yjs update v1) to `doc` would delete any item that lives (at any depth)
 * under a root type whose name is in `protectedRoots`.
 * 'refused': it would (or the update is malformed). 'unknown': a deleted id can be found neither in
 * the doc nor among the structs of the update that Yjs would integrate now; the caller drops the
 * update and asks the sender for a full re-sync, whose step 2 carries the structs too. 'ok': otherwise.
 * Items the update carries only as tombstones (a `gc: true` sender's deleted items) count as
 * harmless: a full state of a document whose protected entries were deleted passes a fresh peer
 * when the sender collects garbage, and is refused when it does not (the content is in it).
 */
export function checkUpdate(doc: Y.Doc, update: Uint8Array, protectedRoots: ReadonlySet<string>): GateVerdict {
  let decoded: ReturnType<typeof Y.decodeUpdate>;
  let groups: number;
  try {
    decoded = Y.decodeUpdate(update);
    // The first number of a v1 update is how many per-client groups of structs follow.
    groups = decoding.readVarUint(decoding.createDecoder(update));
  } catch {
    return 'refused';
  }
  let deletes = false;
  for (const ranges of decoded.ds.clients.values()) if (ranges.length > 0) deletes = true;
  if (!deletes) return 'ok';
  try {
    return new UpdateCheck(doc, decoded.structs, groups, protectedRoots).check(decoded.ds.clients);
  } catch {
    // Inconsistent input we did not foresee: fail closed rather than let an unchecked delete through.
    return 'refused';
  }
}

class Malformed extends Error {}

/** A client's structs in the update, and how far Yjs would get integrating them (`end`). */
interface Run {
  structs: Struct[];
  /** Index of the first struct not integrated yet. */
  next: number;
  /** Clock up to which the client's structs exist once integrated (starts at the local state). */
  end: number;
  /** Other clients' runs blocked until this one reaches a clock: a min-heap on `clock`. */
  waiters: Waiter[];
}

interface Waiter {
  clock: number;
  client: number;
}

class UpdateCheck {
  private readonly store: Y.Doc['store'];
  private readonly runs = new Map<number, Run>();
  private integrated = false;
  private readonly typeRoots = new Map<AnyType, Root>();
  private readonly structRoots = new Map<Struct, Root>();
  private unknown = false;

  constructor(
    doc: Y.Doc,
    private readonly structs: Struct[],
    groups: number,
    private readonly protectedRoots: ReadonlySet<string>,
  ) {
    this.store = doc.store;
    this.indexStructs(groups);
  }

  /** Walks every deleted range once, struct by struct (never clock by clock). */
  check(ds: Map<number, Array<{ clock: number; len: number }>>): GateVerdict {
    for (const [client, ranges] of ds) {
      const localEnd = Y.getState(this.store, client);
      for (const { clock, len } of ranges) {
        if (!(len > 0)) continue;
        const end = clock + len;
        if (clock < localEnd && this.scanLocal(client, clock, Math.min(end, localEnd))) return 'refused';
        if (end > localEnd && this.scanUpdate(client, Math.max(clock, localEnd), end)) return 'refused';
      }
    }
    return this.unknown ? 'unknown' : 'ok';
  }

  /**
   * Groups the update's structs by client. Yjs keeps only the last group of a client when an update
   * lists it twice, so what we would read would not be what it applies: such updates (which no Yjs
   * encoder writes) are malformed. A repeated group right after the first one with contiguous clocks
   * is invisible in the decoded structs, hence the count of groups from the header.
   */
  private indexStructs(groups: number): void {
    let seen = 0;
    let current: Run | undefined;
    let currentClient = -1;
    let currentEnd = -1;
    for (const s of this.structs) {
      const { client, clock } = s.id;
      if (current === undefined || client !== currentClient || clock !== currentEnd) {
        if (this.runs.has(client)) throw new Malformed('client listed twice');
        current = { structs: [], next: 0, end: Y.getState(this.store, client), waiters: [] };
        this.runs.set(client, current);
        currentClient = client;
        seen++;
      }
      current.structs.push(s);
      currentEnd = clock + s.length;
    }
    if (seen !== groups) throw new Malformed('hidden or empty struct groups');
  }

  /** True (refused) if [from, to) of the local store holds a live item under a protected root. */
  private scanLocal(client: number, from: number, to: number): boolean {
    const structs = this.store.clients.get(client);
    if (structs === undefined || structs.length === 0) throw new Malformed('local state without structs');
    for (let i = Y.findIndexSS(structs, from); i < structs.length && structs[i]!.id.clock < to; i++) {
      const s = structs[i]!;
      if (s.deleted || !(s instanceof Y.Item)) continue;
      if (this.isProtected(this.rootOfLocalItem(s))) return true;
    }
    return false;
  }

  /** True (refused) if [from, to), beyond the local store, holds an update item under a protected root. */
  private scanUpdate(client: number, from: number, to: number): boolean {
    const available = this.integratedEnd(client);
    if (to > available) this.unknown = true;
    const stop = Math.min(to, available);
    if (from >= stop) return false;
    const structs = this.runs.get(client)!.structs;
    for (let i = indexOf(structs, from); i >= 0 && i < structs.length && structs[i]!.id.clock < stop; i++) {
      const s = structs[i]!;
      if (!(s instanceof Y.Item) || s.content instanceof Y.ContentDeleted) continue;
      if (this.isProtected(this.rootOfUpdateStruct(s))) return true;
    }
    return false;
  }

  private isProtected(root: Root): boolean {
    if (root === UNKNOWN) {
      this.unknown = true;
      return false;
    }
    return root !== null && this.protectedRoots.has(root);
  }

  /** Root of an integrated item: up through the types it is nested in. Cached per type. */
  private rootOfLocalItem(item: Y.Item): Root {
    const parent: unknown = item.parent;
    return parent instanceof Y.AbstractType ? this.rootOfType(parent as AnyType) : UNKNOWN;
  }

  private rootOfType(type: AnyType): Root {
    const path: AnyType[] = [];
    let t = type;
    let root: Root;
    for (;;) {
      const known = this.typeRoots.get(t);
      if (known !== undefined) {
        root = known;
        break;
      }
      if (path.length > MAX_TYPE_DEPTH) {
        root = UNKNOWN;
        break;
      }
      path.push(t);
      const item = t._item;
      if (item === null) {
        root = rootName(t);
        break;
      }
      const up: unknown = item.parent;
      if (!(up instanceof Y.AbstractType)) {
        root = UNKNOWN;
        break;
      }
      t = up as AnyType;
    }
    for (const p of path) this.typeRoots.set(p, root);
    return root;
  }

  /**
   * Root of a struct decoded from the update (not integrated: its parent is a root name, the id of
   * the item whose type holds it, or null, and then Yjs takes the parent of `origin`, else of
   * `rightOrigin`). Follows that chain through the update and into the local store, iteratively
   * (chains of map overwrites or list appends are as long as the history) and cached per struct.
   */
  private rootOfUpdateStruct(start: Struct): Root {
    const path: Struct[] = [];
    let s: Struct = start;
    let root: Root;
    for (;;) {
      const known = this.structRoots.get(s);
      if (known !== undefined) {
        root = known;
        break;
      }
      // Each step visits another struct of the update; more steps than structs means a cycle.
      if (path.length > this.structs.length) {
        root = UNKNOWN;
        break;
      }
      path.push(s);
      if (s instanceof Y.GC) {
        root = null;
        break;
      }
      if (!(s instanceof Y.Item)) {
        root = UNKNOWN;
        break;
      }
      // Conservative where Yjs would turn the item into GC because its right neighbour is GC.
      let ref: Y.ID | null = s.origin ?? s.rightOrigin;
      if (ref === null) {
        const parent: unknown = s.parent;
        if (typeof parent === 'string') {
          root = parent;
          break;
        }
        if (!(parent instanceof Y.ID)) {
          root = null; // no parent at all: Yjs integrates it as GC
          break;
        }
        ref = parent;
      }
      if (ref.clock < Y.getState(this.store, ref.client)) {
        const local = this.localStructAt(ref);
        root = local instanceof Y.Item ? this.rootOfLocalItem(local) : null;
        break;
      }
      const next = ref.clock < this.integratedEnd(ref.client) ? this.updateStructAt(ref) : undefined;
      if (next === undefined) {
        root = UNKNOWN;
        break;
      }
      s = next;
    }
    for (const p of path) this.structRoots.set(p, root);
    return root;
  }

  private localStructAt(id: Y.ID): Y.Item | Y.GC {
    const structs = this.store.clients.get(id.client);
    if (structs === undefined || structs.length === 0) throw new Malformed('local state without structs');
    return structs[Y.findIndexSS(structs, id.clock)]!;
  }

  private updateStructAt(id: Y.ID): Struct | undefined {
    const structs = this.runs.get(id.client)?.structs;
    if (structs === undefined) return undefined;
    const i = indexOf(structs, id.clock);
    return i < 0 ? undefined : structs[i];
  }

  /** Clock up to which `client`'s structs exist once Yjs has integrated what it can of the update. */
  private integratedEnd(client: number): number {
    if (!this.integrated) this.integrate();
    return this.runs.get(client)?.end ?? Y.getState(this.store, client);
  }

  /**
   * Replays, on clocks only, how far Yjs's integration gets (utils/encoding.js integrateStructs):
   * a client's structs go in clock order; one stops there if it starts past what exists of its client
   * (a gap, or a Skip), or needs an origin, right origin or parent id that does not exist yet. Blocked
   * clients wait on the client they need and are resumed when it gets far enough, so the whole replay
   * is linear in the update (times a log for the waiter heaps). What cannot go in now, Yjs would park
   * together with the deletions that target it.
   */
  private integrate(): void {
    this.integrated = true;
    const endOf = (client: number) => this.runs.get(client)?.end ?? Y.getState(this.store, client);
    const work = [...this.runs.keys()];
    while (work.length > 0) {
      const client = work.pop()!;
      const run = this.runs.get(client)!;
      while (run.next < run.structs.length) {
        const s = run.structs[run.next]!;
        if (s instanceof Y.Skip || s.id.clock > run.end) break; // never in this update
        if (s instanceof Y.Item) {
          const parent: unknown = s.parent;
          const needs = [s.origin, s.rightOrigin, parent instanceof Y.ID ? parent : null];
          const missing = needs.find((id) => id !== null && id.clock >= endOf(id.client));
          if (missing) {
            const other = this.runs.get(missing.client);
            // Only another client of the update can still supply it (our own would be a forward reference).
            if (other !== undefined && other !== run) heapPush(other.waiters, { clock: missing.clock, client });
            break;
          }
        }
        run.end = Math.max(run.end, s.id.clock + s.length);
        run.next++;
      }
      while (run.waiters.length > 0 && run.waiters[0]!.clock < run.end) work.push(heapPop(run.waiters).client);
    }
  }
}

/** The root name Yjs stores a root type under. */
function rootName(type: AnyType): Root {
  try {
    return Y.findRootTypeKey(type);
  } catch {
    return UNKNOWN;
  }
}

/** Index of the struct covering `clock` in clock-sorted, contiguous structs, or -1. */
function indexOf(structs: Struct[], clock: number): number {
  let lo = 0;
  let hi = structs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const s = structs[mid]!;
    if (clock < s.id.clock) hi = mid - 1;
    else if (clock >= s.id.clock + s.length) lo = mid + 1;
    else return mid;
  }
  return -1;
}

function heapPush(heap: Waiter[], w: Waiter): void {
  heap.push(w);
  let i = heap.length - 1;
  while (i > 0) {
    const up = (i - 1) >> 1;
    if (heap[up]!.clock <= heap[i]!.clock) break;
    [heap[up], heap[i]] = [heap[i]!, heap[up]!];
    i = up;
  }
}

function heapPop(heap: Waiter[]): Waiter {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length > 0) {
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < heap.length && heap[l]!.clock < heap[min]!.clock) min = l;
      if (r < heap.length && heap[r]!.clock < heap[min]!.clock) min = r;
      if (min === i) break;
      [heap[min], heap[i]] = [heap[i]!, heap[min]!];
      i = min;
    }
  }
  return top;
}
