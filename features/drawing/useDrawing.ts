'use client';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { z } from 'zod';
import type * as Y from 'yjs';
import type { SessionConnection, SessionSnapshot } from '../../lib/client/session-connection';
import { newId } from '../../lib/collab/ids';
import { useAwareness } from '../../lib/collab/use-awareness';
import { useDocPart } from '../../lib/collab/use-doc-part';
import { beginStroke, clearDrawing, extendStroke, readStrokes, strokesOf, STROKE_WIDTHS, SURFACE_H, SURFACE_W, undoLastStroke, type Stroke } from './doc';

/** Pointer updates sent at most this often: smooth to the eye, light on the wire. */
export const POINTER_INTERVAL_MS = 50;

export interface RemotePointer {
  clientId: number;
  participantId: string;
  name: string;
  x: number;
  y: number;
}

const pointerSchema = z.object({
  participantId: z.string().max(64),
  name: z.string().max(80),
  pointer: z.object({ x: z.number().int().min(0).max(SURFACE_W), y: z.number().int().min(0).max(SURFACE_H) }),
});

function projectPointers(states: Map<number, Record<string, unknown>>, self: number): RemotePointer[] {
  const out: RemotePointer[] = [];
  for (const [clientId, raw] of states) {
    if (clientId === self) continue;
    const p = pointerSchema.safeParse(raw);
    if (p.success) out.push({ clientId, participantId: p.data.participantId, name: p.data.name, ...p.data.pointer });
  }
  return out.sort((a, b) => a.clientId - b.clientId);
}
const pointersKey = (p: RemotePointer[]) => p.map((x) => `${x.clientId}:${x.x},${x.y}`).join('|');

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
  const strokes = useDocPart(conn, strokesOf, readStrokes);
  const pointers = useAwareness(conn, projectPointers, pointersKey);
  const [drawing, setDrawing] = useState(false);
  const [width, setWidth] = useState<number>(STROKE_WIDTHS[1]);
  const me = snap.me;

  // The stroke being drawn, and points not yet written (written once per animation frame).
  const current = useRef<{ stroke: Y.Map<unknown>; pending: { x: number; y: number }[]; frame: number | null } | null>(null);
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

  const end = useCallback(() => {
    const c = current.current;
    if (!c) return;
    if (c.frame !== null) cancelAnimationFrame(c.frame);
    flush();
    current.current = null;
  }, [flush]);

  useEffect(
    () => () => {
      end();
      if (pointerTimer.current) clearTimeout(pointerTimer.current);
    },
    [end],
  );

  const onPointerDown = useCallback(
    (e: React.PointerEvent<HTMLElement>) => {
      if (!drawing || !me || e.button !== 0) return;
      e.preventDefault();
      e.currentTarget.setPointerCapture?.(e.pointerId);
      current.current = { stroke: beginStroke(conn.doc, me, { colour, width }, toSurface(e), newId()), pending: [], frame: null };
    },
    [conn, drawing, me, colour, width],
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

  const mine = me?.participantId;
  const canUndo = useMemo(() => !!mine && strokes.some((s) => s.byId === mine), [strokes, mine]);
  const undo = useCallback(() => {
    if (mine) undoLastStroke(conn.doc, mine);
  }, [conn, mine]);
  const clear = useCallback(() => {
    if (!me || me.role !== 'agent') return false;
    clearDrawing(conn.doc);
    conn.note(`${me.name} cleared the drawing`, 'drawing_cleared');
    return true;
  }, [conn, me]);

  return { strokes, pointers, drawing, setDrawing, width, setWidth, canUndo, undo, clear, onPointerDown, onPointerMove, onPointerUp, onPointerLeave };
}
