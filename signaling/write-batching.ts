/**
 * One write per connection per tick (issue 11). engine.io writes each packet as soon as it is sent:
 * one WebSocket frame, one system call (`writev`) each, and on loopback or a LAN that call is most of
 * what a small message costs. A handle reserved is two messages to the same agent, written within
 * the same tick: the `handles:update` of its console and the answer. Here a connection's first packet
 * of a tick only schedules the flush for the end of that tick (`process.nextTick`, which runs once the
 * microtasks in which the handlers and their effects run are done), and the frames of that flush are
 * written with the socket corked: one system call, and one read on the other side.
 *
 * Nothing else changes: the packets keep engine.io's order (its write buffer), none waits longer than
 * the current tick, and engine.io's own flow control (it sends the next batch once the last one is
 * written) and its closing (it waits for the buffer to drain) are untouched, since the deferred flush
 * is engine.io's own. A connection on the polling transport is only deferred (nothing to cork).
 *
 * What it reaches into: engine.io's `Socket#flush` (private in its types) and, for the cork, the
 * WebSocket transport's `ws` socket and that one's TCP socket (`_socket`, private in ws). Should a
 * version of either no longer have them, connections are left as they are, or written uncorked.
 */
import type { Socket as EngineSocket } from 'engine.io';

const batched = Symbol('joinus.batchWritesPerTick');

/** The parts of engine.io's socket this reaches into. */
interface Flushable {
  flush: () => void;
  writeBuffer?: unknown[];
  transport?: { name?: string; socket?: { _socket?: Corkable } };
}

interface Corkable {
  cork(): void;
  uncork(): void;
}

const corkable = (s: unknown): s is Corkable =>
  typeof (s as Corkable | undefined)?.cork === 'function' && typeof (s as Corkable | undefined)?.uncork === 'function';

/** Makes every packet written to `conn` within one tick go out in one write. Idempotent. */
export function batchWritesPerTick(conn: EngineSocket): void {
  const socket = conn as unknown as Flushable & { [batched]?: true };
  if (typeof socket.flush !== 'function' || socket[batched]) return;
  socket[batched] = true;
  const flushNow = socket.flush.bind(socket);
  let scheduled = false;
  const flushAtEndOfTick = () => {
    scheduled = false;
    const transport = socket.transport;
    const tcp = transport?.name === 'websocket' ? transport.socket?._socket : undefined;
    if (!corkable(tcp)) return flushNow();
    tcp.cork();
    try {
      flushNow();
    } finally {
      tcp.uncork();
    }
  };
  socket.flush = () => {
    // Called again each time a write completes: with nothing buffered there is nothing to schedule.
    if (scheduled || socket.writeBuffer?.length === 0) return;
    scheduled = true;
    process.nextTick(flushAtEndOfTick);
  };
}
