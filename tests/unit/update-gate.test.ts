/**
 * [C] Hostile peer: the update gate (lib/p2p/update-gate.ts) refuses, before it is applied, any Yjs
 * update that would delete something under an append-only root (transcript, pages, strokes, form
 * events), and lets every honest update through: inserts anywhere, overwrites and deletions in the
 * other parts, full-state syncs of documents that have such deletions.
 */
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkUpdate } from '../../lib/p2p/update-gate';

const PROTECTED: ReadonlySet<string> = new Set(['transcript', 'pages', 'strokes', 'form-events']);

function newDoc(clientID?: number, gc = true): Y.Doc {
  const doc = new Y.Doc({ gc });
  if (clientID !== undefined) doc.clientID = clientID;
  return doc;
}

/** A peer holding everything `doc` holds (what an honest sender's counterpart looks like). */
function replica(doc: Y.Doc, clientID?: number): Y.Doc {
  const copy = newDoc(clientID);
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
  return copy;
}

/** The updates `doc` emits while `change` runs, as a peer would send them. */
function emitted(doc: Y.Doc, change: () => void): Uint8Array[] {
  const out: Uint8Array[] = [];
  const onUpdate = (u: Uint8Array) => out.push(u);
  doc.on('update', onUpdate);
  try {
    change();
  } finally {
    doc.off('update', onUpdate);
  }
  return out;
}

/** The single update of one transaction of `change` on `doc`. */
function oneUpdate(doc: Y.Doc, change: () => void): Uint8Array {
  const out = emitted(doc, () => doc.transact(change));
  expect(out).toHaveLength(1);
  return out[0]!;
}

function check(doc: Y.Doc, update: Uint8Array) {
  return checkUpdate(doc, update, PROTECTED);
}

function entry(text: string): Y.Map<unknown> {
  const m = new Y.Map<unknown>();
  m.set('text', text);
  m.set('by', 'agent');
  return m;
}

/** A v1 delete set, written by hand for crafted updates. */
function writeDs(enc: encoding.Encoder, ds: Array<[client: number, ranges: Array<[clock: number, len: number]>]>) {
  encoding.writeVarUint(enc, ds.length);
  for (const [client, ranges] of ds) {
    encoding.writeVarUint(enc, client);
    encoding.writeVarUint(enc, ranges.length);
    for (const [clock, len] of ranges) {
      encoding.writeVarUint(enc, clock);
      encoding.writeVarUint(enc, len);
    }
  }
}

describe('[C] hostile peer: update gate, honest updates pass', () => {
  it('inserts into protected arrays, nested types included, are ok', () => {
    const a = newDoc(1);
    const b = newDoc(2);
    const updates = emitted(a, () => {
      a.getArray('transcript').push(['hello']);
      a.getArray('transcript').push([entry('hi'), entry('there')]);
      a.getArray('pages').push([new Y.Map()]);
      (a.getArray('pages').get(0) as Y.Map<unknown>).set('url', 'https://example.test');
      const stroke = new Y.Array<number>();
      a.getArray('strokes').push([stroke]);
      stroke.push([1, 2, 3, 4]);
      a.getArray('form-events').insert(0, [{ field: 'name', value: 'x' }]);
    });
    expect(updates.length).toBeGreaterThan(3);
    for (const u of updates) {
      expect(check(b, u)).toBe('ok');
      Y.applyUpdate(b, u);
    }
    expect(b.getArray('transcript').length).toBe(3);
  });

  it('overwrites and deletions in an unprotected map, array and text are ok', () => {
    const a = newDoc(1);
    a.getArray('transcript').push(['kept']);
    const b = replica(a, 2);
    const meta = a.getMap('meta');
    const list = a.getArray('scratch');
    const updates = emitted(a, () => {
      meta.set('topic', 'one');
      meta.set('topic', 'two'); // overwrite: deletes 'one'
      a.transact(() => {
        meta.set('status', 'draft');
        meta.set('status', 'final'); // inserted and overwritten in the same update
      });
      meta.delete('topic');
      list.push(['x', 'y', 'z']);
      list.delete(1, 1);
      const nested = new Y.Map<unknown>();
      meta.set('nested', nested);
      nested.set('k', 1);
      nested.set('k', 2);
      meta.delete('nested'); // a whole unprotected subtree
      a.getText('notes').insert(0, 'hello world');
      a.getText('notes').delete(0, 6);
    });
    for (const u of updates) {
      expect(check(b, u)).toBe('ok');
      Y.applyUpdate(b, u);
    }
    expect(b.getMap('meta').toJSON()).toEqual({ status: 'final' });
    // Deletions of the other peer's items (cross-client) are fine too.
    const back = oneUpdate(b, () => b.getMap('meta').set('status', 'reopened'));
    expect(check(a, back)).toBe('ok');
  });

  it.each([true, false])('a full-state update with unprotected deletions is ok for a fresh doc (sender gc=%s)', (gc) => {
    const a = newDoc(1, gc);
    a.getArray('transcript').push([entry('one'), 'two']);
    const meta = a.getMap('meta');
    for (let i = 0; i < 50; i++) meta.set(`k${i % 5}`, i);
    meta.delete('k0');
    a.getArray('scratch').push([1, 2, 3]);
    a.getArray('scratch').delete(0, 2);
    const nested = new Y.Map<unknown>();
    meta.set('nested', nested);
    nested.set('x', new Y.Array());
    meta.delete('nested');
    const full = Y.encodeStateAsUpdate(a);
    expect(check(newDoc(3), full)).toBe('ok');
    // And for a peer that already has part of it (sync step 2 against its state vector).
    const b = newDoc(2);
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(newDoc())));
    expect(check(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)))).toBe('ok');
  });
});

describe('[C] hostile peer: update gate, protected deletions are refused', () => {
  it('refuses the deletion of an entry of a protected array, without touching the doc', () => {
    const a = newDoc(1);
    a.getArray('transcript').push(['one', 'two', 'three']);
    a.getArray('pages').push([entry('p')]);
    const evil = replica(a, 66);
    const del = oneUpdate(evil, () => evil.getArray('transcript').delete(1, 1));
    const before = Y.encodeStateAsUpdate(a);
    expect(check(a, del)).toBe('refused');
    expect(Y.encodeStateAsUpdate(a)).toEqual(before);
    expect(check(a, oneUpdate(evil, () => evil.getArray('pages').delete(0, 1)))).toBe('refused');
    // Hiding it among honest changes does not help.
    const mixed = oneUpdate(evil, () => {
      evil.getMap('meta').set('x', 1);
      evil.getArray('transcript').push(['new']);
      evil.getArray('transcript').delete(0, 1);
    });
    expect(check(a, mixed)).toBe('refused');
  });

  it('refuses deletions of items nested (at any depth) inside a protected array', () => {
    const a = newDoc(1);
    const e = entry('hi');
    const strokes = new Y.Array<unknown>();
    e.set('strokes', strokes);
    strokes.push([[1, 2], [3, 4]]);
    a.getArray('transcript').push([e]);
    const evil = replica(a, 66);
    const evilEntry = () => evil.getArray('transcript').get(0) as Y.Map<unknown>;
    // An overwrite deletes the previous value.
    expect(check(a, oneUpdate(evil, () => evilEntry().set('text', 'edited')))).toBe('refused');
    expect(check(a, oneUpdate(evil, () => evilEntry().delete('by')))).toBe('refused');
    expect(check(a, oneUpdate(evil, () => (evilEntry().get('strokes') as Y.Array<unknown>).delete(0, 1)))).toBe('refused');
    // Adding to a nested type is still fine.
    const b = replica(a, 2);
    const add = oneUpdate(b, () => (b.getArray('transcript').get(0) as Y.Map<unknown>).set('reaction', '+1'));
    expect(check(a, add)).toBe('ok');
  });

  it('refuses an update that inserts into a protected array and deletes it in the same update, if it carries the content', () => {
    for (const gc of [false, true]) {
      const a = newDoc(1, gc);
      const b = replica(a, 2);
      const u = oneUpdate(a, () => {
        a.getArray('transcript').push(['gone']);
        a.getArray('transcript').delete(0, 1);
      });
      // With gc on, the sender sends a tombstone (ContentDeleted): it arrives deleted, delete set or not.
      expect(check(b, u)).toBe(gc ? 'ok' : 'refused');
    }
  });

  it('a full state of a doc whose protected entries were deleted: refused when it carries them (gc off), ok when only tombstones are left (gc on)', () => {
    for (const gc of [false, true]) {
      const a = newDoc(1, gc);
      const e = entry('nested');
      a.getArray('transcript').push(['one', e, 'three']);
      a.getArray('strokes').push([[1, 2, 3]]);
      const holder = replica(a, 2); // still holds everything
      a.getArray('transcript').delete(0, 2);
      a.getArray('strokes').delete(0, 1);
      const full = Y.encodeStateAsUpdate(a);
      // A fresh doc: with gc off the deleted content is in the update and would be deleted on arrival.
      // With gc on the update carries only tombstones (ContentDeleted items, GC for the nested map's
      // children): they arrive deleted whatever the delete set says, so nothing is taken away.
      expect(check(newDoc(3), full)).toBe(gc ? 'ok' : 'refused');
      // A peer that holds the entries would lose them: refused either way.
      expect(check(holder, full)).toBe('refused');
    }
  });
});

describe('[C] hostile peer: update gate, what it cannot check or read', () => {
  it('is unknown for the deletion of an id neither the doc nor the update has', () => {
    const a = newDoc(1);
    a.getArray('scratch').push(['x', 'y']);
    a.getArray('transcript').push(['t']);
    const other = replica(a, 2);
    const delUnprotected = oneUpdate(other, () => other.getArray('scratch').delete(0, 1));
    const delProtected = oneUpdate(other, () => other.getArray('transcript').delete(0, 1));
    const fresh = newDoc(3);
    expect(check(fresh, delUnprotected)).toBe('unknown');
    expect(check(fresh, delProtected)).toBe('unknown');
    expect(check(a, delUnprotected)).toBe('ok');
    // A refusable deletion wins over an unknown one in the same update.
    const c = newDoc(4);
    c.getArray('transcript').push(['mine']);
    const evil = replica(c, 66);
    const mixed = Y.mergeUpdates([oneUpdate(evil, () => evil.getArray('transcript').delete(0, 1)), delUnprotected]);
    expect(check(c, mixed)).toBe('refused');
  });

  it('is unknown when the deleted item is in the update but cannot be integrated yet (Yjs would keep the deletion pending)', () => {
    const a = newDoc(1);
    a.getArray('scratch').push(['a']);
    const b = replica(a, 2);
    // 'b' is placed after a's item, which a fresh peer does not have: Yjs parks it, and the deletion.
    const u = oneUpdate(b, () => {
      b.getArray('scratch').push(['b']);
      b.getArray('scratch').delete(1, 1);
    });
    expect(check(replica(a, 3), u)).toBe('ok');
    const fresh = newDoc(4);
    expect(check(fresh, u)).toBe('unknown');
    Y.applyUpdate(fresh, u);
    expect(fresh.store.pendingDs).not.toBeNull(); // why: it would apply to whatever arrives under that id
  });

  it('refuses garbage, truncated updates and updates that list a client twice; never throws', () => {
    const doc = newDoc(1);
    doc.getArray('transcript').push(['t']);
    expect(check(doc, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))).toBe('refused');
    expect(check(doc, Uint8Array.of(5, 1, 2))).toBe('refused');
    expect(check(doc, new Uint8Array())).toBe('refused');
    const evil = replica(doc, 66);
    const del = oneUpdate(evil, () => {
      evil.getMap('meta').set('k', 'v');
      evil.getArray('transcript').delete(0, 1);
    });
    for (let cut = 1; cut < del.length; cut++) {
      expect(['refused', 'unknown']).toContain(check(doc, del.subarray(0, cut)));
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(['ok', 'refused', 'unknown']).toContain(check(doc, bytes));
      }),
    );
  });

  it('handles a delete set range far larger than any document (struct by struct, not clock by clock)', () => {
    const doc = newDoc(1);
    doc.getMap('meta').set('k', 'v');
    const enc = encoding.createEncoder();
    encoding.writeVarUint(enc, 0); // no structs
    writeDs(enc, [[1, [[0, 2 ** 40]]]]);
    const huge = encoding.toUint8Array(enc);
    expect(check(doc, huge)).toBe('unknown'); // deletes 'k', and ids nobody has
    doc.getArray('transcript').push(['t']);
    expect(check(doc, huge)).toBe('refused');
  });

  it('refuses an update that splits a client into two groups (Yjs would read only the last one and park the deletion)', () => {
    // The honest writer of three transcript entries, whose structs the attacker pre-empts.
    const writer = newDoc(7);
    for (const t of ['one', 'two', 'three']) writer.getArray('transcript').push([entry(t)]);
    const real = Y.encodeStateAsUpdate(writer);
    const realLength = Y.getState(writer.store, 7);

    // Client 7 as two adjacent groups: harmless-looking GC first, then one more struct; the delete
    // set targets the GC range. Decoded, it looks like one contiguous run of GC.
    const enc = new Y.UpdateEncoderV1();
    encoding.writeVarUint(enc.restEncoder, 2);
    for (const [clock, len] of [[0, realLength], [realLength, 1]] as const) {
      encoding.writeVarUint(enc.restEncoder, 1);
      enc.writeClient(7);
      encoding.writeVarUint(enc.restEncoder, clock);
      new Y.GC(Y.createID(7, clock), len).write(enc, 0);
    }
    writeDs(enc.restEncoder, [[7, [[0, realLength]]]]);
    const crafted = enc.toUint8Array();
    expect(Y.decodeUpdate(crafted).structs.map((s) => s.constructor)).toEqual([Y.GC, Y.GC]);

    expect(check(newDoc(1), crafted)).toBe('refused');

    // What it would do unchecked: the honest entries are deleted as they arrive.
    const victim = newDoc(1);
    Y.applyUpdate(victim, crafted);
    Y.applyUpdate(victim, real);
    expect(victim.getArray('transcript').length).toBe(0);

    // A client listed twice with other clients in between is refused as well.
    const enc2 = new Y.UpdateEncoderV1();
    encoding.writeVarUint(enc2.restEncoder, 3);
    for (const [client, clock] of [[7, 0], [8, 0], [7, 5]] as const) {
      encoding.writeVarUint(enc2.restEncoder, 1);
      enc2.writeClient(client);
      encoding.writeVarUint(enc2.restEncoder, clock);
      new Y.GC(Y.createID(client, clock), 5).write(enc2, 0);
    }
    writeDs(enc2.restEncoder, [[7, [[0, 1]]]]);
    expect(check(newDoc(1), enc2.toUint8Array())).toBe('refused');
  });
});

describe('[C] hostile peer: update gate at scale', () => {
  it.each([true, false])('checks a large full-state sync quickly (gc=%s)', (gc) => {
    const a = newDoc(1, gc);
    const meta = a.getMap('meta');
    const transcript = a.getArray('transcript');
    // Interleaved, so that the delete set has thousands of ranges rather than one.
    for (let i = 0; i < 20_000; i++) {
      meta.set(`k${i % 100}`, { n: i, pad: 'x'.repeat(20) });
      if (i % 4 === 0) transcript.push([i % 8 ? entry(`line ${i}`) : `line ${i}`]);
    }
    const full = Y.encodeStateAsUpdate(a);

    let t0 = performance.now();
    expect(check(newDoc(2), full)).toBe('ok');
    const fresh = performance.now() - t0;

    // The same state with one protected entry deleted, against a peer that holds it.
    const holder = replica(a, 3);
    const evil = replica(a, 66);
    evil.getArray('transcript').delete(4_321, 1);
    const evilFull = Y.encodeStateAsUpdate(evil);
    t0 = performance.now();
    expect(check(holder, evilFull)).toBe('refused');
    const refused = performance.now() - t0;

    console.log(
      `update gate (gc=${gc}): ${(full.byteLength / 1e6).toFixed(2)} MB full state, ` +
        `${Y.decodeUpdate(full).ds.clients.get(1)?.length ?? 0} deleted ranges: ` +
        `fresh doc ${fresh.toFixed(1)} ms, refusal against a holder ${refused.toFixed(1)} ms`,
    );
  });
});

type Op =
  | { kind: 'say'; writer: number; text: string; nested: boolean }
  | { kind: 'set'; writer: number; key: number; value: number }
  | { kind: 'del'; writer: number; key: number }
  | { kind: 'scratch'; writer: number; push: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('say' as const), writer: fc.nat(1), text: fc.string({ maxLength: 5 }), nested: fc.boolean() }),
  fc.record({ kind: fc.constant('set' as const), writer: fc.nat(1), key: fc.nat(3), value: fc.integer() }),
  fc.record({ kind: fc.constant('del' as const), writer: fc.nat(1), key: fc.nat(3) }),
  fc.record({ kind: fc.constant('scratch' as const), writer: fc.nat(1), push: fc.boolean() }),
);

function apply(doc: Y.Doc, op: Op): void {
  switch (op.kind) {
    case 'say':
      doc.getArray('transcript').push([op.nested ? entry(op.text) : op.text]);
      break;
    case 'set':
      doc.getMap('meta').set(`k${op.key}`, op.value);
      break;
    case 'del':
      doc.getMap('meta').delete(`k${op.key}`);
      break;
    case 'scratch': {
      const s = doc.getArray('scratch');
      if (op.push || s.length === 0) s.push([op.writer]);
      else s.delete(0, 1);
      break;
    }
  }
}

/**
 * Two honest writers that see each other's changes at once, and a receiver that has applied every
 * earlier update. Returns the writers and the receiver; `onUpdate` sees each update before anyone
 * but its writer has it.
 */
function runHonest(ops: Op[], gc: boolean, onUpdate: (receiver: Y.Doc, u: Uint8Array) => void) {
  const writers = [newDoc(1, gc), newDoc(2, gc)];
  const receiver = newDoc(3);
  for (const op of ops) {
    const w = writers[op.writer]!;
    for (const u of emitted(w, () => apply(w, op))) {
      onUpdate(receiver, u);
      Y.applyUpdate(receiver, u);
      Y.applyUpdate(writers[1 - op.writer]!, u);
    }
  }
  return { writers, receiver };
}

describe('[C] hostile peer: update gate, properties', () => {
  it('every update of honest writers is ok for a peer that has the earlier ones, and so is their full state', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), fc.boolean(), (ops, gc) => {
        const { writers } = runHonest(ops, gc, (receiver, u) => expect(check(receiver, u)).toBe('ok'));
        expect(check(newDoc(4), Y.encodeStateAsUpdate(writers[0]!))).toBe('ok');
      }),
    );
  });

  it('the same, plus one protected deletion: exactly that update is refused', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 40 }),
        fc.nat(),
        fc.boolean(),
        fc.nat(1),
        (ops, pick, editNested, writer) => {
          const { writers, receiver } = runHonest(
            [...ops, { kind: 'say', writer: 0, text: 'last', nested: true }],
            true,
            (r, u) => expect(check(r, u)).toBe('ok'),
          );
          const w = writers[writer]!;
          const transcript = w.getArray('transcript');
          const index = pick % transcript.length;
          const target = transcript.get(index);
          const del = oneUpdate(w, () => {
            if (editNested && target instanceof Y.Map) target.set('text', 'rewritten');
            else transcript.delete(index, 1);
          });
          expect(check(receiver, del)).toBe('refused');
        },
      ),
    );
  });
});
