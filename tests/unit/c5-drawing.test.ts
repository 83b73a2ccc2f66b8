/**
 * C5 drawing: signed, append-only stroke records in the shared document (relative integer
 * coordinates, validated when read, converging when drawn, undone and cleared concurrently), strokes
 * being drawn shown live while their author is here, hostile peers' records ignored, and participant
 * colours.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { Authorship, Signer } from '../../lib/collab/authorship';
import {
  appendStroke,
  beginStroke,
  clearDrawing,
  extendStroke,
  finishStroke,
  liveOf,
  MAX_STROKE_COORDS,
  MAX_STROKES,
  readDrawing,
  readStrokes,
  strokesOf,
  SURFACE_H,
  SURFACE_W,
  undoLastStroke,
  type Stroke,
} from '../../features/drawing/doc';
import { colourAt, palette } from '../../features/participants/colours';
import { makeParties, settledRead, type TestParty } from '../support/authors';

const SESSION = 'session-c5';
const style = { colour: palette[0].hex, width: 60 };
let n = 0;
const id = () => `s-${++n}`;

let agent: TestParty;
let guest: TestParty;
let customer: TestParty;
let viewer: () => Authorship;

beforeAll(async () => {
  const made = await makeParties(SESSION, [
    { participantId: 'agent-1', name: 'Dana', role: 'agent' },
    { participantId: 'guest-1', name: 'Nina', role: 'guest' },
    { participantId: 'cust-1', name: 'Iris', role: 'customer' },
  ]);
  [agent, guest, customer] = made.parties as [TestParty, TestParty, TestParty];
  viewer = made.viewer;
});

function sync(a: Y.Doc, b: Y.Doc) {
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
  Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)));
}

/** What a fresh reader (the session's directory, no key of its own) shows once every check is done. */
const seen = (doc: Y.Doc, present: ReadonlySet<string> = new Set(), auth = viewer()) => settledRead(auth, () => readStrokes(doc, auth, present));
const ids = (strokes: Stroke[]) => strokes.map((s) => s.id);

/** A finished stroke from a list of points. */
async function draw(doc: Y.Doc, who: TestParty, points: [number, number][], strokeId = id()): Promise<string> {
  const s = beginStroke(doc, who.participantId, style, { x: points[0]![0], y: points[0]![1] }, strokeId);
  if (points.length > 1) extendStroke(s, points.slice(1).map(([x, y]) => ({ x, y })));
  await finishStroke(doc, who.signer, who.auth, s, 1_700_000_000_000);
  return strokeId;
}

/** A record signed by `signer` over the payload a reader checks (`part`), with `fields` written. */
async function signedRecord(signer: Signer, part: unknown[], fields: Record<string, unknown>): Promise<Record<string, unknown>> {
  return { ...fields, sig: await signer.sign(part) };
}

/**
 * An update putting null and undefined into `strokes`, as a peer's own encoder can (Yjs's push refuses
 * them): two placeholder strings whose encoding (type 119, length, bytes) is replaced by null (126)
 * and undefined (127).
 */
function withNullAndUndefined(): Uint8Array {
  const d = new Y.Doc();
  strokesOf(d).push(['@@null@@', '@@undef@@'] as never[]);
  let bytes = [...Y.encodeStateAsUpdate(d)];
  for (const [text, code] of [['@@null@@', 126], ['@@undef@@', 127]] as const) {
    const pattern = [119, text.length, ...new TextEncoder().encode(text)];
    const at = bytes.findIndex((_, i) => pattern.every((b, j) => bytes[i + j] === b));
    if (at < 0) throw new Error('placeholder not found');
    bytes = [...bytes.slice(0, at), code, ...bytes.slice(at + pattern.length)];
  }
  return Uint8Array.from(bytes);
}

describe('[C5] strokes in the shared document', () => {
  it('[C5] a stroke drawn point by point is seen live as it is drawn, and reaches a late joiner whole, as an SVG path in surface units', async () => {
    const a = new Y.Doc();
    const s = beginStroke(a, agent.participantId, style, { x: 2500, y: 3750 }, 'live-1');
    extendStroke(s, [{ x: 5000, y: 3750 }]);
    const watcher = new Y.Doc();
    sync(a, watcher);
    const [drawing] = await seen(watcher, new Set([agent.participantId]));
    expect(drawing).toMatchObject({ id: 'live-1', byName: '', live: true, points: 2, d: 'M2500 3750L5000 3750' });
    extendStroke(s, [{ x: 7500.4, y: 3750 }, { x: 99999, y: -5 }]);
    await finishStroke(a, agent.signer, agent.auth, s, 1_700_000_000_000);
    const late = new Y.Doc();
    sync(a, late);
    expect(liveOf(late).size).toBe(0);
    const [stroke] = await seen(late, new Set([agent.participantId]));
    expect(stroke).toMatchObject({ id: 'live-1', byId: 'agent-1', byName: 'Dana', colour: palette[0].hex, width: 60, points: 4 });
    expect(stroke!.live).toBeUndefined();
    expect(stroke!.d).toBe(`M2500 3750L5000 3750L7500 3750L${SURFACE_W} 0`);
  });

  it('[C5] a single point is a dot', async () => {
    const d = new Y.Doc();
    await draw(d, agent, [[10, 20]]);
    expect((await seen(d))[0]!.d).toBe('M10 20L10 20');
  });

  it('[C5] caps a stroke at MAX_STROKE_COORDS coordinates', async () => {
    const d = new Y.Doc();
    const s = beginStroke(d, agent.participantId, style, { x: 0, y: 0 }, id());
    extendStroke(s, Array.from({ length: MAX_STROKE_COORDS }, (_, i) => ({ x: i % SURFACE_W, y: 1 })));
    expect((s.entry.get('coords') as Y.Array<number>).length).toBe(MAX_STROKE_COORDS);
    expect(s.pts).toHaveLength(MAX_STROKE_COORDS);
    await finishStroke(d, agent.signer, agent.auth, s, 1);
    const strokes = await seen(d);
    expect(strokes).toHaveLength(1);
    expect(strokes[0]!.points).toBe(MAX_STROKE_COORDS / 2);
  });

  it('[C5] Undo takes back one’s own last stroke, never someone else’s; Clear takes all; nothing is ever deleted', async () => {
    const d = new Y.Doc();
    let deleted = 0;
    strokesOf(d).observe((e) => (deleted += e.changes.deleted.size));
    await draw(d, agent, [[1, 1]], 'a1');
    await draw(d, guest, [[2, 2]], 'g1');
    await draw(d, agent, [[3, 3]], 'a2');
    expect(await undoLastStroke(d, agent.auth, agent.signer)).toBe(true);
    expect(ids(await seen(d))).toEqual(['a1', 'g1']);
    expect(await undoLastStroke(d, agent.auth, agent.signer)).toBe(true);
    expect(await undoLastStroke(d, agent.auth, agent.signer)).toBe(false);
    expect(ids(await seen(d))).toEqual(['g1']);
    await clearDrawing(d, agent.auth, agent.signer);
    expect(await seen(d)).toEqual([]);
    expect(await undoLastStroke(d, guest.auth, guest.signer)).toBe(false);
    // Drawing goes on after a clear.
    await draw(d, guest, [[4, 4]], 'g2');
    expect(ids(await seen(d))).toEqual(['g2']);
    expect(deleted).toBe(0);
  });

  it('[C5] Undo seen by a reader of its own: another tab of the same participant, after a reload', async () => {
    const d = new Y.Doc();
    await draw(d, guest, [[1, 1]], 'r1');
    await draw(d, guest, [[2, 2]], 'r2');
    // A reader without the signer's cache: it checks the strokes before deciding which is last.
    const reloaded = viewer();
    expect(await undoLastStroke(d, reloaded, guest.signer)).toBe(true);
    expect(ids(await seen(d))).toEqual(['r1']);
  });

  it('[C5] shows only the last MAX_STROKES strokes', async () => {
    const d = new Y.Doc();
    const recs = await Promise.all(
      Array.from({ length: MAX_STROKES + 3 }, async (_, i) => {
        const part = ['stroke', `m${i}`, style.colour, 30, [i % SURFACE_W, 1], 5];
        return signedRecord(agent.signer, part, { t: 'stroke', id: `m${i}`, by: agent.participantId, colour: style.colour, width: 30, pts: [i % SURFACE_W, 1], at: 5 });
      }),
    );
    strokesOf(d).push(recs);
    const strokes = await seen(d, new Set(), agent.auth);
    expect(strokes).toHaveLength(MAX_STROKES);
    expect(strokes[0]!.id).toBe('m3');
  });
});

describe('[C5] hostile peers', () => {
  it('[C5] a guest’s clear record is ignored', async () => {
    const d = new Y.Doc();
    const s1 = await draw(d, agent, [[1, 1]]);
    await draw(d, customer, [[2, 2]]);
    await clearDrawing(d, guest.auth, guest.signer);
    await clearDrawing(d, customer.auth, customer.signer);
    expect(await seen(d)).toHaveLength(2);
    // A clear naming the agent but signed by the guest.
    const upTo = [[agent.participantId, Number.MAX_SAFE_INTEGER], [customer.participantId, Number.MAX_SAFE_INTEGER]].sort();
    strokesOf(d).push([await signedRecord(guest.signer, ['clear', 'c-forged', upTo], { t: 'clear', id: 'c-forged', upTo, by: agent.participantId })]);
    expect(s1).toBeTruthy();
    expect(await seen(d)).toHaveLength(2);
  });

  it('[C5] an undo of another’s stroke is ignored', async () => {
    const d = new Y.Doc();
    const mine = await draw(d, agent, [[1, 1]]);
    strokesOf(d).push([await signedRecord(guest.signer, ['undo', 'u1', mine], { t: 'undo', id: 'u1', stroke: mine, by: guest.participantId })]);
    // Naming the agent as its writer, signed by the guest.
    strokesOf(d).push([await signedRecord(guest.signer, ['undo', 'u2', mine], { t: 'undo', id: 'u2', stroke: mine, by: agent.participantId })]);
    expect(ids(await seen(d))).toEqual([mine]);
  });

  it('[C5] a stroke with a forged author, or points changed after signing, is not shown', async () => {
    const d = new Y.Doc();
    const pts = [10, 10, 20, 20];
    // The guest signs a stroke and names the agent as its author.
    strokesOf(d).push([await signedRecord(guest.signer, ['stroke', 'f1', style.colour, 60, pts, 1], { t: 'stroke', id: 'f1', by: agent.participantId, colour: style.colour, width: 60, pts, at: 1 })]);
    // The agent's genuine record, copied with its points changed.
    const genuine = await signedRecord(agent.signer, ['stroke', 'f2', style.colour, 60, pts, 1], { t: 'stroke', id: 'f2', by: agent.participantId, colour: style.colour, width: 60, pts, at: 1 });
    strokesOf(d).push([{ ...genuine, pts: [10, 10, 30, 30] }, { ...genuine, colour: palette[1].hex }, { ...genuine, id: 'f3' }]);
    expect(await seen(d, new Set([agent.participantId, guest.participantId]))).toEqual([]);
  });

  it('[C5] replaying the agent’s clear at the end does not hide strokes drawn after it', async () => {
    const d = new Y.Doc();
    await draw(d, guest, [[1, 1]], 'before');
    await clearDrawing(d, agent.auth, agent.signer, 'clear-1');
    await draw(d, guest, [[2, 2]], 'after');
    const original = strokesOf(d).toArray().find((r) => (r as { t?: string }).t === 'clear') as Record<string, unknown>;
    strokesOf(d).push([{ ...original }]);
    strokesOf(d).insert(0, [{ ...original }]);
    expect(ids(await seen(d))).toEqual(['after']);
  });

  it('[C5] copies of cleared strokes, of the clear, or of later strokes, put anywhere, change nothing the clear did', async () => {
    const d = new Y.Doc();
    const cleared = [await draw(d, guest, [[1, 1]], 'g1'), await draw(d, agent, [[2, 2]], 'a1')];
    await clearDrawing(d, agent.auth, agent.signer, 'clear-1');
    const kept = [await draw(d, guest, [[3, 3]], 'g2'), await draw(d, customer, [[4, 4]], 'c1')];
    expect(ids(await seen(d))).toEqual(kept);
    const records = strokesOf(d).toArray() as Record<string, unknown>[];
    const copy = (recId: string) => ({ ...records.find((r) => r.id === recId)! });
    // Cleared strokes put back after the clear and at the end; the clear and later strokes put first.
    strokesOf(d).insert(records.length, [copy(cleared[0]!), copy(cleared[1]!)]);
    strokesOf(d).insert(0, [copy('clear-1'), copy(kept[0]!), copy(kept[1]!)]);
    strokesOf(d).insert(3, [copy(cleared[0]!)]);
    expect((await seen(d)).map((s) => s.id).sort()).toEqual([...kept].sort());
  });

  it('[C5] a forged record "of" someone with a huge time neither stops their next strokes nor hides their live preview', async () => {
    const d = new Y.Doc();
    strokesOf(d).push([{ t: 'stroke', id: 'junk', by: customer.participantId, colour: style.colour, width: 60, pts: [1, 1], at: 8.64e15, sig: 'A'.repeat(86) }]);
    const live = beginStroke(d, customer.participantId, style, { x: 5, y: 5 }, 'junk');
    expect((await seen(d, new Set([customer.participantId]))).map((s) => [s.id, s.live])).toEqual([['junk', true]]);
    extendStroke(live, [{ x: 6, y: 6 }]);
    await finishStroke(d, customer.signer, customer.auth, live, 1_700_000_000_000);
    expect(ids(await seen(d))).toEqual(['junk']);
    expect((await seen(d))[0]!.byName).toBe('Iris');
  });

  it('[C5] a stroke drawn after a clear, by a tab whose clock is behind, is still shown', async () => {
    const d = new Y.Doc();
    await draw(d, guest, [[1, 1]], 'g1');
    await clearDrawing(d, agent.auth, agent.signer);
    // `now` far in the past: the stroke's time is still after the guest's last stroke the clear named.
    await appendStroke(d, guest.signer, { id: 'g2', colour: style.colour, width: 60, pts: [5, 5] }, 0);
    expect(ids(await seen(d))).toEqual(['g2']);
  });

  it('[C5] copies of a stroke put early in the array, or another’s stroke under the same id, hide nothing', async () => {
    const d = new Y.Doc();
    await draw(d, guest, [[1, 1]], 'before');
    await clearDrawing(d, agent.auth, agent.signer);
    const after = await draw(d, guest, [[2, 2]], 'after');
    const genuine = strokesOf(d).toArray().find((r) => (r as { id?: string }).id === after) as Record<string, unknown>;
    strokesOf(d).insert(0, [{ ...genuine }]);
    // The customer's own stroke under the guest's stroke id, just before it.
    strokesOf(d).insert(strokesOf(d).length - 1, [await signedRecord(customer.signer, ['stroke', after, style.colour, 60, [5, 5], 1], { t: 'stroke', id: after, by: customer.participantId, colour: style.colour, width: 60, pts: [5, 5], at: 1 })]);
    const shown = await seen(d);
    expect(shown.map((s) => `${s.byName}:${s.id}`).sort()).toEqual(['Iris:after', 'Nina:after']);
    // Undo by the customer of "its" stroke with that id takes back its own only.
    strokesOf(d).push([await signedRecord(customer.signer, ['undo', 'u', after], { t: 'undo', id: 'u', stroke: after, by: customer.participantId })]);
    expect((await seen(d)).map((s) => `${s.byName}:${s.id}`)).toEqual(['Nina:after']);
  });

  it('[C5] malformed records of every kind are ignored without throwing', async () => {
    const d = new Y.Doc();
    const ok = await draw(d, agent, [[1, 1], [2, 2]]);
    const base = { t: 'stroke', id: 'bad', by: agent.participantId, colour: style.colour, width: 60, pts: [1, 1], at: 1 };
    // Each signed by its claimed author over what it holds: only validation stands in the way.
    const strokeVariants: Record<string, unknown>[] = [
      { colour: 'url(javascript:alert(1))' },
      { colour: 42 },
      { width: 1e9 },
      { width: NaN },
      { width: '60' },
      { pts: [1.5, 1] },
      { pts: [SURFACE_W + 1, 1] },
      { pts: [1, SURFACE_H + 1] },
      { pts: [-1, 1] },
      { pts: ['1', 1] },
      { pts: [NaN, 1] },
      { pts: [Infinity, 1] },
      { pts: [1e300, 1] },
      { pts: [1, 1, 2] },
      { pts: [] },
      { pts: 'M0 0' },
      { pts: { 0: 1, 1: 1, length: 2 } },
      { pts: Array.from({ length: MAX_STROKE_COORDS + 2 }, () => 1) },
      { pts: [[1], [1]] },
      { at: 1e300 },
      { at: -1 },
      { at: NaN },
      { at: undefined },
      { id: '' },
      { id: 'x'.repeat(65) },
      { id: 7 },
      { by: undefined },
      { by: null },
      { by: { id: 'agent-1' } },
      { t: 'STROKE' },
      { t: undefined },
    ];
    const records: unknown[] = [];
    for (const v of strokeVariants) {
      const r = { ...base, ...v };
      records.push(await signedRecord(agent.signer, ['stroke', r.id, r.colour, r.width, r.pts, r.at], r));
    }
    records.push(
      { ...base }, // no signature
      { ...base, sig: 12 },
      { ...base, sig: 'x'.repeat(1000) },
      await signedRecord(agent.signer, ['undo', 'u', 7], { t: 'undo', id: 'u', stroke: 7, by: agent.participantId }),
      await signedRecord(agent.signer, ['undo', 'u', null], { t: 'undo', id: 'u', by: agent.participantId }),
      await signedRecord(agent.signer, ['clear', 'c', 5], { t: 'clear', id: 'c', upTo: 5, by: agent.participantId }),
      await signedRecord(agent.signer, ['clear', 'c2', [[ok, 1]]], { t: 'clear', id: 'c2', upTo: [[ok, 1]], by: 99 }),
      await signedRecord(agent.signer, ['clear', 'c4', [[agent.participantId, 1e300]]], { t: 'clear', id: 'c4', upTo: [[agent.participantId, 1e300]], by: agent.participantId }),
      await signedRecord(agent.signer, ['clear', 'c5', [['b', 1], ['a', 1]]], { t: 'clear', id: 'c5', upTo: [['b', 1], ['a', 1]], by: agent.participantId }),
      await signedRecord(agent.signer, ['clear', 'c6', [[agent.participantId, NaN]]], { t: 'clear', id: 'c6', upTo: [[agent.participantId, NaN]], by: agent.participantId }),
      await signedRecord(agent.signer, ['clear', 'c7', [[agent.participantId]]], { t: 'clear', id: 'c7', upTo: [[agent.participantId]], by: agent.participantId }),
      { t: 'clear', id: 'c3', by: agent.participantId, sig: 'A'.repeat(86) },
      0,
      NaN,
      'stroke',
      true,
      [base],
      new Uint8Array([1, 2, 3]),
      {},
    );
    strokesOf(d).push(records as never[]);
    strokesOf(d).push([new Y.Map(), new Y.Array(), new Y.Text('x')] as never[]);
    Y.applyUpdate(d, withNullAndUndefined());
    expect(strokesOf(d).toArray()).toContain(null);
    expect(strokesOf(d).toArray()).toContain(undefined);
    // Through a peer: what the encoding makes of them (NaN, undefined, a byte array) is what is read.
    const other = new Y.Doc();
    sync(d, other);
    for (const doc of [d, other]) {
      expect(() => readDrawing(doc, viewer())).not.toThrow();
      expect(ids(await seen(doc, new Set([agent.participantId])))).toEqual([ok]);
    }
  });

  it('[C5] malformed live entries are ignored without throwing', async () => {
    const d = new Y.Doc();
    const present = new Set([agent.participantId]);
    const live = (key: string, fields: Record<string, unknown>, coords: unknown[] | unknown, asYArray = true) => {
      const m = new Y.Map<unknown>();
      liveOf(d).set(key, m);
      for (const [k, v] of Object.entries({ by: agent.participantId, colour: style.colour, width: 60, ...fields })) m.set(k, v);
      if (Array.isArray(coords) && asYArray) {
        const c = new Y.Array<unknown>();
        c.push(coords);
        m.set('coords', c);
      } else m.set('coords', coords);
    };
    live('a', { colour: 'url(javascript:alert(1))' }, [1, 1]);
    live('b', { width: 1e9 }, [1, 1]);
    live('c', {}, [1.5, 1]);
    live('d', {}, [SURFACE_W + 1, 1]);
    live('e', {}, ['1', 1]);
    live('f', {}, []);
    live('g', {}, [1, 1, 1]);
    live('h', {}, [NaN, 1]);
    live('i', {}, [1, 2, 3, 4], false); // a plain list, not a Y.Array
    live('j', { by: 5 }, [1, 1]);
    live('k', {}, new Y.Text('1 1'));
    live('n', {}, [[1, 1]]);
    live('o', {}, Array.from({ length: MAX_STROKE_COORDS + 2 }, () => 1));
    live('x'.repeat(65), {}, [1, 1]);
    liveOf(d).set('l', 'not a map');
    liveOf(d).set('m', { by: agent.participantId, coords: [1, 1] });
    live('ok', {}, [1, 1, 2, 2]);
    const other = new Y.Doc();
    sync(d, other);
    for (const doc of [d, other]) expect(ids(await seen(doc, present))).toEqual(['ok']);
  });

  it('[C5] strokes being drawn are shown only while their author is here, and never with a name', async () => {
    const d = new Y.Doc();
    const s = beginStroke(d, guest.participantId, style, { x: 5, y: 5 }, 'drawing-now');
    extendStroke(s, [{ x: 6, y: 6 }]);
    expect(await seen(d, new Set([agent.participantId]))).toEqual([]);
    const [shown] = await seen(d, new Set([guest.participantId]));
    expect(shown).toMatchObject({ id: 'drawing-now', byId: '', byName: '', live: true });
    // Once the stroke is recorded, the record is shown, whoever is here.
    await finishStroke(d, guest.signer, guest.auth, s, 1);
    expect(await seen(d, new Set())).toMatchObject([{ id: 'drawing-now', byName: 'Nina' }]);
  });

  it('[C5] a finished stroke whose signature is still being checked stays on screen, unattributed, while its author is here', async () => {
    const d = new Y.Doc();
    const s = beginStroke(d, guest.participantId, style, { x: 5, y: 5 }, 'handover');
    await finishStroke(d, guest.signer, guest.auth, s, 1);
    const auth = viewer();
    expect(readStrokes(d, auth, new Set([guest.participantId]))).toMatchObject([{ id: 'handover', byName: '', live: true }]);
    expect(readStrokes(d, auth, new Set())).toEqual([]);
    await auth.settled();
    expect(readStrokes(d, auth, new Set())).toMatchObject([{ id: 'handover', byName: 'Nina' }]);
  });

  it('[C5] a live entry whose stroke is recorded is not shown twice, nor is a hostile copy of it', async () => {
    const d = new Y.Doc();
    const s = beginStroke(d, guest.participantId, style, { x: 5, y: 5 }, 'twice');
    await finishStroke(d, guest.signer, guest.auth, s, 1);
    // A hostile peer puts the live entry back.
    beginStroke(d, guest.participantId, style, { x: 9, y: 9 }, 'twice');
    expect(ids(await seen(d, new Set([guest.participantId])))).toEqual(['twice']);
  });

  it('[C5] a stroke begun while the last one is being signed finishes too, above it', async () => {
    const d = new Y.Doc();
    // The first stroke's signature comes back only after the second's (signatures may come back in
    // any order): the second stroke is still recorded after the first.
    let secondSigned!: () => void;
    const afterSecond = new Promise<void>((resolve) => (secondSigned = resolve));
    let signatures = 0;
    const signer: Signer = {
      participantId: guest.signer.participantId,
      sign: async (payload) => {
        const n = signatures++;
        const sig = await guest.signer.sign(payload);
        if (n === 0) await afterSecond;
        else secondSigned();
        return sig;
      },
    };
    const first = beginStroke(d, guest.participantId, style, { x: 1, y: 1 }, 'first');
    extendStroke(first, [{ x: 2, y: 2 }]);
    const finishing = finishStroke(d, signer, guest.auth, first, 1);
    const second = beginStroke(d, guest.participantId, style, { x: 3, y: 3 }, 'second');
    extendStroke(second, [{ x: 4, y: 4 }]);
    await Promise.all([finishing, finishStroke(d, signer, guest.auth, second, 2)]);
    expect((await seen(d)).map((x) => [x.id, x.points])).toEqual([['first', 2], ['second', 2]]);
    expect(liveOf(d).size).toBe(0);
  });

  it('[C5] a stroke is recorded with the points its author drew, whatever a peer does to its live entry', async () => {
    const d = new Y.Doc();
    const s = beginStroke(d, guest.participantId, style, { x: 1, y: 1 }, 'tampered');
    (s.entry.get('coords') as Y.Array<number>).push([SURFACE_W, SURFACE_H]);
    liveOf(d).delete('tampered');
    extendStroke(s, [{ x: 2, y: 2 }]);
    await finishStroke(d, guest.signer, guest.auth, s, 1);
    expect((await seen(d))[0]!.d).toBe('M1 1L2 2');
  });

  it('[C5] a record by someone not in the directory is never shown', async () => {
    const d = new Y.Doc();
    const { parties } = await makeParties(SESSION, [{ participantId: 'stranger', name: 'Mallory', role: 'agent' }]);
    await appendStroke(d, parties[0]!.signer, { id: 'x', colour: style.colour, width: 60, pts: [1, 1] }, 1);
    await draw(d, guest, [[1, 1]], 'kept');
    await clearDrawing(d, parties[0]!.auth, parties[0]!.signer);
    expect(ids(await seen(d, new Set(['stranger'])))).toEqual(['kept']);
  });

  it('[C5] strokes drawn, undone and cleared on several documents at once converge', async () => {
    type Op = { who: number; kind: 'draw' | 'undo' | 'clear'; x: number };
    const op = fc.record({ who: fc.integer({ min: 0, max: 2 }), kind: fc.constantFrom('draw', 'draw', 'undo', 'clear'), x: fc.integer({ min: 0, max: SURFACE_W }) }) as fc.Arbitrary<Op>;
    const people = [agent, guest, customer];
    const everyone = new Set(people.map((p) => p.participantId));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { maxLength: 6 }), { minLength: 1, maxLength: 4 }), async (rounds) => {
        const docs = [new Y.Doc(), new Y.Doc(), new Y.Doc()];
        for (const round of rounds) {
          for (const o of round) {
            const d = docs[o.who]!;
            const who = people[o.who]!;
            if (o.kind === 'draw') await draw(d, who, [[o.x, 10], [o.x, 20]]);
            if (o.kind === 'undo') await undoLastStroke(d, who.auth, who.signer);
            // Only the agent's clears count; the others' are written and ignored.
            if (o.kind === 'clear') await clearDrawing(d, who.auth, who.signer);
          }
          // Someone still drawing, on one document.
          beginStroke(docs[round.length % 3]!, people[round.length % 3]!.participantId, style, { x: 1, y: 1 }, id());
          sync(docs[0]!, docs[1]!);
          sync(docs[1]!, docs[2]!);
          sync(docs[0]!, docs[1]!);
          const views = await Promise.all(docs.map(async (d) => JSON.stringify(await seen(d, everyone))));
          expect(views[1]).toBe(views[0]);
          expect(views[2]).toBe(views[0]);
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('[C5] participant colours', () => {
  it('[C5] the first eight people get eight different colours, by joining order', () => {
    const colours = Array.from({ length: 8 }, (_, i) => colourAt(i).hex);
    expect(new Set(colours).size).toBe(8);
    expect(colourAt(8)).toEqual(colourAt(0));
  });
});
