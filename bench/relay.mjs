// The bench's stand-in for our signaling server, for provider-level runs: a socket.io relay that
// admits anyone (the product server authenticates; that is not what these numbers measure), answers
// `join` with the peers already in the room and relays `signal` messages peer to peer, the same
// shape as the product's session:attach / peer:joined / signal:send / signal:recv.
import { Server } from 'socket.io';

export function attachRelay(httpServer) {
  const io = new Server(httpServer, { serveClient: false, cors: { origin: false } });
  io.on('connection', (socket) => {
    let room = null;
    socket.on('join', (payload, ack) => {
      if (room || typeof ack !== 'function' || typeof payload?.room !== 'string') return;
      room = `room:${payload.room}`;
      const peers = [...(io.of('/').adapter.rooms.get(room) ?? [])];
      socket.join(room);
      socket.to(room).emit('peer:joined', { peerId: socket.id });
      ack({ peerId: socket.id, peers });
    });
    socket.on('signal', (payload) => {
      if (!room || typeof payload?.to !== 'string') return;
      io.to(payload.to).emit('signal', { from: socket.id, data: payload.data });
    });
    socket.on('disconnect', () => {
      if (room) io.to(room).emit('peer:left', { peerId: socket.id });
    });
  });
  return io;
}
