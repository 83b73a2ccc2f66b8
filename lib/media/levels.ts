/**
 * C7: who is speaking. One AudioContext, an analyser per voice (one's own microphone and each remote
 * voice heard), read about twelve times a second. A voice counts as speaking from the first loud reading until
 * it has been quiet for a moment, so the mark does not flicker between syllables.
 */

/** RMS of the signal above which a voice counts as speaking (full scale is 1). */
const SPEAKING_RMS = 0.02;
/** A voice stays "speaking" this long after its last loud reading. */
const HOLD_MS = 600;
/**
 * Readings every 80 ms of the last 4,096 samples (85 ms at 48 kHz, 93 ms at 44.1 kHz): each reading
 * covers the whole time since the one before, so a short sound between two readings is never missed
 * (with a shorter window, a sound that repeats in step with the readings could fall between them
 * every time).
 */
const POLL_MS = 80;
const WINDOW_SAMPLES = 4096;

interface Tap {
  stream: MediaStream;
  source: MediaStreamAudioSourceNode;
  analyser: AnalyserNode;
  buffer: Float32Array<ArrayBuffer>;
  loudAt: number;
}

export class LevelMeter {
  private readonly taps = new Map<string, Tap>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private speaking = new Map<string, number>();
  private readonly listeners = new Set<() => void>();

  /** `context` is made by the caller inside a click (browsers start audio only after a gesture). */
  constructor(private readonly context: AudioContext) {}

  /** Measures `stream` under `id` (replacing what was measured there before, if another stream). */
  watch(id: string, stream: MediaStream): void {
    const had = this.taps.get(id);
    if (had?.stream === stream) return;
    if (had) this.unwatch(id);
    if (stream.getAudioTracks().length === 0) return;
    try {
      const source = this.context.createMediaStreamSource(stream);
      const analyser = this.context.createAnalyser();
      analyser.fftSize = WINDOW_SAMPLES;
      source.connect(analyser);
      this.taps.set(id, { stream, source, analyser, buffer: new Float32Array(analyser.fftSize), loudAt: Number.NEGATIVE_INFINITY });
    } catch {
      return; // a stream the context cannot read: no level for it, voice itself is unaffected
    }
    this.timer ??= setInterval(this.poll, POLL_MS);
  }

  unwatch(id: string): void {
    const tap = this.taps.get(id);
    if (!tap) return;
    tap.source.disconnect();
    this.taps.delete(id);
    if (this.speaking.has(id)) {
      this.speaking = new Map([...this.speaking].filter(([k]) => k !== id));
      this.emit();
    }
  }

  /** Ids measured now, to drop the ones no longer heard. */
  watched(): string[] {
    return [...this.taps.keys()];
  }

  /** id → level (0…1, a rough loudness) for the voices speaking now. */
  get current(): ReadonlyMap<string, number> {
    return this.speaking;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private emit(): void {
    for (const l of this.listeners) l();
  }

  private readonly poll = () => {
    const now = performance.now();
    const next = new Map<string, number>();
    for (const [id, tap] of this.taps) {
      tap.analyser.getFloatTimeDomainData(tap.buffer);
      let sum = 0;
      for (const v of tap.buffer) sum += v * v;
      const rms = Math.sqrt(sum / tap.buffer.length);
      if (rms >= SPEAKING_RMS) tap.loudAt = now;
      // Shown in five steps; a voice within its hold shows at least the first.
      if (now - tap.loudAt < HOLD_MS) next.set(id, Math.max(1, Math.min(5, Math.ceil(rms * 50))) / 5);
    }
    const same = next.size === this.speaking.size && [...next].every(([id, level]) => this.speaking.get(id) === level);
    if (same) return;
    this.speaking = next;
    this.emit();
  };

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const id of [...this.taps.keys()]) this.unwatch(id);
    this.listeners.clear();
    void this.context.close().catch(() => {});
  }
}
