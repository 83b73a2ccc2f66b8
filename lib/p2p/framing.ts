/**
 * Data-channel framing. Chromium silently drops data-channel messages over ~256 KiB, so every
 * message is cut into chunks of at most CHUNK_BYTES; the first byte of each frame says whether more
 * follow, and whether the message travels deflated (decision 0018). Channels are reliable and
 * ordered, so reassembly needs no sequence numbers.
 */
import { Deflate, Inflate } from 'fflate';

export const CHUNK_BYTES = 16 * 1024;
const LAST = 0;
const MORE = 1;
/** Set on every frame of a deflated message (with MORE on all but its last). */
const DEFLATED = 2;

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

/**
 * Messages this large or larger go deflated to a neighbour that can inflate (decision 0018): a late
 * joiner's first sync, a pushed page. Chat messages, awareness and acknowledgements stay plain.
 */
export const DEFLATE_MIN_BYTES = 64 * 1024;
/** Input handed to the compressor at a time: each frame costs a few milliseconds, never a long task. */
const DEFLATE_INPUT_BYTES = 64 * 1024;

/**
 * The frames of `message` deflated (fflate, level 1), made as they are asked for: the compressor runs
 * a frame ahead of the channel, not all at once before the first frame goes.
 */
export function* deflatedFrames(message: Uint8Array, chunkBytes = CHUNK_BYTES): Generator<Uint8Array> {
  const out: Uint8Array[] = [];
  let outBytes = 0;
  const deflate = new Deflate({ level: 1 }, (data) => {
    if (data.byteLength === 0) return;
    out.push(data);
    outBytes += data.byteLength;
  });
  /** One frame of `bytes` (≤ outBytes) from the front of the output. */
  const take = (bytes: number, flag: number): Uint8Array => {
    const frame = new Uint8Array(bytes + 1);
    frame[0] = flag;
    let at = 1;
    while (at <= bytes) {
      const head = out[0]!;
      const n = Math.min(head.byteLength, bytes + 1 - at);
      frame.set(head.subarray(0, n), at);
      at += n;
      if (n === head.byteLength) out.shift();
      else out[0] = head.subarray(n);
    }
    outBytes -= bytes;
    return frame;
  };
  let offset = 0;
  while (offset < message.byteLength) {
    const end = Math.min(offset + DEFLATE_INPUT_BYTES, message.byteLength);
    deflate.push(message.subarray(offset, end), end === message.byteLength);
    offset = end;
    // A full frame goes only while more output is sure to follow (the last frame says LAST).
    while (outBytes > chunkBytes || (outBytes === chunkBytes && offset < message.byteLength)) yield take(chunkBytes, DEFLATED | MORE);
  }
  yield take(outBytes, DEFLATED | LAST);
}

/** Reassembles frames from one peer. `maxBytes` bounds what a hostile peer can make us buffer. */
export class Reassembler {
  private parts: Uint8Array[] = [];
  private size = 0;
  /** The message under way: null between messages. */
  private mode: 'plain' | Inflate | null = null;

  constructor(private readonly maxBytes: number) {}

  /** Bytes of a message whose last frame has not arrived yet (progress of a large transfer), inflated. */
  get pendingBytes(): number {
    return this.size;
  }

  /** Returns the whole message when its last frame arrives, otherwise null. Throws on abuse. */
  push(frame: Uint8Array): Uint8Array | null {
    if (frame.byteLength === 0) throw new Error('empty frame');
    const flag = frame[0]!;
    if ((flag & ~(MORE | DEFLATED)) !== 0) throw new Error('bad frame flag');
    const more = (flag & MORE) !== 0;
    const deflated = (flag & DEFLATED) !== 0;
    const body = frame.subarray(1);
    this.mode ??= deflated ? this.inflater() : 'plain';
    if (deflated !== (this.mode !== 'plain')) throw new Error('mixed frames in one message');
    if (this.mode === 'plain') this.add(body);
    // fflate throws on a corrupt stream, and on one cut short (its last frame does not end it).
    else this.mode.push(body, !more);
    if (more) return null;
    const parts = this.parts;
    const size = this.size;
    this.parts = [];
    this.size = 0;
    this.mode = null;
    if (parts.length === 1) return parts[0]!;
    const out = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }

  private add(part: Uint8Array): void {
    this.size += part.byteLength;
    // Inflated bytes count: a small deflated frame may stand for up to ~1,000 times its size.
    if (this.size > this.maxBytes) throw new Error('message too large');
    this.parts.push(part);
  }

  private inflater(): Inflate {
    return new Inflate((data) => {
      if (data.byteLength > 0) this.add(data);
    });
  }
}
