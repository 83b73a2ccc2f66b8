// The floor of bench/signaling-capacity.mjs: a bare socket.io server, no Join Us code, with the
// product's engine options (signaling/server.ts: no served client, 64 KiB frames, no CORS), started
// the same way as the signaling node (plain node, NODE_ENV=production, its own process), so
// that what one idle connection costs the product can be read against what it costs socket.io itself.
// GET /healthz answers 200 once it listens. PORT and HOST from the environment.
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const httpServer = createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'text/plain' });
  res.end(req.url === '/healthz' ? 'ok\n' : 'not found\n');
});
const io = new Server(httpServer, { serveClient: false, maxHttpBufferSize: 64 * 1024, cors: { origin: false } });
io.on('connection', () => {});
httpServer.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    io.close();
    process.exit(0);
  });
}
