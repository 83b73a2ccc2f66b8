/**
 * C5: the shared drawing in the session document. Coordinates are integers on a fixed 4:3 surface of
 * SURFACE_W × SURFACE_H units, so a stroke made on a phone lands on the same spot of a desktop's
 * surface. Pointers are not here: they go through awareness (useDrawing.ts).
 *
 * Two roots:
 *
 * - `strokes`: a Y.Array of plain JSON records, append-only (peers refuse updates that delete from
 *   it: lib/p2p/update-gate.ts), each signed by its writer (decision 0010, lib/collab/authorship.ts):
 *   - `{ t: 'stroke', id, by, colour, width, pts, at, sig }`: a finished stroke; `pts` is x, y, x, y, …
 *     `at` grows with each stroke of its author (at least one more than the author's last stroke the
 *     writing tab has seen), so it orders an author's strokes even across its tabs.
 *     Signed: `['stroke', id, colour, width, pts, at]`.
 *   - `{ t: 'undo', id, stroke, by, sig }`: takes back the stroke `stroke` of `by`; a stroke is only
 *     its author's to undo (a stroke is named by its author and id: an undo names the stroke of its
 *     own signer). Signed: `['undo', id, stroke]`.
 *   - `{ t: 'clear', id, upTo, by, sig }`: the agent's Clear drawing (the directory's role of `by` must
 *     be agent). `upTo` maps each author whose strokes the agent saw to the `at` of that author's last
 *     one: it hides every stroke of that author with `at` up to it. Positions in the array do not
 *     matter (they are not signed): a copy of any record, put anywhere, changes nothing.
 *     Signed: `['clear', id, [[author, at], …] sorted by author]`.
 *   Nothing is ever deleted: undo and clear are records that hide strokes when read. A reader shows
 *   a stroke (its author and id) at its first valid record unless its author undid it or a clear
 *   covers it; copies of a record (a replay, or a first sync from someone else) are shown once; only
 *   the last MAX_STROKES shown strokes are drawn. A stroke is shown only once its signature verifies
 *   against its author's keys; names come from the directory, never from the record.
 *
 * - `drawing-live`: a Y.Map, stroke id → Y.Map { by, colour, width, coords: Y.Array of integers },
 *   the strokes being drawn now, so the others see a stroke as it is drawn (points are appended once
 *   per animation frame). Not signed and not protected: when the stroke is finished its author signs
 *   it and, in one transaction, appends the record to `strokes` and deletes the live entry. A live
 *   entry is shown only while no stroke record with its author and id exists and while the participant
 *   it names is here (verified presence), and never with an author's name: it is nobody's word.
 *   A finished record whose signature is still being checked is shown the same way, so a stroke does
 *   not blink out between its live entry going and its record verifying.
 */
import * as Y from 'yjs';
import type { Authorship, Signer } from '../../lib/collab/authorship';
import { newId } from '../../lib/collab/ids';
import { oncePerObject } from '../../lib/collab/once-per-object';
import { isPaletteHex } from '../participants/colours';

export const SURFACE_W = 10_000;
export const SURFACE_H = 7_500;
/** Coordinates per stroke at most (x and y count one each): a long scribble, not a denial of service. */
export const MAX_STROKE_COORDS = 20_000;
/** Strokes drawn at most: the last ones shown. */
export const MAX_STROKES = 5_000;
/** Strokes being drawn shown at most (a hostile peer's thousands of live entries are not drawn). */
export const MAX_LIVE_STROKES = 32;
/** Thin, medium, thick in surface units (a 600 px wide surface: about 2, 4 and 9 px). */
export const STROKE_WIDTHS = [30, 60, 150] as const;

export interface Stroke {
  id: string;
  /** The author (from the signed record); empty for a stroke still being drawn (`live`). */
  byId: string;
  /** The author's name from the directory; empty for a stroke still being drawn (`live`). */
  byName: string;
  colour: string;
  width: number;
  /** SVG path data in surface units. */
  d: string;
  /** Number of points. */
  points: number;
  /** Being drawn (or its record not verified yet): shown, attributed to nobody. */
  live?: true;
}

interface StrokeRecord {
  t: 'stroke';
  id: string;
  by: string;
  colour: string;
  width: number;
  pts: number[];
  at: number;
  sig: string;
}
interface UndoRecord {
  t: 'undo';
  id: string;
  stroke: string;
  by: string;
  sig: string;
}
interface ClearRecord {
  t: 'clear';
  id: string;
  /** Author → the `at` of the author's last stroke the clear hides; sorted by author. */
  upTo: [string, number][];
  by: string;
  sig: string;
}
/** Authors a clear names at most (the participants of a session, with room to spare). */
const MAX_CLEAR_AUTHORS = 256;
export type DrawingRecord = StrokeRecord | UndoRecord | ClearRecord;

export const strokesOf = (doc: Y.Doc) => doc.getArray<unknown>('strokes');
export const liveOf = (doc: Y.Doc) => doc.getMap<unknown>('drawing-live');

type UnsignedRecord = Omit<StrokeRecord, 'sig'> | Omit<UndoRecord, 'sig'> | Omit<ClearRecord, 'sig'>;

const signedPart = (r: UnsignedRecord): readonly unknown[] =>
  r.t === 'stroke' ? ['stroke', r.id, r.colour, r.width, r.pts, r.at] : r.t === 'undo' ? ['undo', r.id, r.stroke] : ['clear', r.id, r.upTo];

/** A stroke is its author's: two authors' strokes with the same id are two strokes. */
const strokeKey = (by: string, id: string) => `${by}\u0000${id}`;

const clampX = (x: number) => Math.max(0, Math.min(SURFACE_W, Math.round(Number.isFinite(x) ? x : 0)));
const clampY = (y: number) => Math.max(0, Math.min(SURFACE_H, Math.round(Number.isFinite(y) ? y : 0)));

// ------------------------------------------------------------------------------------ validation

const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 64;
const isSig = (v: unknown): v is string => typeof v === 'string' && v.length <= 100;
const isWidth = (v: unknown): v is number => typeof v === 'number' && (STROKE_WIDTHS as readonly number[]).includes(v);
const isColour = (v: unknown): v is string => typeof v === 'string' && isPaletteHex(v);
const MAX_TIME = 8.64e15;
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_TIME;

/** x, y, x, y, … integers on the surface, at least one point, at most MAX_STROKE_COORDS numbers. */
function isPoints(v: readonly unknown[]): boolean {
  if (v.length < 2 || v.length % 2 !== 0 || v.length > MAX_STROKE_COORDS) return false;
  for (let i = 0; i < v.length; i += 2) {
    const x = v[i];
    const y = v[i + 1];
    if (typeof x !== 'number' || typeof y !== 'number' || !Number.isInteger(x) || !Number.isInteger(y)) return false;
    if (x < 0 || x > SURFACE_W || y < 0 || y > SURFACE_H) return false;
  }
  return true;
}

/** A clear's authors and times: pairs sorted by author, each author once. */
function isUpTo(v: unknown): v is [string, number][] {
  if (!Array.isArray(v) || v.length > MAX_CLEAR_AUTHORS) return false;
  let previous = '';
  for (const pair of v) {
    if (!Array.isArray(pair) || pair.length !== 2 || !isId(pair[0]) || !isTime(pair[1])) return false;
    if (previous !== '' && pair[0] <= previous) return false;
    previous = pair[0];
  }
  return true;
}

function pathOf(pts: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i + 1 < pts.length; i += 2) parts.push(`${i === 0 ? 'M' : 'L'}${pts[i]} ${pts[i + 1]}`);
  // One point is a dot: a zero-length line with round caps.
  if (parts.length === 1) parts.push(parts[0]!.replace('M', 'L'));
  return parts.join('');
}

/** What a peer wrote, as a record of ours or null; never throws, whatever it is. */
function parseRecord(raw: unknown): DrawingRecord | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || raw instanceof Y.AbstractType) return null;
  try {
    const r = raw as Record<string, unknown>;
    const { t, id, by, sig } = r;
    if (!isId(id) || !isId(by) || !isSig(sig)) return null;
    if (t === 'stroke') {
      const { colour, width, pts, at } = r;
      if (!isColour(colour) || !isWidth(width) || !isTime(at) || !Array.isArray(pts) || !isPoints(pts)) return null;
      return { t, id, by, colour, width, pts: pts as number[], at, sig };
    }
    if (t === 'undo') return isId(r.stroke) ? { t, id, stroke: r.stroke, by, sig } : null;
    if (t === 'clear') return isUpTo(r.upTo) ? { t, id, upTo: r.upTo, by, sig } : null;
    return null;
  } catch {
    return null;
  }
}

/** Records are immutable objects in the array: parsed once each. */
const recordOf = oncePerObject(parseRecord);

/** Strokes as shown, by record: the path is built once (the name is the directory's, so checked). */
const shownStrokes = new WeakMap<object, Stroke>();
function strokeOf(raw: object, rec: StrokeRecord, byName: string): Stroke {
  const cached = shownStrokes.get(raw);
  if (cached && cached.byName === byName) return cached;
  const stroke: Stroke = { id: rec.id, byId: rec.by, byName, colour: rec.colour, width: rec.width, d: pathOf(rec.pts), points: rec.pts.length / 2 };
  shownStrokes.set(raw, stroke);
  return stroke;
}

const liveRecordStrokes = new WeakMap<object, Stroke>();
function unattributed(raw: object, rec: StrokeRecord): Stroke {
  let s = liveRecordStrokes.get(raw);
  if (!s) {
    s = { id: rec.id, byId: '', byName: '', colour: rec.colour, width: rec.width, d: pathOf(rec.pts), points: rec.pts.length / 2, live: true };
    liveRecordStrokes.set(raw, s);
  }
  return s;
}

// ------------------------------------------------------------------------------------ reading

/** A stroke shown without attribution while the participant `by` claims it is here. */
export interface LiveStroke {
  /** Author and id: a live entry whose stroke record exists is not shown. */
  key: string;
  by: string;
  stroke: Stroke;
}

export interface DrawingView {
  /** Finished strokes whose signatures verify, oldest first, the last MAX_STROKES of them. */
  strokes: Stroke[];
  /** Finished records still being checked, shown as live strokes while their author is here. */
  unverified: LiveStroke[];
  /** Author and id of every well-formed stroke record: their live entries are over. */
  recorded: ReadonlySet<string>;
}

/**
 * The finished drawing: records validated, signatures checked (records still being checked are left
 * out of `strokes` until `auth.subscribe` announces the result), undo and clear applied.
 */
export function readDrawing(doc: Y.Doc, auth: Authorship): DrawingView {
  const raws = strokesOf(doc).toArray();
  const recs = raws.map(recordOf);
  const verdicts = new Map<number, boolean | undefined>();
  const verdict = (i: number): boolean | undefined => {
    if (verdicts.has(i)) return verdicts.get(i);
    const rec = recs[i]!;
    const v = auth.check(rec.by, rec.sig, () => signedPart(rec), raws[i] as object);
    verdicts.set(i, v);
    return v;
  };

  // Every stroke's author and id (their live entries are over once recorded).
  // (Not a record whose signature failed: junk naming someone's stroke must not hide its live preview.)
  const recorded = new Set<string>();
  recs.forEach((rec, i) => {
    if (rec?.t === 'stroke' && verdict(i) !== false) recorded.add(strokeKey(rec.by, rec.id));
  });

  // Undo and clear records, in any position; each valid one counts (copies are checked once).
  const undone = new Set<string>();
  const hidesSeen = new Set<string>();
  const clearedUpTo = new Map<string, number>();
  recs.forEach((rec, i) => {
    if (!rec || rec.t === 'stroke') return;
    const seen = `${rec.t}\u0000${strokeKey(rec.by, rec.id)}`;
    if (hidesSeen.has(seen)) return;
    if (rec.t === 'clear' && auth.who(rec.by)?.role !== 'agent') return;
    if (verdict(i) !== true) return;
    hidesSeen.add(seen);
    if (rec.t === 'undo') undone.add(strokeKey(rec.by, rec.stroke));
    else for (const [author, at] of rec.upTo) clearedUpTo.set(author, Math.max(clearedUpTo.get(author) ?? -1, at));
  });

  // The first valid record of each (author, id), unless undone or cleared.
  const strokes: Stroke[] = [];
  const shown = new Set<string>();
  const unverified = new Map<string, LiveStroke>();
  for (let i = 0; i < recs.length; i++) {
    const rec = recs[i];
    if (rec?.t !== 'stroke') continue;
    const key = strokeKey(rec.by, rec.id);
    if (shown.has(key) || undone.has(key) || rec.at <= (clearedUpTo.get(rec.by) ?? -1)) continue;
    const v = verdict(i);
    if (v === true) {
      const author = auth.who(rec.by);
      if (!author) continue;
      shown.add(key);
      unverified.delete(key);
      strokes.push(strokeOf(raws[i] as object, rec, author.name));
    } else if (v === undefined && !unverified.has(key) && auth.who(rec.by)) {
      unverified.set(key, { key, by: rec.by, stroke: unattributed(raws[i] as object, rec) });
    }
  }
  return {
    strokes: strokes.length > MAX_STROKES ? strokes.slice(strokes.length - MAX_STROKES) : strokes,
    unverified: [...unverified.values()],
    recorded,
  };
}

/** Parsed live entries by their Y.Map, kept while it has the same fields and as many coordinates. */
const parsedLive = new WeakMap<Y.Map<unknown>, { by: unknown; colour: unknown; width: unknown; coords: unknown; length: number; value: LiveStroke | null }>();

function readLiveEntry(id: string, m: unknown): LiveStroke | null {
  if (!(m instanceof Y.Map) || !isId(id)) return null;
  const by = m.get('by');
  const colour = m.get('colour');
  const width = m.get('width');
  const coords = m.get('coords');
  if (!(coords instanceof Y.Array)) return null;
  const length = coords.length;
  const cached = parsedLive.get(m);
  if (cached && cached.by === by && cached.colour === colour && cached.width === width && cached.coords === coords && cached.length === length) {
    return cached.value;
  }
  let value: LiveStroke | null = null;
  if (isId(by) && isColour(colour) && isWidth(width) && length <= MAX_STROKE_COORDS) {
    const pts = coords.toArray();
    if (isPoints(pts)) {
      const stroke: Stroke = { id, byId: '', byName: '', colour, width, d: pathOf(pts as number[]), points: pts.length / 2, live: true };
      value = { key: strokeKey(by, id), by, stroke };
    }
  }
  parsedLive.set(m, { by, colour, width, coords, length, value });
  return value;
}

/** The strokes being drawn now (validated like finished ones), by stroke id. */
export function readLive(doc: Y.Doc): LiveStroke[] {
  const out: LiveStroke[] = [];
  liveOf(doc).forEach((m, id) => {
    const s = readLiveEntry(id, m);
    if (s) out.push(s);
  });
  return out.sort((a, b) => (a.stroke.id < b.stroke.id ? -1 : a.stroke.id > b.stroke.id ? 1 : 0));
}

/**
 * What the surface shows: the finished strokes, then the strokes being drawn by participants who are
 * here (`present`: verified presence, and oneself), each stroke id once, at most MAX_LIVE_STROKES.
 */
export function visibleStrokes(view: DrawingView, live: readonly LiveStroke[], present: ReadonlySet<string>): Stroke[] {
  const extra: Stroke[] = [];
  const ids = new Set<string>();
  for (const l of [...view.unverified, ...live.filter((l) => !view.recorded.has(l.key))]) {
    if (extra.length >= MAX_LIVE_STROKES) break;
    if (!present.has(l.by) || ids.has(l.stroke.id)) continue;
    ids.add(l.stroke.id);
    extra.push(l.stroke);
  }
  return extra.length === 0 ? view.strokes : [...view.strokes, ...extra];
}

/** Finished strokes and, for participants in `present`, the strokes being drawn. */
export function readStrokes(doc: Y.Doc, auth: Authorship, present: ReadonlySet<string> = new Set()): Stroke[] {
  return visibleStrokes(readDrawing(doc, auth), readLive(doc), present);
}

// ------------------------------------------------------------------------------------ writing

/** A stroke this tab is drawing: its points are kept here too, and the signed record is made from them. */
export interface StrokeInProgress {
  readonly id: string;
  readonly by: string;
  readonly colour: string;
  readonly width: number;
  /** The points so far (what the record will hold, whatever happens to the live entry meanwhile). */
  readonly pts: number[];
  readonly entry: Y.Map<unknown>;
}

/** Starts a stroke at a point: a live entry the others see as it grows. */
export function beginStroke(doc: Y.Doc, by: string, style: { colour: string; width: number }, at: { x: number; y: number }, id: string): StrokeInProgress {
  const pts = [clampX(at.x), clampY(at.y)];
  const entry = new Y.Map<unknown>();
  const coords = new Y.Array<number>();
  coords.push(pts);
  doc.transact(() => {
    entry.set('by', by);
    entry.set('colour', style.colour);
    entry.set('width', style.width);
    entry.set('coords', coords);
    liveOf(doc).set(id, entry);
  });
  return { id, by, colour: style.colour, width: style.width, pts, entry };
}

/** Appends points to a stroke being drawn (one transaction: one update for the peers). */
export function extendStroke(stroke: StrokeInProgress, points: { x: number; y: number }[]): void {
  const room = Math.floor((MAX_STROKE_COORDS - stroke.pts.length) / 2);
  if (room <= 0 || points.length === 0) return;
  const flat = points.slice(0, room).flatMap((p) => [clampX(p.x), clampY(p.y)]);
  stroke.pts.push(...flat);
  const coords = stroke.entry.get('coords');
  // A live entry someone else replaced or removed: the record is made from our own points anyway.
  if (coords instanceof Y.Array) coords.push(flat);
}

/**
 * For each author, the `at` of its last stroke with a verified record (every record, without `auth`:
 * a document only we wrote). What a clear hides, and what the next stroke's time must pass.
 */
function latestStrokes(doc: Y.Doc, auth: Authorship | undefined): Map<string, number> {
  const latest = new Map<string, number>();
  for (const raw of strokesOf(doc).toArray()) {
    const rec = recordOf(raw);
    if (rec?.t !== 'stroke' || rec.at <= (latest.get(rec.by) ?? -1)) continue;
    if (!auth || auth.check(rec.by, rec.sig, () => signedPart(rec), raw as object) === true) latest.set(rec.by, rec.at);
  }
  return latest;
}

/**
 * One more than the last stroke of `by` recorded here, and no earlier than now: grows per author.
 * Only verified strokes count: a forged record "of ours" with a huge time must not push our next
 * strokes past what readers accept.
 */
function nextAt(doc: Y.Doc, auth: Authorship | undefined, by: string, now: number): number {
  return Math.min(MAX_TIME, Math.max(now, (latestStrokes(doc, auth).get(by) ?? -1) + 1));
}

async function signed<R extends UnsignedRecord>(signer: Signer, unsigned: R): Promise<R & { sig: string }> {
  return { ...unsigned, sig: await signer.sign(signedPart(unsigned)) };
}

/**
 * Signs and appends a finished stroke (also how a seeded session is built). `auth`: the reader whose
 * verified strokes of ours set the next stroke's time; without it (a document only we wrote) all do.
 */
export async function appendStroke(
  doc: Y.Doc,
  signer: Signer,
  stroke: { id: string; colour: string; width: number; pts: readonly number[] },
  now: number,
  auth?: Authorship,
): Promise<DrawingRecord> {
  const at = nextAt(doc, auth, signer.participantId, now);
  const rec = await signed(signer, { t: 'stroke' as const, id: stroke.id, by: signer.participantId, colour: stroke.colour, width: stroke.width, pts: [...stroke.pts], at });
  strokesOf(doc).push([rec]);
  return rec;
}

/**
 * Finishes a stroke being drawn: signs its points and, in one transaction, appends the record and
 * removes the live entry (the others never see it twice nor miss it).
 */
export function finishStroke(doc: Y.Doc, signer: Signer, auth: Authorship, stroke: StrokeInProgress, now: number): Promise<void> {
  const at = nextAt(doc, auth, signer.participantId, now);
  // Signed at once, recorded after the strokes finished before it: signatures can come back in any
  // order, and a stroke drawn after another must lie above it.
  const signing = signed(signer, { t: 'stroke' as const, id: stroke.id, by: signer.participantId, colour: stroke.colour, width: stroke.width, pts: [...stroke.pts], at });
  const done = (finishing.get(doc) ?? Promise.resolve()).then(async () => {
    const rec = await signing;
    doc.transact(() => {
      strokesOf(doc).push([rec]);
      const live = liveOf(doc);
      if (live.has(stroke.id)) live.delete(stroke.id);
    });
  });
  finishing.set(doc, done.catch(() => {}));
  return done;
}

/** Per document, the last stroke being finished: the next is recorded after it (finishStroke). */
const finishing = new WeakMap<Y.Doc, Promise<void>>();

/** Removes a stroke being drawn without recording it (no signer to finish it with). */
export function dropStroke(doc: Y.Doc, stroke: StrokeInProgress): void {
  const live = liveOf(doc);
  if (live.get(stroke.id) === stroke.entry) live.delete(stroke.id);
}

/** C5 Undo: takes back this participant's last stroke shown; false when there is none. */
export async function undoLastStroke(doc: Y.Doc, auth: Authorship, signer: Signer, id: string = newId()): Promise<boolean> {
  const { strokes } = await auth.readSettled(() => readDrawing(doc, auth));
  const last = strokes.findLast((s) => s.byId === signer.participantId);
  if (!last) return false;
  strokesOf(doc).push([await signed(signer, { t: 'undo' as const, id, stroke: last.id, by: signer.participantId })]);
  return true;
}

/** C5 Clear drawing (the agent; others' clear records are ignored): hides every stroke recorded so far. */
export async function clearDrawing(doc: Y.Doc, auth: Authorship, signer: Signer, id: string = newId()): Promise<void> {
  const latest = await auth.readSettled(() => latestStrokes(doc, auth));
  const upTo = [...latest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, MAX_CLEAR_AUTHORS);
  strokesOf(doc).push([await signed(signer, { t: 'clear' as const, id, upTo, by: signer.participantId })]);
}
