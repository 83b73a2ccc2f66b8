/**
 * "14:05" in the reader's locale. One formatter for the page: `toLocaleTimeString` builds a new one
 * on every call, and a late joiner's transcript of hundreds of entries spent a third of a second on
 * that alone (measured with the CPU profiler in `npm run bench`'s large-session run).
 */
let formatter: Intl.DateTimeFormat | null = null;

export function clockTime(at: number): string {
  formatter ??= new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  return formatter.format(at);
}

/**
 * Make the formatter ahead of need: the first one a page makes loads the locale's data, tens of
 * milliseconds that would otherwise fall on the join's critical path (decision 0014).
 */
export function warmClockTime(): void {
  clockTime(Date.now());
}
