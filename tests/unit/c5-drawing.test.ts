/**
 * C5 drawing: strokes in the shared document (relative integer coordinates, validated when read,
 * converging when drawn, undone and cleared concurrently) and participant colours.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { beginStroke, clearDrawing, extendStroke, MAX_STROKE_COORDS, readStrokes, strokesOf, SURFACE_W, undoLastStroke } from '../../features/drawing/doc';
import { colourAt, palette } from '../../features/participants/colours';

const agent = { participantId: 'agent-1', name: 'Dana', role: 'agent' as const };
const guest = { participantId: 'guest-1', name: 'Nina', role: 'guest' as const };
const style = { colour: palette[0].hex, width: 60 };
let n = 0;
const id = () => `s-${++n}`;

function sync(a: Y.Doc, b: Y.Doc) {
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
  Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)));
}

describe('[C5] strokes in the shared document', () => {
  it('a stroke drawn point by point reaches a late joiner whole, as an SVG path in surface units', () => {
    const a = new Y.Doc();
    const s = beginStroke(a, agent, style, { x: 2500, y: 3750 }, id());
    extendStroke(s, [{ x: 5000, y: 3750 }]);
    extendStroke(s, [{ x: 7500.4, y: 3750 }, { x: 99999, y: -5 }]);
    const late = new Y.Doc();
    sync(a, late);
    const [stroke] = readStrokes(late);
    expect(stroke).toMatchObject({ byName: 'Dana', colour: palette[0].hex, width: 60, points: 4 });
    expect(stroke!.d).toBe(`M2500 3750L5000 3750L7500 3750L${SURFACE_W} 0`);
  });

  it('a single point is a dot', () => {
    const d = new Y.Doc();
    beginStroke(d, agent, style, { x: 10, y: 20 }, id());
    expect(readStrokes(d)[0]!.d).toBe('M10 20L10 20');
  });

  it('caps a stroke at MAX_STROKE_COORDS coordinates', () => {
    const d = new Y.Doc();
    const s = beginStroke(d, agent, style, { x: 0, y: 0 }, id());
    extendStroke(s, Array.from({ length: MAX_STROKE_COORDS }, (_, i) => ({ x: i % SURFACE_W, y: 1 })));
    expect((s.get('coords') as Y.Array<number>).length).toBe(MAX_STROKE_COORDS);
    expect(readStrokes(d)).toHaveLength(1);
  });

  it('Undo takes back one’s own last stroke, never someone else’s; Clear takes all', () => {
    const d = new Y.Doc();
    beginStroke(d, agent, style, { x: 1, y: 1 }, 'a1');
    beginStroke(d, guest, style, { x: 2, y: 2 }, 'g1');
    beginStroke(d, agent, style, { x: 3, y: 3 }, 'a2');
    expect(undoLastStroke(d, 'agent-1')).toBe(true);
    expect(readStrokes(d).map((s) => s.id)).toEqual(['a1', 'g1']);
    expect(undoLastStroke(d, 'agent-1')).toBe(true);
    expect(undoLastStroke(d, 'agent-1')).toBe(false);
    expect(readStrokes(d).map((s) => s.id)).toEqual(['g1']);
    clearDrawing(d);
    expect(readStrokes(d)).toEqual([]);
  });

  it('drops what a hostile peer writes: plain objects, other colours, out-of-range or fractional points', () => {
    const d = new Y.Doc();
    const bad = (fields: Record<string, unknown>, coords: unknown[]) => {
      const m = new Y.Map<unknown>();
      const c = new Y.Array<unknown>();
      c.push(coords);
      strokesOf(d).push([m]);
      for (const [k, v] of Object.entries({ id: 'x', byId: 'p', byName: 'M', colour: palette[0].hex, width: 60, ...fields })) m.set(k, v);
      m.set('coords', c);
    };
    bad({ colour: 'url(javascript:alert(1))' }, [1, 1]);
    bad({ width: 1e9 }, [1, 1]);
    bad({}, [1.5, 1]);
    bad({}, [SURFACE_W + 1, 1]);
    bad({}, ['1', 1]);
    bad({}, []);
    strokesOf(d).push(['not a map' as never]);
    bad({ id: 'ok' }, [1, 1, 2, 2]);
    expect(readStrokes(d).map((s) => s.id)).toEqual(['ok']);
  });

  it('strokes drawn, undone and cleared on several documents at once converge', () => {
    type Op = { who: number; kind: 'draw' | 'undo' | 'clear'; x: number };
    const op = fc.record({ who: fc.integer({ min: 0, max: 2 }), kind: fc.constantFrom('draw', 'draw', 'undo', 'clear'), x: fc.integer({ min: 0, max: SURFACE_W }) }) as fc.Arbitrary<Op>;
    fc.assert(
      fc.property(fc.array(fc.array(op, { maxLength: 6 }), { minLength: 1, maxLength: 4 }), (rounds) => {
        const docs = [new Y.Doc(), new Y.Doc(), new Y.Doc()];
        const people = [agent, guest, { participantId: 'cust-1', name: 'Iris', role: 'customer' as const }];
        for (const round of rounds) {
          for (const o of round) {
            const d = docs[o.who]!;
            if (o.kind === 'draw') extendStroke(beginStroke(d, people[o.who]!, style, { x: o.x, y: 10 }, id()), [{ x: o.x, y: 20 }]);
            if (o.kind === 'undo') undoLastStroke(d, people[o.who]!.participantId);
            if (o.kind === 'clear') clearDrawing(d);
          }
          sync(docs[0]!, docs[1]!);
          sync(docs[1]!, docs[2]!);
          sync(docs[0]!, docs[1]!);
          const seen = docs.map((d) => JSON.stringify(readStrokes(d)));
          expect(seen[1]).toBe(seen[0]);
          expect(seen[2]).toBe(seen[0]);
        }
      }),
    );
  });
});

describe('[C5] participant colours', () => {
  it('the first eight people get eight different colours, by joining order', () => {
    const colours = Array.from({ length: 8 }, (_, i) => colourAt(i).hex);
    expect(new Set(colours).size).toBe(8);
    expect(colourAt(8)).toEqual(colourAt(0));
  });
});
