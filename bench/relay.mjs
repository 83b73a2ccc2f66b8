// The bench's stand-in for our signaling server, for provider-level runs: a socket.io relay that
// admits anyone (the product server authenticates; that is not what these numbers measure), answers
// `join` with the peers already in the room and relays `signal` messages peer to peer, the same
// shape as the product's session:attach / peer:joined / signal:send / signal:recv.
import { Server } from 'socket.io';

export function attachRelay(httpServer) {
  const io = new Server(httpServer, { serveClient: false, cors: { origin: false } });
  /** socket id → { name, block: names it must never reach } (fan-out runs with a blocked pair). */
  const who = new Map();
  const blocked = (a, b) => {
    const x = who.get(a);
    const y = who.get(b);
    return !!x && !!y && (x.block.includes(y.name) || y.block.includes(x.name));
  };
  io.on('connection', (socket) => {
    let room = null;
    socket.on('join', (payload, ack) => {
      if (room || typeof ack !== 'function' || typeof payload?.room !== 'string') return;
      room = `room:${payload.room}`;
      who.set(socket.id, { name: String(payload.name ?? socket.id), block: Array.isArray(payload.block) ? payload.block.map(String) : [] });
      const peers = [...(io.of('/').adapter.rooms.get(room) ?? [])];
      socket.join(room);
      socket.to(room).emit('peer:joined', { peerId: socket.id });
      ack({ peerId: socket.id, peers });
    });
    socket.on('signal', (payload, ack) => {
      if (typeof ack === 'function') ack({ ok: true });
      if (!room || typeof payload?.to !== 'string') return;
      // As if the two could never reach each other: every attempt between them fails.
      if (blocked(socket.id, payload.to)) return;
      io.to(payload.to).emit('signal', { from: socket.id, data: payload.data });
    });
    socket.on('disconnect', () => {
      who.delete(socket.id);
      if (room) io.to(room).emit('peer:left', { peerId: socket.id });
    });
  });
  return io;
}
