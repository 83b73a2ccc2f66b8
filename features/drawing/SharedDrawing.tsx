'use client';
/**
 * C5: region "Shared drawing": freehand strokes (button "Draw"), each participant's live pointer with
 * its name, "Undo" of one's own last stroke, "Clear drawing" for the agent. The surface keeps a 4:3
 * shape at every width, so a stroke lands on the same spot on a phone and on a desktop.
 */
import { memo, useDeferredValue } from 'react';
import { STROKE_WIDTHS, SURFACE_H, SURFACE_W, type Stroke } from './doc';
import type { DrawingState } from './useDrawing';

const widthNames: Record<number, string> = { [STROKE_WIDTHS[0]]: 'Thin', [STROKE_WIDTHS[1]]: 'Medium', [STROKE_WIDTHS[2]]: 'Thick' };

const StrokePath = memo(function StrokePath({ stroke }: { stroke: Stroke }) {
  return (
    <path d={stroke.d} stroke={stroke.colour} strokeWidth={stroke.width} fill="none" strokeLinecap="round" strokeLinejoin="round">
      {/* A stroke being drawn is nobody's word yet: no name until its signed record verifies. */}
      <title>{stroke.live ? 'Stroke being drawn' : `Stroke by ${stroke.byName}`}</title>
    </path>
  );
});

export function SharedDrawing({
  state,
  isAgent,
  myColour,
  colourOf,
  disabled,
}: {
  state: DrawingState;
  isAgent: boolean;
  myColour: { name: string; hex: string };
  colourOf: (participantId: string) => string;
  disabled: boolean;
}) {
  const { pointers, drawing } = state;
  // Thousands of strokes arriving at once (a late joiner) render in the background, in slices.
  const strokes = useDeferredValue(state.strokes);
  return (
    <section className="card stack drawing" aria-label="Shared drawing">
      <h3 style={{ margin: 0 }}>Shared drawing</h3>
      <div className="row drawing-tools">
        <button
          type="button"
          className={drawing ? '' : 'secondary'}
          aria-pressed={drawing}
          disabled={disabled}
          onClick={() => state.setDrawing(!drawing)}
        >
          <span className="swatch" style={{ background: myColour.hex }} aria-hidden="true" /> Draw
        </button>
        <select aria-label="Line width" value={state.width} onChange={(e) => state.setWidth(Number(e.target.value))} style={{ width: 'auto' }}>
          {STROKE_WIDTHS.map((w) => (
            <option key={w} value={w}>
              {widthNames[w]}
            </option>
          ))}
        </select>
        <button type="button" className="secondary" disabled={disabled || !state.canUndo} onClick={state.undo}>
          Undo
        </button>
        {isAgent ? (
          <button type="button" className="secondary" disabled={disabled || strokes.length === 0} onClick={() => state.clear()}>
            Clear drawing
          </button>
        ) : null}
      </div>
      <div
        className={`drawing-surface${drawing ? ' drawing-on' : ''}`}
        onPointerDown={disabled ? undefined : state.onPointerDown}
        onPointerMove={disabled ? undefined : state.onPointerMove}
        onPointerUp={state.onPointerUp}
        onPointerCancel={state.onPointerUp}
        onPointerLeave={state.onPointerLeave}
        data-testid="drawing-surface"
      >
        <svg viewBox={`0 0 ${SURFACE_W} ${SURFACE_H}`} role="img" aria-label={`Drawing: ${strokes.length} stroke${strokes.length === 1 ? '' : 's'}`}>
          {strokes.map((s) => (
            <StrokePath key={s.live ? `live:${s.id}` : `${s.byId}:${s.id}`} stroke={s} />
          ))}
        </svg>
        {pointers.map((p) => (
          <div
            key={p.clientId}
            className="remote-pointer"
            style={{ left: `${(p.x / SURFACE_W) * 100}%`, top: `${(p.y / SURFACE_H) * 100}%`, color: colourOf(p.participantId) }}
            aria-label={`${p.name}'s pointer`}
            role="img"
          >
            <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
              <path d="M1 1 L1 13 L5 9.5 L8 15 L10 14 L7.2 8.6 L12 8.6 Z" fill="currentColor" stroke="#fff" strokeWidth="1" />
            </svg>
            <span className="pointer-name" style={{ background: colourOf(p.participantId) }}>
              {p.name}
            </span>
          </div>
        ))}
        {strokes.length === 0 && pointers.length === 0 ? (
          <p className="drawing-empty">{drawing ? 'Draw here.' : 'Press Draw, then draw here. Everyone sees it as you draw.'}</p>
        ) : null}
      </div>
    </section>
  );
}
