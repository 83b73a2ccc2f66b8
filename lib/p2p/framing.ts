/**
 * Data-channel framing. Chromium silently drops data-channel messages over ~256 KiB, so every
 * message is cut into chunks of at most CHUNK_BYTES; the first byte of each frame says whether more
 * follow. Channels are reliable and ordered, so reassembly needs no sequence numbers.
 */
export const CHUNK_BYTES = 16 * 1024;
const MORE = 1;
const LAST = 0;

export function* frames(message: Uint8Array, chunkBytes = CHUNK_BYTES): Generator<Uint8Array> {
  if (message.byteLength === 0) {
    yield Uint8Array.of(LAST);
    return;
  }
  for (let offset = 0; offset < message.byteLength; offset += chunkBytes) {
    const end = Math.min(offset + chunkBytes, message.byteLength);
    const frame = new Uint8Array(end - offset + 1);
    frame[0] = end === message.byteLength ? LAST : MORE;
    frame.set(message.subarray(offset, end), 1);
    yield frame;
  }
}

/** Reassembles frames from one peer. `maxBytes` bounds what a hostile peer can make us buffer. */
export class Reassembler {
  private parts: Uint8Array[] = [];
  private size = 0;

  constructor(private readonly maxBytes: number) {}

  /** Bytes of a message whose last frame has not arrived yet (progress of a large transfer). */
  get pendingBytes(): number {
    return this.size;
  }

  /** Returns the whole message when its last frame arrives, otherwise null. Throws on abuse. */
  push(frame: Uint8Array): Uint8Array | null {
    if (frame.byteLength === 0) throw new Error('empty frame');
    const flag = frame[0];
    if (flag !== MORE && flag !== LAST) throw new Error('bad frame flag');
    const body = frame.subarray(1);
    this.size += body.byteLength;
    if (this.size > this.maxBytes) throw new Error('message too large');
    this.parts.push(body);
    if (flag === MORE) return null;
    const parts = this.parts;
    const size = this.size;
    this.parts = [];
    this.size = 0;
    if (parts.length === 1) return parts[0]!;
    const out = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }
}
