/** Injected time and randomness: the rules never read the wall clock or Math.random themselves. */
export interface Clock {
  now(): number;
}

export type RandomBytes = (n: number) => Uint8Array;

export const systemClock: Clock = { now: () => Date.now() };

/** A clock a test moves by hand. */
export class FakeClock implements Clock {
  constructor(private ms = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}
