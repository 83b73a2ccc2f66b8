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
  const deflate = new Deflate({ level: 1, dictionary: zeroWindow() }, (data) => {
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
  // Nothing to read: the stream's end alone.
  if (message.byteLength === 0) deflate.push(message, true);
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

/** How a deflated message is inflated: the browser's own DecompressionStream, or fflate. */
export type InflateWith = 'native' | 'fflate';

let nativeInflateSupported: boolean | null = null;

/**
 * The browser's DecompressionStream takes raw DEFLATE (every current browser: Chromium 103, Firefox
 * 113, Safari 16.4). It inflates in native code off the page's JavaScript, about five times faster
 * than fflate (decision 0018, "Later"); where it is missing, fflate does it.
 */
export function nativeInflate(): boolean {
  if (nativeInflateSupported === null) {
    try {
      // An unknown format throws at construction.
      new DecompressionStream('deflate-raw');
      nativeInflateSupported = true;
    } catch {
      nativeInflateSupported = false;
    }
  }
  return nativeInflateSupported;
}

/** One deflated message's stream, inflated into the reassembler's parts as it comes. */
interface Inflater {
  /** Its last frame resolves once everything is inflated (native) or returns at once (fflate). */
  push(body: Uint8Array, last: boolean): Promise<void> | void;
  /** Set once the stream has failed (corrupt, too large): the message is lost. */
  readonly failed: unknown;
}

class FflateInflater implements Inflater {
  readonly failed = null;
  private readonly inflate: Inflate;

  constructor(add: (part: Uint8Array) => void) {
    this.inflate = new Inflate({ dictionary: zeroWindow() }, (data) => {
      if (data.byteLength > 0) add(data);
    });
  }

  push(body: Uint8Array, last: boolean): void {
    // fflate throws on a corrupt stream, and on one cut short (its last frame does not end it).
    this.inflate.push(body, last);
  }
}

/**
 * Both ends of a deflated message take 32 KiB of zeros as its preset dictionary (RFC 1951's window
 * before the data). fflate's streaming Deflate (0.8.3) refers back into the zeros its window starts
 * with even without one (fflate issues #260, #261), which neither fflate's Inflate nor a standard
 * inflater accepts; about one zero-heavy message in thirty did it. With the zeros as the dictionary
 * every such reference is sound, for fflate and for the browser's DecompressionStream alike, and a
 * stream made without a dictionary inflates the same with it.
 */
const ZERO_WINDOW_BYTES = 32 * 1024;
let zeros: Uint8Array<ArrayBuffer> | null = null;
function zeroWindow(): Uint8Array<ArrayBuffer> {
  zeros ??= new Uint8Array(ZERO_WINDOW_BYTES);
  return zeros;
}

let zeroBlock: Uint8Array<ArrayBuffer> | null = null;
/** The dictionary for a DecompressionStream, which takes none: a stored block of the zeros, dropped from its output. */
function zeroWindowBlock(): Uint8Array<ArrayBuffer> {
  if (!zeroBlock) {
    // BFINAL 0, BTYPE 00 (stored), padded to the byte; LEN and NLEN, little-endian; the bytes.
    zeroBlock = new Uint8Array(5 + ZERO_WINDOW_BYTES);
    zeroBlock.set([0x00, ZERO_WINDOW_BYTES & 0xff, ZERO_WINDOW_BYTES >> 8, ~ZERO_WINDOW_BYTES & 0xff, (~ZERO_WINDOW_BYTES >> 8) & 0xff]);
  }
  return zeroBlock;
}

class NativeInflater implements Inflater {
  failed: unknown = null;
  private readonly writer: WritableStreamDefaultWriter<BufferSource>;
  private readonly done: Promise<void>;

  constructor(add: (part: Uint8Array) => void) {
    const stream = new DecompressionStream('deflate-raw');
    this.writer = stream.writable.getWriter();
    const reader = stream.readable.getReader();
    this.writer.write(zeroWindowBlock()).catch(() => undefined);
    this.done = (async () => {
      let skip = ZERO_WINDOW_BYTES;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          if (skip >= value.byteLength) {
            skip -= value.byteLength;
            continue;
          }
          add(skip > 0 ? value.subarray(skip) : value);
          skip = 0;
        }
      } catch (err) {
        // Corrupt, cut short (the stream throws at its end), or past the cap (`add` throws).
        this.failed = err;
        void reader.cancel().catch(() => undefined);
        throw err;
      }
    })();
    // Seen by the last frame; until then a failure shows in `failed`.
    this.done.catch(() => undefined);
  }

  push(body: Uint8Array, last: boolean): Promise<void> | void {
    // The stream reads the bytes before the write resolves; its errors come out of the reader.
    this.writer.write(body as Uint8Array<ArrayBuffer>).catch(() => undefined);
    if (!last) return;
    this.writer.close().catch(() => undefined);
    return this.done;
  }
}

/** Reassembles frames from one peer. `maxBytes` bounds what a hostile peer can make us buffer. */
export class Reassembler {
  private parts: Uint8Array[] = [];
  private size = 0;
  /** The message under way: null between messages. */
  private mode: 'plain' | Inflater | null = null;
  /** A deflated message's last frame has come and it is still being inflated. */
  private inflating = false;

  constructor(
    private readonly maxBytes: number,
    private readonly inflateWith: InflateWith = 'fflate',
  ) {}

  /** Bytes of a message whose last frame has not arrived yet (progress of a large transfer), inflated. */
  get pendingBytes(): number {
    return this.size;
  }

  /**
   * The whole message when its last frame arrives, otherwise null; a promise of it when it is
   * still being inflated natively, and no frame may come until it settles. Throws (or rejects) on abuse.
   */
  push(frame: Uint8Array): Uint8Array | Promise<Uint8Array> | null {
    if (this.inflating) throw new Error('a frame before the last message was inflated');
    if (frame.byteLength === 0) throw new Error('empty frame');
    const flag = frame[0]!;
    if ((flag & ~(MORE | DEFLATED)) !== 0) throw new Error('bad frame flag');
    const more = (flag & MORE) !== 0;
    const deflated = (flag & DEFLATED) !== 0;
    const body = frame.subarray(1);
    this.mode ??= deflated ? this.inflater() : 'plain';
    if (deflated !== (this.mode !== 'plain')) throw new Error('mixed frames in one message');
    if (this.mode === 'plain') this.add(body);
    else {
      if (this.mode.failed) throw this.mode.failed;
      const inflated = this.mode.push(body, !more);
      if (inflated) {
        this.inflating = true;
        return inflated.then(
          () => this.finish(),
          (err: unknown) => {
            this.finish();
            throw err;
          },
        );
      }
    }
    return more ? null : this.finish();
  }

  private finish(): Uint8Array {
    const parts = this.parts;
    const size = this.size;
    this.parts = [];
    this.size = 0;
    this.mode = null;
    this.inflating = false;
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

  private inflater(): Inflater {
    const add = (part: Uint8Array) => this.add(part);
    return this.inflateWith === 'native' ? new NativeInflater(add) : new FflateInflater(add);
  }
}
