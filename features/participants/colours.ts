/**
 * C5: each participant's colour (pointer, strokes, the swatch in "Participants"): by order of joining,
 * so every peer works out the same colours from the shared participant list, and the first eight
 * people never share one. Chosen to be told apart on white and by most colour-blind people.
 */
export const palette = [
  { name: 'Blue', hex: '#1f5eff' },
  { name: 'Orange', hex: '#e66100' },
  { name: 'Green', hex: '#1a8a4a' },
  { name: 'Purple', hex: '#7b3fe4' },
  { name: 'Red', hex: '#c42b2b' },
  { name: 'Teal', hex: '#00838f' },
  { name: 'Brown', hex: '#8d5524' },
  { name: 'Pink', hex: '#c2185b' },
] as const;

export type Colour = (typeof palette)[number];

/** The colour of the participant at `index` in joining order. */
export const colourAt = (index: number): Colour => palette[((index % palette.length) + palette.length) % palette.length]!;

export const isPaletteHex = (hex: string) => palette.some((c) => c.hex === hex);
