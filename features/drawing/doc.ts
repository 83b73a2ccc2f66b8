/**
 * C5: the shared drawing in the session document: a Y.Array of strokes, each a Y.Map with its author,
 * colour and a Y.Array of integer coordinates (x, y, x, y, …) on a fixed 4:3 surface of
 * SURFACE_W × SURFACE_H units, so a stroke made on a phone lands on the same spot of a desktop's
 * surface. Points are appended while the stroke is drawn, so the others see it as it is drawn.
 * Pointers are not here: they go through awareness (useDrawing.ts).
 */
import * as Y from 'yjs';
import { Limits } from '../../lib/protocol';
import type { Author } from '../participants/doc';
import { isPaletteHex } from '../participants/colours';

export const SURFACE_W = 10_000;
export const SURFACE_H = 7_500;
/** Coordinates per stroke at most (x and y count one each): a long scribble, not a denial of service. */
export const MAX_STROKE_COORDS = 20_000;
/** Strokes kept at most; drawing more drops the oldest. */
export const MAX_STROKES = 5_000;
/** Thin, medium, thick in surface units (a 600 px wide surface: about 2, 4 and 9 px). */
export const STROKE_WIDTHS = [30, 60, 150] as const;

export interface Stroke {
  id: string;
  byId: string;
  byName: string;
  colour: string;
  width: number;
  /** SVG path data in surface units. */
  d: string;
  /** Number of points. */
  points: number;
}

export const strokesOf = (doc: Y.Doc) => doc.getArray<Y.Map<unknown>>('strokes');

const clampX = (x: number) => Math.max(0, Math.min(SURFACE_W, Math.round(x)));
const clampY = (y: number) => Math.max(0, Math.min(SURFACE_H, Math.round(y)));

/** Parsed strokes by their Y.Map, kept while the stroke has as many coordinates as when parsed. */
const parsed = new WeakMap<Y.Map<unknown>, { length: number; stroke: Stroke | null }>();

function readStroke(m: unknown): Stroke | null {
  if (!(m instanceof Y.Map)) return null;
  const coords = m.get('coords');
  if (!(coords instanceof Y.Array)) return null;
  const length = coords.length;
  const cached = parsed.get(m);
  if (cached && cached.length === length) return cached.stroke;
  const stroke = parseStroke(m, coords);
  parsed.set(m, { length, stroke });
  return stroke;
}

function parseStroke(m: Y.Map<unknown>, coords: Y.Array<unknown>): Stroke | null {
  const id = m.get('id');
  const byId = m.get('byId');
  const byName = m.get('byName');
  const colour = m.get('colour');
  const width = m.get('width');
  if (typeof id !== 'string' || id.length > 64 || typeof byId !== 'string' || byId.length > 64) return null;
  if (typeof byName !== 'string' || byName.length > Limits.nameChars) return null;
  if (typeof colour !== 'string' || !isPaletteHex(colour)) return null;
  if (typeof width !== 'number' || !(STROKE_WIDTHS as readonly number[]).includes(width)) return null;
  if (coords.length > MAX_STROKE_COORDS) return null;
  const parts: string[] = [];
  const raw = coords.toArray();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const x = raw[i];
    const y = raw[i + 1];
    if (!Number.isInteger(x) || !Number.isInteger(y)) return null;
    if ((x as number) < 0 || (x as number) > SURFACE_W || (y as number) < 0 || (y as number) > SURFACE_H) return null;
    parts.push(`${i === 0 ? 'M' : 'L'}${x as number} ${y as number}`);
  }
  if (parts.length === 0) return null;
  // One point is a dot: a zero-length line with round caps.
  if (parts.length === 1) parts.push(parts[0]!.replace('M', 'L'));
  return { id, byId, byName, colour, width, d: parts.join(''), points: raw.length / 2 };
}

export function readStrokes(doc: Y.Doc): Stroke[] {
  const out: Stroke[] = [];
  for (const m of strokesOf(doc).toArray()) {
    const s = readStroke(m);
    if (s) out.push(s);
  }
  return out;
}

/** Starts a stroke at a point; returns the handle to extend it with. */
export function beginStroke(
  doc: Y.Doc,
  by: Author,
  style: { colour: string; width: number },
  at: { x: number; y: number },
  id: string,
): Y.Map<unknown> {
  const m = new Y.Map<unknown>();
  const coords = new Y.Array<number>();
  coords.push([clampX(at.x), clampY(at.y)]);
  doc.transact(() => {
    m.set('id', id);
    m.set('byId', by.participantId);
    m.set('byName', by.name);
    m.set('colour', style.colour);
    m.set('width', style.width);
    m.set('coords', coords);
    const strokes = strokesOf(doc);
    strokes.push([m]);
    if (strokes.length > MAX_STROKES) strokes.delete(0, strokes.length - MAX_STROKES);
  });
  return m;
}

/** Appends points to a stroke being drawn (one transaction: one update for the peers). */
export function extendStroke(stroke: Y.Map<unknown>, points: { x: number; y: number }[]): void {
  const coords = stroke.get('coords');
  if (!(coords instanceof Y.Array) || points.length === 0) return;
  const room = Math.floor((MAX_STROKE_COORDS - coords.length) / 2);
  const flat = points.slice(0, Math.max(0, room)).flatMap((p) => [clampX(p.x), clampY(p.y)]);
  if (flat.length > 0) coords.push(flat);
}

/** C5 Undo: removes this participant's last stroke; false when there is none. */
export function undoLastStroke(doc: Y.Doc, participantId: string): boolean {
  const strokes = strokesOf(doc);
  const all = strokes.toArray();
  for (let i = all.length - 1; i >= 0; i--) {
    const m = all[i];
    if (m instanceof Y.Map && m.get('byId') === participantId) {
      strokes.delete(i, 1);
      return true;
    }
  }
  return false;
}

/** C5 Clear drawing (the agent). */
export function clearDrawing(doc: Y.Doc): void {
  const strokes = strokesOf(doc);
  if (strokes.length > 0) strokes.delete(0, strokes.length);
}
