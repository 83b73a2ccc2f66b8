#!/usr/bin/env node
// Signaling capacity (issue 11; PRODUCT.md "Quality bars": the signaling server holds tens of
// thousands of idle connections per process). The real signaling node alone in its own process
// (signaling/main.ts compiled and run by plain node as `npm run signaling` does, NODE_ENV=production,
// LOG_LEVEL=warn), its clients in child
// processes (bench/capacity-worker.mjs; the open-file limit is per process), every socket a
// socket.io-client with the pages' transport (websocket only) on a loopback address of its own.
//
//   1. Idle connections, memory store: the node holds 5,000, then 10,000, then 15,000 idle sockets,
//      by default admitted participants of live sessions made through the real API (agent consoles,
//      customers, joined parties; BENCH_CAPACITY_IDLE=plain: sockets that did nothing). At each
//      level, once every socket is connected and every one has had a heartbeat (ping/pong) since,
//      which takes one ping interval of the server's (read from the handshake): the server's RSS
//      (VmRSS, raw and after a full GC asked through the inspector) and per connection against the
//      same figure at zero connections after a warm-up; its CPU over that heartbeat window
//      (/proc/<pid>/stat); disconnects the clients saw (must be 0); and joins made meanwhile: an
//      agent reserves a handle, a fresh socket connects, logs in with it and attaches (target ≤ 50 ms).
//   2. The floor: a bare socket.io server (bench/capacity-bare-server.mjs, same options and start)
//      holding plain idle sockets the same way, so the per-connection figure reads against
//      socket.io's own.
//   3. Handle cycles through the real API: lanes of (agent console with a live session, guest
//      socket) in two client processes; each lane reserves a fresh handle and logs in with it, back
//      to back, for a window after a warm-up; every log-in must admit the guest. Memory store
//      (target ≥ 5,000/s) and, with `redis`, a node on a redis-server of its own (target ≥ 2,000/s).
//      The server's limits are kept, not turned off: 200 events a second per connection (so many
//      lanes), one password check per address twice at most (so a sign-in pool of two), H8's failure
//      counts (every log-in is counted as a failure until it succeeds: at most 100 in flight
//      server-wide, so lanes stay below that).
//
// Alone: `npm run bench:capacity` prints the rows and merges `signalingCapacity` into
// .bench/results.json; bench/run.mjs may call measureSignalingCapacity and capacityRows. Run it
// under `nice` on a shared machine. Environment (all optional):
//   BENCH_CAPACITY_LEVELS      idle connections per level (default 5000,10000,15000)
//   BENCH_CAPACITY_PER_CHILD   idle sockets per client process (default 5000)
//   BENCH_CAPACITY_IDLE        participants | plain (default participants)
//   BENCH_CAPACITY_FLOOR_AT    idle sockets on the bare socket.io server (default the first level; 0: skip)
//   BENCH_CAPACITY_JOINS       joins measured per level (default 40)
//   BENCH_CAPACITY_CYCLE_MS    the cycle window (default 10000), BENCH_CAPACITY_WARMUP_MS (default 2000)
//   BENCH_CAPACITY_LANES       cycle lanes in all (default 64), BENCH_CAPACITY_CYCLE_WORKERS (default 2)
//   BENCH_CAPACITY_REDIS=0     no Redis run when alone
//   BENCH_CAPACITY_BUDGET_MS   the part's time box (default capacityReserveMs())
//   BENCH_CAPACITY_PARTS       which parts, of idle,floor,cycles (default all three)
//   BENCH_CAPACITY_PROFILE=1   a CPU profile of the server over each cycle window, written to
//                              .bench/capacity-cycles-<store>.cpuprofile, its top functions logged
//   BENCH_CAPACITY_QUICK=1     development only: no wait for a ping interval at each level (CPU over
//                              2 s instead); the result says so
//   BENCH_APP_DIR              a checkout to run the product from (default this one)
// Development scale, e.g.: BENCH_CAPACITY_LEVELS=500,1000,1500 BENCH_CAPACITY_PER_CHILD=500
//   BENCH_CAPACITY_QUICK=1 BENCH_CAPACITY_CYCLE_MS=2000 BENCH_CAPACITY_WARMUP_MS=500 npm run bench:capacity
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { io } from 'socket.io-client';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { hashPassword } from '../signaling/core/passwords.ts';
import { startRedis } from '../tests/support/redis.ts';
import { addToResults, countLogged, freePort, onCleanup, runAlone, sleep, startChild, stopChild as stop, summarize, waitHttp } from './harness.mjs';
import { printRows } from './summary.mjs';
import { serverArgs } from '../scripts/server-bundle.mjs';

const list = (v, d) => (v ? v.split(',').map((x) => Number(x.trim())).filter((x) => x > 0) : d);
export const CAPACITY_LEVELS = list(process.env.BENCH_CAPACITY_LEVELS, [5000, 10_000, 15_000]);
const PER_CHILD = Number(process.env.BENCH_CAPACITY_PER_CHILD ?? 5000);
const IDLE_SHAPE = process.env.BENCH_CAPACITY_IDLE === 'plain' ? 'plain' : 'participants';
const FLOOR_AT = Number(process.env.BENCH_CAPACITY_FLOOR_AT ?? CAPACITY_LEVELS[0]);
const JOINS = Number(process.env.BENCH_CAPACITY_JOINS ?? 40);
const CYCLE_MS = Number(process.env.BENCH_CAPACITY_CYCLE_MS ?? 10_000);
const WARMUP_MS = Number(process.env.BENCH_CAPACITY_WARMUP_MS ?? 2000);
const LANES = Number(process.env.BENCH_CAPACITY_LANES ?? 64);
const CYCLE_WORKERS = Number(process.env.BENCH_CAPACITY_CYCLE_WORKERS ?? 2);
const QUICK = process.env.BENCH_CAPACITY_QUICK === '1';
const PARTS = new Set((process.env.BENCH_CAPACITY_PARTS ?? 'idle,floor,cycles').split(',').map((x) => x.trim()));
const PROFILE = process.env.BENCH_CAPACITY_PROFILE === '1';

/** Idle participants: sessions of a customer and about this many joined parties… */
const GUESTS_PER_SESSION = 3;
/**
 * …with agent consoles holding this many sessions each (S6). Few consoles on purpose: every queue
 * change goes to every signed-in console (S1), so the set-up's cost grows with consoles × sessions.
 */
const SESSIONS_PER_AGENT = 50;
/** Sockets of the warm-up before the zero-connection baseline. */
const WARMUP_SOCKETS = 200;
/** Joined parties per probe session (the probe's sessions stay small, like real ones). */
const JOINS_PER_SESSION = 5;
const JOIN_TARGET = '≤ 50 ms';

/** What bench/run.mjs reserves for this part (also its time box unless BENCH_CAPACITY_BUDGET_MS). */
export function capacityReserveMs({ levels = CAPACITY_LEVELS, redis = true } = {}) {
  const pingMs = QUICK ? 2000 : 25_000;
  const idle = 15_000 + levels.length * (pingMs + 10_000) + Math.max(...levels) * 6; // ~6 ms a participant to set up on this loaded machine
  const floor = FLOOR_AT > 0 ? 10_000 + pingMs + FLOOR_AT * 1.5 : 0;
  const cycles = (redis ? 2 : 1) * (15_000 + WARMUP_MS + CYCLE_MS);
  return Math.round(idle + floor + cycles + 20_000);
}

const WORKER_FILE = fileURLToPath(new URL('./capacity-worker.mjs', import.meta.url));
const BARE_SERVER = fileURLToPath(new URL('./capacity-bare-server.mjs', import.meta.url));
const CLK_TCK = 100; // Linux's USER_HZ (getconf CLK_TCK)
const epochNow = () => performance.timeOrigin + performance.now();
const round1 = (x) => Math.round(x * 10) / 10;
const fmt = (n) => n.toLocaleString('en-US');

// ---------------------------------------------------------------- /proc

/** CPU seconds (user + system), RSS and peak RSS (KiB) of one process. */
function procSample(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { at: performance.now(), cpuS: (Number(f[11]) + Number(f[12])) / CLK_TCK, sysS: Number(f[12]) / CLK_TCK, rssKiB: kb('VmRSS'), peakRssKiB: kb('VmHWM') };
}

/** A P-256 public key, raw and uncompressed, base64url (what a page registers on attach, decision 0010). */
function key() {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]).toString('base64url');
}

const fdCount = (pid) => readdirSync(`/proc/${pid}/fd`).length;

function machineTicks() {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { busy: user + nice + system + irq + softirq, total: user + nice + system + idle + iowait + irq + softirq + steal };
}
const busyPct = (a, b) => (b.total > a.total ? round1((100 * (b.busy - a.busy)) / (b.total - a.total)) : null);
const load = () => loadavg().map((x) => Math.round(x * 100) / 100);

/**
 * `command args` with the open-file limit raised to `files` when this process's soft limit is lower
 * (prlimit execs the command: the pid stays the same), or a clear error when the hard limit is.
 */
function withFileLimit(files, command, args) {
  let soft = Infinity;
  let hard = Infinity;
  try {
    const out = execFileSync('prlimit', ['--pid', String(process.pid), '--nofile', '--output=SOFT,HARD', '--noheadings', '--raw'], { encoding: 'utf8' });
    [soft, hard] = out.trim().split(/\s+/).map((x) => (x === 'unlimited' ? Infinity : Number(x)));
  } catch {
    return [command, args]; // no prlimit: hope the inherited limit does
  }
  if (soft >= files) return [command, args];
  if (hard < files) throw new Error(`a process needs ${files} open files here, and the hard limit is ${hard} (ulimit -Hn); lower BENCH_CAPACITY_LEVELS or BENCH_CAPACITY_PER_CHILD`);
  return ['prlimit', [`--nofile=${hard === Infinity ? files : hard}`, '--', command, ...args]];
}

/** Poll `condition` (sync or async) every 250 ms until true; throw `describe()` at `deadline`. */
async function until(condition, deadline, describe, watch = []) {
  for (;;) {
    for (const c of watch) if (c.exited) throw new Error(`${c.name} exited (${JSON.stringify(c.exit)}):\n${c.output().slice(-3000)}`);
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(await describe());
    await sleep(250);
  }
}


// ---------------------------------------------------------------- servers

/**
 * Start a server (the signaling node or the bare socket.io one) in its own process group on a free
 * port, wait for GET /healthz, count the warnings and errors it logs (pino: one JSON line each).
 * `inspect`: with the inspector on a free loopback port, through which `memory()` asks for a full GC.
 * `script`: a plain JS file, or 'signaling' for the signaling node of `cwd` (compiled as `npm run
 * signaling` does).
 */
async function startServer({ name, script, cwd, env, files, inspect, log }) {
  const port = await freePort();
  const base = { ...process.env };
  for (const k of ['JOINUS_AGENTS', 'JOINUS_AGENTS_FILE', 'REDIS_URL', 'JOINUS_REDIS_PREFIX']) delete base[k];
  const [command, args] = withFileLimit(files, process.execPath, [...(inspect ? ['--inspect=127.0.0.1:0'] : []), ...(script === 'signaling' ? await serverArgs(cwd, 'signaling') : [script])]);
  const server = startChild(name, command, args, {
    cwd,
    env: { ...base, NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', JOINUS_ICE_SERVERS: '[]', ...env },
  });
  const logged = countLogged(server.child);
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/healthz`, { timeoutMs: 60_000, child: server });
  const pid = server.child.pid;
  let inspector = null;
  if (inspect) {
    const started = Date.now();
    await until(() => /Debugger listening on ws:\/\/\S+/.test(server.output()), started + 10_000, () => `${name}: no inspector address in its output`, [server]);
    inspector = await openInspector(/Debugger listening on (ws:\/\/\S+)/.exec(server.output())[1]);
  }
  log(`capacity: ${name} on ${url} (pid ${pid})`);
  return {
    name,
    server,
    pid,
    url,
    logged,
    inspector,
    /** RSS now, and after a full GC (twice, for what the first one's finalizers free), with the JS heap's use. */
    async memory() {
      const raw = procSample(pid).rssKiB;
      if (!inspector) return { rssKiB: raw, rssAfterGcKiB: null, heapUsedKiB: null };
      await inspector.call('HeapProfiler.collectGarbage');
      await inspector.call('HeapProfiler.collectGarbage');
      const heap = await inspector.call('Runtime.getHeapUsage');
      return { rssKiB: raw, rssAfterGcKiB: procSample(pid).rssKiB, heapUsedKiB: Math.round(heap.usedSize / 1024) };
    },
    async stop() {
      inspector?.close();
      await stop(server);
    },
  };
}

/** The DevTools protocol over the inspector's WebSocket: just enough to call a method. */
async function openInspector(url) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let id = 0;
  const pending = new Map();
  ws.on('message', (m) => {
    const msg = JSON.parse(m.toString());
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(`inspector: ${msg.error.message}`));
    else p.resolve(msg.result);
  });
  return {
    call: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const i = ++id;
        pending.set(i, { resolve, reject });
        ws.send(JSON.stringify({ id: i, method, params }));
        setTimeout(() => pending.has(i) && (pending.delete(i), reject(new Error(`inspector: ${method} unanswered`))), 60_000).unref();
      }),
    close: () => ws.close(),
  };
}

// ---------------------------------------------------------------- client processes

/** A control server the client processes connect back to (newline-delimited JSON both ways). */
async function controlHub() {
  const expected = new Map();
  const server = createServer((conn) => {
    conn.setEncoding('utf8');
    let partial = '';
    let client = null;
    conn.on('data', (chunk) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line) continue;
        const msg = JSON.parse(line);
        if (msg.hello) {
          client = expected.get(msg.hello);
          expected.delete(msg.hello);
          client?.attach(conn);
        } else client?.answer(msg);
      }
    });
    conn.on('close', () => client?.gone('control connection closed'));
    conn.on('error', () => {});
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(() => new Promise((resolve) => server.close(() => resolve())));
  return { port: server.address().port, expect: (name, client) => expected.set(name, client), close: () => server.close() };
}

let clientSerial = 0;

/**
 * A client process (bench/capacity-worker.mjs) for `url`, its sockets on 127.<block>.x.y, able to
 * hold `files` open sockets. `call(type, args, deadline)` asks it something and resolves with the answer.
 */
async function startClients(hub, { url, block, files, deadline }) {
  const name = `clients${++clientSerial}`;
  const [command, args] = withFileLimit(files, process.execPath, [WORKER_FILE]);
  let conn = null;
  let nextId = 0;
  const pending = new Map();
  const failAll = (why) => {
    for (const p of pending.values()) p.reject(new Error(`${name}: ${why}\n${entry.output().slice(-3000)}`));
    pending.clear();
  };
  hub.expect(name, {
    attach(c) {
      conn = c;
    },
    answer(msg) {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if ('error' in msg) p.reject(new Error(`${name}: ${msg.error}`));
      else p.resolve(msg.result);
    },
    gone: failAll,
  });
  const env = { ...process.env, CAPACITY_URL: url, CAPACITY_CONTROL_PORT: String(hub.port), CAPACITY_WORKER: name, CAPACITY_BLOCK: String(block) };
  const entry = startChild(name, command, args, { cwd: fileURLToPath(new URL('..', import.meta.url)), env });
  entry.child.once('exit', (code, signal) => failAll(`exited (${signal ?? `code ${code}`})`));
  await until(() => conn !== null, Math.min(deadline, Date.now() + 30_000), () => `${name} did not connect back within 30 s`, [entry]);
  return {
    name,
    entry,
    call(type, args = {}, by = deadline) {
      return new Promise((resolve, reject) => {
        const id = ++nextId;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: ${type} not answered within the time box`));
        }, Math.max(1000, by - Date.now()));
        pending.set(id, {
          resolve: (v) => (clearTimeout(timer), resolve(v)),
          reject: (e) => (clearTimeout(timer), reject(e)),
        });
        conn.write(`${JSON.stringify({ id, type, args })}\n`);
      });
    },
    stop: () => stop(entry),
  };
}

// ---------------------------------------------------------------- the probe: joins through the real API

/**
 * This process's own agent console, its small sessions (a customer each, attached) and the joins:
 * a fresh socket from a fresh address connects, logs in with a handle the agent reserved and attaches.
 */
function probe(url, account) {
  let n = 0;
  const addr = () => {
    const i = n++;
    return `127.200.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
  };
  const open = new Set();
  const seen = { disconnects: 0, pingIntervalMs: null, pingTimeoutMs: null };
  const connect = (keep = true) =>
    new Promise((resolve, reject) => {
      const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, localAddress: addr() });
      socket.io.engine.once('handshake', (h) => {
        seen.pingIntervalMs = h.pingInterval;
        seen.pingTimeoutMs = h.pingTimeout;
      });
      const timer = setTimeout(() => (socket.close(), reject(new Error('probe: could not connect within 30 s'))), 30_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        if (keep) {
          open.add(socket);
          socket.on('disconnect', () => {
            if (open.delete(socket)) seen.disconnects++;
          });
        }
        resolve(socket);
      });
      socket.once('connect_error', (err) => (clearTimeout(timer), socket.close(), reject(new Error(`probe: ${err.message}`))));
    });
  const ask = async (socket, event, payload) => {
    for (let i = 0; ; i++) {
      const r = await socket.timeout(30_000).emitWithAck(event, payload);
      if (r.ok) return r;
      if (r.error?.reason === 'busy' && i < 20) {
        await sleep(r.error.retryAfterMs ?? 500);
        continue;
      }
      throw new Error(`probe: ${event} refused: ${r.error?.reason}: ${r.error?.message}`);
    }
  };
  let agent = null;
  let serial = 0;
  return {
    seen,
    /** Sockets this probe holds open (its console and customers). */
    openCount: () => open.size,
    async signIn() {
      agent = await connect();
      await ask(agent, 'agent:signIn', account);
    },
    /** Joins, `perSession` to a session (new sessions for them), one after another. */
    async joins(count, perSession = JOINS_PER_SESSION) {
      const connectToAttach = [];
      const loginToAttach = [];
      const errors = [];
      const joined = [];
      let sessionId = null;
      for (let i = 0; i < count; i++) {
        if (i % perSession === 0) {
          const customer = await connect();
          const req = await ask(customer, 'customer:request', { name: `Probe customer ${++serial}`, topic: 'capacity probe' });
          const acc = await ask(agent, 'queue:accept', { requestId: req.requestId });
          sessionId = acc.session.sessionId;
          await ask(agent, 'session:attach', { credential: acc.session.credential, publicKey: key() });
          await ask(customer, 'session:attach', { credential: req.requestToken, publicKey: key() });
        }
        const handle = `probe-${++serial}`;
        await ask(agent, 'handle:reserve', { sessionId, handle });
        const publicKey = key(); // a page has its key before it joins
        try {
          const t0 = performance.now();
          const socket = await connect(false);
          joined.push(socket);
          const t1 = performance.now();
          const login = await socket.timeout(30_000).emitWithAck('handle:login', { name: `Joiner ${handle}`, handle });
          if (!login.ok || login.waiting) throw new Error(`log-in: ${login.error?.message ?? 'waiting'}`);
          const attach = await socket.timeout(30_000).emitWithAck('session:attach', { credential: login.credential, publicKey });
          if (!attach.ok) throw new Error(`attach: ${attach.error?.message}`);
          const t2 = performance.now();
          connectToAttach.push(t2 - t0);
          loginToAttach.push(t2 - t1);
        } catch (err) {
          connectToAttach.push(null);
          loginToAttach.push(null);
          if (errors.length < 3) errors.push(String(err.message ?? err));
        }
      }
      // The joined parties leave (closed tabs); the consoles and customers stay.
      for (const s of joined) s.close();
      return { connectToAttach: summarize(connectToAttach), loginToAttach: summarize(loginToAttach), errors };
    },
    close() {
      for (const s of open) {
        s.off('disconnect');
        s.close();
      }
      open.clear();
    },
  };
}

// ---------------------------------------------------------------- idle connections

/**
 * Warm up, take the zero-connection baseline, then hold each level of idle sockets and measure.
 * `joinsPerLevel` > 0 (the product): a probe makes joins at each level.
 */
async function holdIdle({ srv, hub, shape, levels, accounts, joinsPerLevel, blockBase, log, deadline, result }) {
  const pid = srv.pid;
  const watch = [srv.server];
  const fds0 = fdCount(pid);
  const children = [];
  const room = (c) => PER_CHILD - c.holds;
  const newChild = async () => {
    const c = await startClients(hub, { url: srv.url, block: blockBase + children.length, files: PER_CHILD + 200, deadline });
    c.holds = 0;
    children.push(c);
    return c;
  };
  let account = 0;
  const takeAccounts = (sockets) => {
    const n = shape === 'plain' ? 0 : Math.ceil(sockets / (1 + GUESTS_PER_SESSION) / SESSIONS_PER_AGENT) + 2;
    if (account + n > accounts.length) throw new Error(`capacity: ${account + n} agent accounts needed, ${accounts.length} made`);
    return accounts.slice(account, (account += n));
  };
  const grow = (c, n) => c.call('grow', { n, shape, accounts: takeAccounts(n), sessionsPerAgent: SESSIONS_PER_AGENT, guestsPerSession: GUESTS_PER_SESSION }, deadline);

  try {
    // Warm-up: the code paths of a level (a few hundred sockets, joins), then everything closed.
    const p = joinsPerLevel > 0 ? probe(srv.url, accounts[accounts.length - 1]) : null;
    const first = await newChild();
    const warm = await grow(first, Math.min(WARMUP_SOCKETS, PER_CHILD));
    let pingIntervalMs = null;
    if (p) {
      await p.signIn();
      await p.joins(Math.min(10, joinsPerLevel));
      pingIntervalMs = p.seen.pingIntervalMs;
      p.close();
    }
    await first.call('closeAll');
    await until(
      () => fdCount(pid) <= fds0 + 2,
      Math.min(deadline, Date.now() + 30_000),
      () => `capacity: the warm-up's connections did not all close (server fds ${fdCount(pid)}, ${fds0} before)`,
      watch,
    );
    result.warmup = { sockets: warm.made, ms: warm.ms };
    const baseline = await srv.memory();
    result.baseline = { ...baseline, fds: fdCount(pid) };
    log(`capacity: ${srv.name} baseline RSS ${Math.round(baseline.rssKiB / 1024)} MiB (after GC ${Math.round((baseline.rssAfterGcKiB ?? NaN) / 1024)} MiB)`);
    if (p) await p.signIn();

    let held = 0;
    const made = { agents: 0, customers: 0, guests: 0, plain: 0 };
    for (const level of levels) {
      if (level <= held) continue;
      const t0 = Date.now();
      // Fill the processes there are, then new ones, PER_CHILD sockets each at most.
      const plan = [];
      let left = level - held;
      for (const c of children) {
        if (left > 0 && room(c) > 0) {
          const n = Math.min(left, room(c));
          plan.push([c, n]);
          left -= n;
        }
      }
      while (left > 0) {
        const c = await newChild();
        const n = Math.min(left, PER_CHILD);
        plan.push([c, n]);
        left -= n;
      }
      const grown = await Promise.all(
        plan.map(async ([c, n]) => {
          const r = await grow(c, n);
          c.holds += n;
          return r;
        }),
      );
      held = level;
      for (const g of grown) for (const k of Object.keys(made)) made[k] += g.made[k];
      const connections = held + (p?.openCount() ?? 0);
      // Every socket answered `connect` (grow waited for each); still open now?
      const open = (await Promise.all(children.map((c) => c.call('stats', { since: 0 })))).reduce((a, s) => a + s.open, 0);
      if (open !== held) throw new Error(`capacity: level ${fmt(level)} not reached: ${fmt(open)} idle sockets open, ${fmt(held)} made`);
      const setupMs = Date.now() - t0;
      log(`capacity: ${srv.name} holds ${fmt(connections)} connections (set up in ${(setupMs / 1000).toFixed(1)} s); heartbeats…`);

      // The heartbeat window: until every idle socket has had a ping since now, and a ping interval has passed.
      const since = epochNow();
      const cpu0 = procSample(pid);
      const m0 = machineTicks();
      const stats = () => Promise.all(children.map((c) => c.call('stats', { since })));
      const interval = pingIntervalMs ?? 25_000;
      let last = [];
      if (QUICK) await sleep(2000);
      else {
        await until(
          async () => {
            last = await stats();
            return epochNow() - since >= interval && last.every((s) => s.pingedSince >= s.open);
          },
          Math.min(deadline, Date.now() + interval * 2 + 20_000),
          () => `capacity: at ${fmt(level)}, not every socket had a heartbeat within two ping intervals (${last.map((s) => `${s.pingedSince}/${s.open}`).join(', ')})`,
          watch,
        );
      }
      const cpu1 = procSample(pid);
      const m1 = machineTicks();
      last = await stats();
      const windowS = (cpu1.at - cpu0.at) / 1000;
      const memory = await srv.memory();
      const base = (k) => (memory[k] !== null && baseline[k] !== null ? round1((memory[k] - baseline[k]) / connections) : null);
      const before = result.levels.at(-1);
      const gcOr = (x) => x.rssAfterGcKiB ?? x.rssKiB;
      const entry = {
        level,
        connections,
        idle: { ...made },
        probeSockets: p?.openCount() ?? 0,
        setupMs,
        setupRetries: { busy: grown.reduce((a, g) => a + g.busyRetries, 0), rateLimited: grown.reduce((a, g) => a + g.rateLimitedRetries, 0) },
        serverFdsAboveStart: fdCount(pid) - fds0,
        ...memory,
        perConnectionKiB: base('rssAfterGcKiB') ?? base('rssKiB'),
        perConnectionRawKiB: base('rssKiB'),
        /** What each connection added since the level before (robust to what the baseline's warm-up left behind). */
        marginalKiB: before ? round1((gcOr(memory) - gcOr(before)) / (connections - before.connections)) : null,
        marginalHeapKiB: before && memory.heapUsedKiB !== null ? round1((memory.heapUsedKiB - before.heapUsedKiB) / (connections - before.connections)) : null,
        heapPerConnectionKiB: base('heapUsedKiB'),
        cpuPctOfOneCore: round1((100 * (cpu1.cpuS - cpu0.cpuS)) / windowS),
        windowS: round1(windowS),
        heartbeats: { pinged: last.reduce((a, s) => a + s.pingedSince, 0), open: last.reduce((a, s) => a + s.open, 0), pings: last.reduce((a, s) => a + s.pings, 0) },
        disconnects: last.reduce((a, s) => a + s.disconnects, 0) + (p?.seen.disconnects ?? 0),
        disconnectReasons: Object.assign({}, ...last.map((s) => s.reasons)),
        machine: { busyPct: busyPct(m0, m1), loadavg: load() },
      };
      if (p) {
        entry.joins = await p.joins(joinsPerLevel);
        log(`capacity: ${fmt(level)}: joins connect → attached median ${entry.joins.connectToAttach.median} ms, p99 ${entry.joins.connectToAttach.p99} ms`);
      }
      result.levels.push(entry);
      log(
        `capacity: ${fmt(level)}: RSS ${Math.round(memory.rssKiB / 1024)} MiB (after GC ${Math.round((memory.rssAfterGcKiB ?? NaN) / 1024)}), ${entry.perConnectionKiB} KiB a connection, CPU ${entry.cpuPctOfOneCore}% over ${entry.windowS} s, ${entry.disconnects} disconnects`,
      );
    }
    result.pingIntervalMs = pingIntervalMs;
    result.pingTimeoutMs = p?.seen.pingTimeoutMs ?? null;
    p?.close();
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}

// ---------------------------------------------------------------- handle cycles

/** Write the profile next to results.json; the functions with the most self time, for the log and the result. */
function saveProfile(profile, store, log) {
  const dir = fileURLToPath(new URL('../.bench/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `capacity-cycles-${store}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  const dt = new Map();
  for (let i = 0; i < profile.samples.length; i++) dt.set(profile.samples[i], (dt.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const self = new Map();
  let total = 0;
  for (const node of profile.nodes) {
    const us = dt.get(node.id) ?? 0;
    total += us;
    const f = node.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(signaling|lib|\.server)\//, '$1/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + us);
  }
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, us]) => ({ fn: k, pct: round1((100 * us) / total) }));
  log(`capacity: profile (${store}) in ${file}; most self time:\n${top.map((t) => `    ${String(t.pct).padStart(5)}%  ${t.fn}`).join('\n')}`);
  return { file, top };
}

async function measureCycles({ store, appDir, accountsFile, accounts, hub, log, deadline }) {
  const result = {
    what: `${store === 'redis' ? 'a signaling node on a redis-server of its own (REDIS_URL)' : 'a signaling node, memory store'}; ${LANES} lanes in ${CYCLE_WORKERS} client processes, each an agent console (signed in, one live session with its customer attached) and a guest socket, each on its own address; each lane back to back: reserve a fresh handle, log in with it (must be admitted: a credential, not waiting); ${WARMUP_MS / 1000} s warm-up, then a ${CYCLE_MS / 1000} s window; afterwards 10 credentials per process attached on fresh sockets`,
    store,
    lanes: LANES,
    workers: CYCLE_WORKERS,
    warmupMs: WARMUP_MS,
    windowMs: CYCLE_MS,
  };
  let redis = null;
  let srv = null;
  const workers = [];
  try {
    const env = { JOINUS_AGENTS_FILE: accountsFile };
    if (store === 'redis') {
      redis = await startRedis();
      onCleanup(() => redis?.stop());
      env.REDIS_URL = redis.url;
      env.JOINUS_REDIS_PREFIX = 'bench-capacity';
    }
    srv = await startServer({ name: `signaling node (${store})`, script: 'signaling', cwd: appDir, env, files: 4096, inspect: PROFILE, log });
    const perWorker = Math.ceil(LANES / CYCLE_WORKERS);
    for (let i = 0; i < CYCLE_WORKERS; i++) workers.push(await startClients(hub, { url: srv.url, block: 100 + i, files: 4096, deadline }));
    const setups = await Promise.all(
      workers.map((w, i) => w.call('cyclesSetup', { count: Math.min(perWorker, LANES - i * perWorker), accounts: accounts.slice(i * perWorker, (i + 1) * perWorker) })),
    );
    result.setupMs = Math.max(...setups.map((s) => s.ms));
    const startAt = epochNow() + 500;
    const windowFrom = startAt + WARMUP_MS;
    const windowTo = windowFrom + CYCLE_MS;
    const pid = srv.pid;
    const samples = {};
    // Redis commands the node sent, from Redis's own counts (INFO commandstats), over the window.
    const commands = redis ? new Redis(redis.url, { lazyConnect: true }) : null;
    await commands?.connect();
    const commandCount = async () => {
      if (!commands) return null;
      const info = await commands.info('commandstats');
      const byCommand = {};
      for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) byCommand[m[1]] = Number(m[2]);
      const cpu = await commands.info('cpu');
      const used = (k) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? NaN);
      return { byCommand, cpuS: used('used_cpu_sys') + used('used_cpu_user') };
    };
    const at = (t, key) =>
      sleep(Math.max(0, t - epochNow())).then(async () => {
        samples[key] = { server: procSample(pid), machine: machineTicks(), redis: await commandCount() };
        if (PROFILE && key === 'from') await srv.inspector.call('Profiler.enable').then(() => srv.inspector.call('Profiler.start'));
        if (PROFILE && key === 'to') samples.profile = (await srv.inspector.call('Profiler.stop')).profile;
      });
    const sampled = Promise.all([at(windowFrom, 'from'), at(windowTo, 'to')]);
    const runs = await Promise.all(workers.map((w) => w.call('cyclesRun', { startAt, warmupMs: WARMUP_MS, windowMs: CYCLE_MS }, windowTo + 60_000)));
    await sampled;
    const verify = await Promise.all(workers.map((w) => w.call('cyclesVerify', { count: 10 })));
    const failures = {};
    for (const r of runs) for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
    const inWindow = runs.reduce((a, r) => a + r.completedInWindow, 0);
    const windowS = (samples.to.server.at - samples.from.server.at) / 1000;
    const serverCpuS = samples.to.server.cpuS - samples.from.server.cpuS;
    const serverSysS = samples.to.server.sysS - samples.from.server.sysS;
    if (commands) {
      // Less this process's own INFO calls (one a sample).
      const per = {};
      for (const [k, v] of Object.entries(samples.to.redis.byCommand)) {
        const d = v - (samples.from.redis.byCommand[k] ?? 0) - (k === 'info' ? 2 : 0);
        if (d > 0) per[k] = round1(d / Math.max(1, runs.reduce((a, r) => a + r.completedInWindow, 0)));
      }
      result.redisCommandsPerCycle = { total: round1(Object.values(per).reduce((a, b) => a + b, 0)), byCommand: per };
      result.redisCpuPctOfOneCore = round1((100 * (samples.to.redis.cpuS - samples.from.redis.cpuS)) / windowS);
      commands.disconnect();
    }
    const clientsCpuS = runs.reduce((a, r) => a + r.cpuS, 0);
    if (samples.profile) result.profile = saveProfile(samples.profile, store, log);
    Object.assign(result, {
      cyclesInWindow: inWindow,
      perSecond: Math.round(inWindow / (CYCLE_MS / 1000)),
      latencyMs: summarize(runs.flatMap((r) => r.latencies)),
      completed: runs.reduce((a, r) => a + r.completed, 0),
      failed: Object.values(failures).reduce((a, b) => a + b, 0),
      failures,
      failureExamples: runs.flatMap((r) => r.examples).slice(0, 5),
      verified: { tried: verify.reduce((a, v) => a + v.tried, 0), attached: verify.reduce((a, v) => a + v.attached, 0), errors: verify.flatMap((v) => v.errors).slice(0, 3) },
      disconnects: runs.reduce((a, r) => a + r.disconnects, 0),
      server: {
        cpuPctOfOneCore: round1((100 * serverCpuS) / windowS),
        /** Of it in the kernel (system time: socket writes and reads, loopback delivery included). */
        systemPctOfCpu: serverCpuS > 0 ? Math.round((100 * serverSysS) / serverCpuS) : null,
        /** Server CPU per cycle, and the cycles a second that would take one whole core. */
        cpuUsPerCycle: inWindow ? Math.round((serverCpuS * 1e6) / inWindow) : null,
        cyclesPerCoreSecond: serverCpuS > 0 ? Math.round(inWindow / serverCpuS) : null,
        rssMiB: Math.round(samples.to.server.rssKiB / 1024),
        logged: srv.logged,
      },
      clients: { cpuPctOfOneCore: round1((100 * clientsCpuS) / (CYCLE_MS / 1000)), cpuUsPerCycle: inWindow ? Math.round((clientsCpuS * 1e6) / inWindow) : null },
      machine: { busyPct: busyPct(samples.from.machine, samples.to.machine), loadavg: load() },
    });
    log(`capacity: cycles (${store}): ${fmt(result.perSecond)}/s, latency median ${result.latencyMs.median} ms, p99 ${result.latencyMs.p99} ms, ${result.failed} failed, server CPU ${result.server.cpuPctOfOneCore}%`);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await srv?.stop();
    await redis?.stop();
    redis = null;
  }
  return result;
}

// ---------------------------------------------------------------- the whole part

/**
 * Runs the three measurements (each failing on its own: its `error` says why). Returns what
 * .bench/results.json keeps as `signalingCapacity`.
 */
export async function measureSignalingCapacity({ appDir, log = console.log, redis = true }) {
  const started = Date.now();
  const budgetMs = Number(process.env.BENCH_CAPACITY_BUDGET_MS ?? capacityReserveMs({ redis }));
  const deadline = started + budgetMs;
  const dir = mkdtempSync(join(tmpdir(), 'joinus-capacity-'));
  const idleAccounts = 20 + Math.ceil(Math.max(...CAPACITY_LEVELS) / (1 + GUESTS_PER_SESSION) / SESSIONS_PER_AGENT) + 2 * CAPACITY_LEVELS.length * Math.ceil(Math.max(...CAPACITY_LEVELS) / PER_CHILD);
  const result = {
    what: {
      server: 'the real signaling node alone (signaling/main.ts compiled, as npm run signaling runs it; NODE_ENV=production, LOG_LEVEL=warn), its own process; clients: socket.io-client, websocket only (as the pages), each socket on a loopback address of its own, in child processes',
      quick: QUICK ? 'BENCH_CAPACITY_QUICK: no wait for a ping interval at each level (development figures)' : undefined,
      budgetMs,
    },
    idle: null,
    floor: null,
    cycles: {},
  };
  const outOfTime = () => ({ error: `not run: the part's time box (${Math.round(budgetMs / 1000)} s) ran out` });
  try {
    const password = randomBytes(12).toString('hex');
    const hash = await hashPassword(password, 10);
    const accounts = Array.from({ length: Math.max(idleAccounts, LANES) + 1 }, (_, i) => ({ username: `cap${i}`, password }));
    const accountsFile = join(dir, 'agents');
    writeFileSync(accountsFile, `# bench/signaling-capacity.mjs: ${accounts.length} accounts, one scrypt hash (log N 10)\n${accounts.map((a) => `${a.username}:${hash}`).join('\n')}\n`);
    const hub = await controlHub();
    const maxLevel = Math.max(...CAPACITY_LEVELS);

    // 1. Idle connections on the signaling node, memory store.
    result.idle = {
      what:
        IDLE_SHAPE === 'participants'
          ? `idle sockets = admitted participants of live sessions, made through the real API: per session one customer (asked for help, accepted, attached) and ${GUESTS_PER_SESSION} joined parties (handle reserved, logged in, attached), agent consoles signed in and attached to up to ${SESSIONS_PER_AGENT} sessions each; every attach registers a P-256 public key; plus the probe's console and its customers. At each level: every socket pinged since the level was complete (one ping interval), then RSS, GC through the inspector, RSS again; then ${JOINS} joins (${JOINS_PER_SESSION} per fresh session): reserve, then a fresh socket connects, logs in, attaches`
          : `idle sockets = connected socket.io sockets that did nothing else; plus the probe's console and its customers. Then as above, ${JOINS} joins per level`,
      shape: IDLE_SHAPE,
      levels: [],
    };
    try {
      if (!PARTS.has('idle')) throw new Error('not run (BENCH_CAPACITY_PARTS)');
      const srv = await startServer({
        name: 'signaling node (memory)',
        script: 'signaling',
        cwd: appDir,
        env: { JOINUS_AGENTS_FILE: accountsFile },
        files: maxLevel + 1000,
        inspect: true,
        log,
      });
      try {
        await holdIdle({ srv, hub, shape: IDLE_SHAPE, levels: CAPACITY_LEVELS, accounts, joinsPerLevel: JOINS, blockBase: 10, log, deadline, result: result.idle });
        result.idle.server = { logged: srv.logged, peakRssMiB: Math.round(procSample(srv.pid).peakRssKiB / 1024) };
      } finally {
        await srv.stop();
      }
    } catch (err) {
      result.idle.error = String(err?.message ?? err);
      log(`capacity: idle part failed: ${result.idle.error}`);
    }

    // 2. The floor: a bare socket.io server holding plain sockets.
    if (FLOOR_AT > 0 && PARTS.has('floor')) {
      if (Date.now() > deadline) result.floor = outOfTime();
      else {
        result.floor = { what: 'bare socket.io server (bench/capacity-bare-server.mjs: same engine options, started the same way), plain idle sockets; measured as above, no joins', levels: [] };
        try {
          const srv = await startServer({ name: 'bare socket.io server', script: BARE_SERVER, cwd: appDir, env: {}, files: FLOOR_AT + 1000, inspect: true, log });
          try {
            await holdIdle({ srv, hub, shape: 'plain', levels: [FLOOR_AT], accounts: [], joinsPerLevel: 0, blockBase: 40, log, deadline, result: result.floor });
          } finally {
            await srv.stop();
          }
        } catch (err) {
          result.floor.error = String(err?.message ?? err);
          log(`capacity: floor failed: ${result.floor.error}`);
        }
      }
    }

    // 3. Handle cycles.
    for (const store of !PARTS.has('cycles') ? [] : redis ? ['memory', 'redis'] : ['memory']) {
      if (Date.now() > deadline) {
        result.cycles[store] = outOfTime();
        continue;
      }
      try {
        result.cycles[store] = await measureCycles({ store, appDir, accountsFile, accounts, hub, log, deadline });
      } catch (err) {
        result.cycles[store] = { store, error: String(err?.message ?? err) };
        log(`capacity: cycles (${store}) failed: ${result.cycles[store].error}`);
      }
    }
    hub.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  result.wallMs = Date.now() - started;
  return result;
}

// ---------------------------------------------------------------- rows

const mib = (kib) => (kib === null || kib === undefined ? '—' : `${Math.round(kib / 1024)} MiB`);

/** Table rows for the caller's one table: sections, and rows with a `stat` or a formatted `value`. */
export function capacityRows(r) {
  const rows = [];
  const idle = r.idle;
  rows.push({ section: `SIGNALING CAPACITY: idle connections on one signaling process (memory store)${r.what?.quick ? ' [QUICK: development figures]' : ''}` });
  if (idle) {
    rows.push({ label: 'what', value: idle.what });
    if (idle.baseline) {
      rows.push({
        label: 'zero connections, after warm-up: server RSS',
        value: `${mib(idle.baseline.rssKiB)} (after GC ${mib(idle.baseline.rssAfterGcKiB)}, JS heap ${mib(idle.baseline.heapUsedKiB)})`,
        note: idle.pingIntervalMs ? `server pingInterval ${idle.pingIntervalMs} ms, pingTimeout ${idle.pingTimeoutMs} ms` : undefined,
      });
    }
    for (const l of idle.levels) {
      const m = l.idle;
      rows.push({
        label: `${fmt(l.connections)} connections: server RSS after GC`,
        value: `${mib(l.rssAfterGcKiB)} (${mib(l.rssKiB)} before GC); ${l.perConnectionKiB} KiB a connection (JS heap ${l.heapPerConnectionKiB} KiB)${l.marginalKiB !== null ? `; since the level before ${l.marginalKiB} KiB (heap ${l.marginalHeapKiB})` : ''}`,
        note: `${[
          m.agents && `${fmt(m.agents)} consoles`,
          m.customers && `${fmt(m.customers)} customers`,
          m.guests && `${fmt(m.guests)} joined parties`,
          m.plain && `${fmt(m.plain)} plain`,
          `${l.probeSockets} probe`,
        ]
          .filter(Boolean)
          .join(', ')}; this level's set-up ${(l.setupMs / 1000).toFixed(1)} s${
          l.setupRetries.rateLimited || l.setupRetries.busy
            ? ` (${l.setupRetries.rateLimited} "slow down" answers, 200 events/s a connection, and ${l.setupRetries.busy} "busy" sign-ins retried as told)`
            : ''
        }`,
      });
      rows.push({
        label: '  server CPU while idle',
        value: `${l.cpuPctOfOneCore}% of one core over ${l.windowS} s`,
        note: `machine ${l.machine.busyPct}% busy, load ${l.machine.loadavg.join(' ')}`,
      });
      rows.push({
        label: '  heartbeats; disconnects seen by clients',
        value: `${fmt(l.heartbeats.pinged)} of ${fmt(l.heartbeats.open)} sockets pinged in the window; ${l.disconnects} disconnects`,
        target: '0 disconnects',
      });
      if (l.joins) {
        rows.push({ label: '  join: connect start → attached', stat: l.joins.connectToAttach, target: JOIN_TARGET, note: l.joins.errors[0] });
        rows.push({ label: '  join: log-in emitted → attached', stat: l.joins.loginToAttach, target: JOIN_TARGET });
      }
    }
    if (idle.error) rows.push({ label: 'FAILED', value: idle.error });
  }
  if (r.floor) {
    rows.push({ section: 'socket.io floor: a bare socket.io server, same options and start, plain idle sockets' });
    for (const l of r.floor.levels ?? []) {
      rows.push({
        label: `${fmt(l.connections)} connections: RSS after GC`,
        value: `${mib(l.rssAfterGcKiB)} (${mib(l.rssKiB)} before GC, ${mib(r.floor.baseline?.rssAfterGcKiB)} at zero); ${l.perConnectionKiB} KiB a connection (JS heap ${l.heapPerConnectionKiB} KiB)`,
        note: `CPU ${l.cpuPctOfOneCore}% of one core over ${l.windowS} s; ${l.disconnects} disconnects`,
      });
      const product = idle?.levels?.find((x) => x.level === l.level) ?? idle?.levels?.[0];
      if (product?.perConnectionKiB && l.perConnectionKiB) {
        rows.push({
          label: '  signaling node ÷ floor, per connection',
          value: `${(product.perConnectionKiB / l.perConnectionKiB).toFixed(1)}× (${product.perConnectionKiB} vs ${l.perConnectionKiB} KiB, node at ${fmt(product.connections)})`,
        });
      }
    }
    if (r.floor.error) rows.push({ label: 'FAILED', value: r.floor.error });
  }
  rows.push({ section: 'SIGNALING CAPACITY: handle reserve → consume cycles through the real API' });
  const anyCycles = Object.values(r.cycles ?? {}).find((c) => c.what);
  if (anyCycles) rows.push({ label: 'what', value: anyCycles.what.replace(/^.*?; /, '') });
  const targets = { memory: '≥ 5,000/s', redis: '≥ 2,000/s' };
  for (const [store, c] of Object.entries(r.cycles ?? {})) {
    if (c.error) {
      rows.push({ label: `${store} store: FAILED`, value: c.error });
      continue;
    }
    rows.push({
      label: `${store} store: cycles a second`,
      value: `${fmt(c.perSecond)}/s (${fmt(c.cyclesInWindow)} in ${c.windowMs / 1000} s)`,
      target: targets[store],
      note: `${c.lanes} lanes (console + session + guest socket) in ${c.workers} processes, after ${c.warmupMs / 1000} s warm-up`,
    });
    rows.push({ label: '  cycle: reserve emitted → log-in answered', stat: c.latencyMs });
    rows.push({
      label: '  failed or not admitted; credentials that attach',
      value: `${c.failed}${c.failed ? ` (${Object.entries(c.failures).map(([k, v]) => `${k} ×${v}`).join(', ')})` : ''}; ${c.verified.attached} of ${c.verified.tried}`,
      target: '0; all',
    });
    rows.push({
      label: '  server CPU over the window; per cycle',
      value: `${c.server.cpuPctOfOneCore}% of one core (${c.server.systemPctOfCpu}% of it system); ${c.server.cpuUsPerCycle} µs a cycle, i.e. ${fmt(c.server.cyclesPerCoreSecond ?? 0)} cycles/s for a whole core`,
      note: `clients ${c.clients.cpuPctOfOneCore}% of one core (${c.clients.cpuUsPerCycle} µs a cycle); machine ${c.machine.busyPct}% busy, load ${c.machine.loadavg.join(' ')}; server RSS ${c.server.rssMiB} MiB, warnings/errors ${c.server.logged.warn}/${c.server.logged.error}`,
    });
    if (c.redisCommandsPerCycle) {
      const by = Object.entries(c.redisCommandsPerCycle.byCommand).sort((a, b) => b[1] - a[1]);
      rows.push({
        label: '  Redis: commands run a cycle (script calls included); its CPU',
        value: `${c.redisCommandsPerCycle.total} (${by.map(([k, v]) => `${k} ${v}`).join(', ')}); redis-server ${c.redisCpuPctOfOneCore}% of one core`,
      });
    }
  }
  return rows;
}

// ---------------------------------------------------------------- alone: npm run bench:capacity

const isMain = process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;

if (isMain) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const appDir = process.env.BENCH_APP_DIR ?? root;
  const redis = process.env.BENCH_CAPACITY_REDIS !== '0';
  const budget = Number(process.env.BENCH_CAPACITY_BUDGET_MS ?? capacityReserveMs({ redis }));
  await runAlone('bench:capacity', budget + 60_000, async ({ log, started }) => {
    const loadAtStart = load();
    const signalingCapacity = await measureSignalingCapacity({ appDir, log, redis });
    signalingCapacity.machine = { cpus: cpus().length, loadavgAtStart: loadAtStart, loadavgAtEnd: load(), node: process.version };
    signalingCapacity.date = new Date().toISOString();
    addToResults(join(root, '.bench', 'results.json'), { signalingCapacity });
    printRows('SIGNALING CAPACITY (npm run bench:capacity)', capacityRows(signalingCapacity));
    console.log(`\nmachine: ${cpus().length} cores, load ${loadAtStart.join(' ')} at start, ${load().join(' ')} at end`);
    console.log(`added signalingCapacity to .bench/results.json (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    // A part left out on purpose (BENCH_CAPACITY_PARTS) has not failed.
    const failed = [signalingCapacity.idle, signalingCapacity.floor, ...Object.values(signalingCapacity.cycles)].filter((x) => x?.error && !x.error.startsWith('not run (BENCH_CAPACITY_PARTS)'));
    if (failed.length) throw new Error(`${failed.length} part(s) failed; see above`);
  });
}
