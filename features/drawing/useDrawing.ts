'use client';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import * as z from '../../lib/zod';
import type { Authorship, Signer } from '../../lib/collab/authorship';
import type { SessionConnection, SessionSnapshot } from '../../lib/client/session-connection';
import { newId } from '../../lib/collab/ids';
import { useAwareness } from '../../lib/collab/use-awareness';
import { useDocPart } from '../../lib/collab/use-doc-part';
import { verifiedPresence } from '../participants/doc';
import {
  beginStroke,
  clearDrawing,
  dropStroke,
  extendStroke,
  finishStroke,
  liveOf,
  readDrawing,
  readLive,
  strokesOf,
  STROKE_WIDTHS,
  SURFACE_H,
  SURFACE_W,
  undoLastStroke,
  visibleStrokes,
  type Stroke,
  type StrokeInProgress,
} from './doc';
import type * as Y from 'yjs';

/** Pointer updates sent at most this often: smooth to the eye, light on the wire. */
export const POINTER_INTERVAL_MS = 50;

export interface RemotePointer {
  clientId: number;
  participantId: string;
  /** From the directory (the peer's presence is verified), never from its awareness state. */
  name: string;
  x: number;
  y: number;
}

const pointerSchema = z.object({ x: z.number().int().min(0).max(SURFACE_W), y: z.number().int().min(0).max(SURFACE_H) });

function projectPointers(states: Map<number, Record<string, unknown>>, self: number, auth: Authorship): RemotePointer[] {
  const out: RemotePointer[] = [];
  for (const peer of verifiedPresence(states, self, auth)) {
    const p = pointerSchema.safeParse(peer.state.pointer);
    if (p.success) out.push({ clientId: peer.clientId, participantId: peer.participantId, name: peer.name, ...p.data });
  }
  return out.sort((a, b) => a.clientId - b.clientId);
}
const pointersKey = (p: RemotePointer[]) => p.map((x) => `${x.clientId}:${x.participantId}:${x.name}:${x.x},${x.y}`).join('|');

/** Who is here (verified presence): only their strokes being drawn are shown. */
function projectPresent(states: Map<number, Record<string, unknown>>, self: number, auth: Authorship): string[] {
  return [...new Set(verifiedPresence(states, self, auth).map((p) => p.participantId))].sort();
}
const presentKey = (ids: string[]) => ids.join('\n');

const readLivePart = (doc: Y.Doc) => readLive(doc);

export interface DrawingState {
  strokes: Stroke[];
  pointers: RemotePointer[];
  drawing: boolean;
  setDrawing: (on: boolean) => void;
  width: number;
  setWidth: (w: number) => void;
  canUndo: boolean;
  undo: () => void;
  clear: () => boolean;
  /** Surface coordinates of a pointer event on `el`. */
  onPointerDown: (e: React.PointerEvent<HTMLElement>) => void;
  onPointerMove: (e: React.PointerEvent<HTMLElement>) => void;
  onPointerUp: (e: React.PointerEvent<HTMLElement>) => void;
  onPointerLeave: () => void;
}

function toSurface(e: React.PointerEvent<HTMLElement>): { x: number; y: number } {
  const r = e.currentTarget.getBoundingClientRect();
  return {
    x: Math.round(((e.clientX - r.left) / Math.max(r.width, 1)) * SURFACE_W),
    y: Math.round(((e.clientY - r.top) / Math.max(r.height, 1)) * SURFACE_H),
  };
}

export function useDrawing(conn: SessionConnection, snap: SessionSnapshot, colour: string): DrawingState {
  const view = useDocPart(conn, strokesOf, readDrawing);
  // The strokes being drawn are a root of their own (drawn every animation frame, not signed).
  const live = useDocPart(conn, liveOf, readLivePart);
  const present = useAwareness(conn, projectPresent, presentKey);
  const pointers = useAwareness(conn, projectPointers, pointersKey);
  const [drawing, setDrawing] = useState(false);
  const [width, setWidth] = useState<number>(STROKE_WIDTHS[1]);
  const me = snap.me;
  const mine = me?.participantId;
  const strokes = useMemo(() => visibleStrokes(view, live, new Set(mine ? [...present, mine] : present)), [view, live, present, mine]);

  // The stroke being drawn, its signer, and points not yet written (written once per animation frame).
  const current = useRef<{ stroke: StrokeInProgress; signer: Signer; pending: { x: number; y: number }[]; frame: number | null } | null>(null);
  // Writes that sign (finishing a stroke, undo, clear) one after another, in the order they were asked:
  // an Undo pressed while the last stroke is being signed takes that stroke back.
  const writes = useRef<Promise<void>>(Promise.resolve());
  const enqueue = useCallback((write: () => Promise<void>) => {
    writes.current = writes.current.then(write).catch(() => {
      // Signing failed (the tab's key is gone): nothing written, the next write goes on.
    });
  }, []);
  // The pointer we last sent and when; a trailing send catches the last position.
  const pointerTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const lastSent = useRef(0);
  const nextPointer = useRef<{ x: number; y: number } | null>(null);

  const sendPointer = useCallback(() => {
    pointerTimer.current = null;
    lastSent.current = Date.now();
    conn.setActivity('pointer', nextPointer.current);
  }, [conn]);

  const queuePointer = useCallback(
    (p: { x: number; y: number } | null) => {
      nextPointer.current = p;
      if (p === null) {
        if (pointerTimer.current) clearTimeout(pointerTimer.current);
        sendPointer();
        return;
      }
      if (pointerTimer.current) return;
      const wait = Math.max(0, POINTER_INTERVAL_MS - (Date.now() - lastSent.current));
      pointerTimer.current = setTimeout(sendPointer, wait);
    },
    [sendPointer],
  );

  const flush = useCallback(() => {
    const c = current.current;
    if (!c) return;
    c.frame = null;
    if (c.pending.length > 0) {
      extendStroke(c.stroke, c.pending);
      c.pending = [];
    }
  }, []);

  /** Pointer up: every point written, then the stroke signed and recorded (after earlier writes). */
  const end = useCallback(() => {
    const c = current.current;
    if (!c) return;
    if (c.frame !== null) cancelAnimationFrame(c.frame);
    flush();
    current.current = null;
    const at = Date.now();
    enqueue(() => finishStroke(conn.doc, c.signer, conn.auth, c.stroke, at).catch((e: unknown) => {
      dropStroke(conn.doc, c.stroke);
      throw e;
    }));
  }, [conn, flush, enqueue]);

  useEffect(
    () => () => {
      end();
      if (pointerTimer.current) clearTimeout(pointerTimer.current);
    },
    [end],
  );

  const onPointerDown = useCallback(
    (e: React.PointerEvent<HTMLElement>) => {
      const signer = conn.signer;
      if (!drawing || !me || !signer || e.button !== 0) return;
      e.preventDefault();
      e.currentTarget.setPointerCapture?.(e.pointerId);
      // A stroke still being finished (signing) stays as it is; this one is a new one.
      end();
      current.current = { stroke: beginStroke(conn.doc, signer.participantId, { colour, width }, toSurface(e), newId()), signer, pending: [], frame: null };
    },
    [conn, drawing, me, colour, width, end],
  );

  const onPointerMove = useCallback(
    (e: React.PointerEvent<HTMLElement>) => {
      const p = toSurface(e);
      queuePointer(p);
      const c = current.current;
      if (!c) return;
      c.pending.push(p);
      if (c.frame === null) c.frame = requestAnimationFrame(flush);
    },
    [queuePointer, flush],
  );

  const onPointerUp = useCallback(() => end(), [end]);
  const onPointerLeave = useCallback(() => {
    if (!current.current) queuePointer(null);
  }, [queuePointer]);

  const canUndo = useMemo(() => !!mine && view.strokes.some((s) => s.byId === mine), [view, mine]);
  const undo = useCallback(() => {
    const signer = conn.signer;
    if (!signer) return;
    enqueue(async () => {
      await undoLastStroke(conn.doc, conn.auth, signer);
    });
  }, [conn, enqueue]);
  const clear = useCallback(() => {
    const signer = conn.signer;
    if (!me || me.role !== 'agent' || !signer) return false;
    enqueue(async () => {
      await clearDrawing(conn.doc, conn.auth, signer);
      await conn.note(`${me.name} cleared the drawing`, 'drawing_cleared');
    });
    return true;
  }, [conn, me, enqueue]);

  return { strokes, pointers, drawing, setDrawing, width, setWidth, canUndo, undo, clear, onPointerDown, onPointerMove, onPointerUp, onPointerLeave };
}
