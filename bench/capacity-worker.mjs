// One client process of bench/signaling-capacity.mjs. It holds its share of the sockets (thousands:
// the open-file limit is per process, so the bench spreads them over processes, not threads), each a
// real socket.io-client connection with the pages' transport (websocket only) from a loopback
// address of its own, and does what the parent asks over a control connection (newline-delimited
// JSON on 127.0.0.1): grow its idle population, report on it, run handle cycles.
//
// Environment (set by the parent): CAPACITY_URL (the server), CAPACITY_CONTROL_PORT, CAPACITY_WORKER
// (its name), CAPACITY_BLOCK (its loopback block: its sockets are 127.<block>.x.y).
//
// Every wait is on an answer or a condition with a deadline; the only timed pauses are the ones the
// server asks for (`retryAfterMs` of a `busy` or `rate_limited` answer, as the pages do) and the
// parent's schedule for the cycle window.
import { generateKeyPairSync } from 'node:crypto';
import { createConnection } from 'node:net';
import { performance } from 'node:perf_hooks';
import { io } from 'socket.io-client';

const URL = process.env.CAPACITY_URL;
const CONTROL_PORT = Number(process.env.CAPACITY_CONTROL_PORT);
const WORKER = process.env.CAPACITY_WORKER ?? 'w';
const BLOCK = Number(process.env.CAPACITY_BLOCK ?? 10);
const ACK_MS = 30_000;
const CONNECT_MS = 30_000;

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- sockets

let nextAddress = 0;
/** A loopback address of this process's block nobody else uses: 127.<block>.<1..250>.<1..250>. */
function address() {
  const i = nextAddress++;
  if (i >= 250 * 250) throw new Error(`${WORKER}: out of loopback addresses in block ${BLOCK}`);
  return `127.${BLOCK}.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

/**
 * @typedef {{ socket: import('socket.io-client').Socket, role: string, lastPingAt: number, open: boolean }} Held
 */
/** @type {Held[]} Every socket this process made and keeps (idle population and cycle lanes). */
const held = [];
const counts = { disconnects: 0, reasons: /** @type {Record<string, number>} */ ({}), pings: 0, busyRetries: 0, rateLimitedRetries: 0 };

/** A P-256 public key, raw and uncompressed, base64url (what a page registers on attach, decision 0010). */
function publicKey() {
  const { publicKey: key } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = key.export({ format: 'jwk' });
  return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]).toString('base64url');
}

/**
 * Connect one socket as the pages do (websocket only), from a fresh loopback address. `keep`: it
 * joins this process's population (its heartbeats and any disconnect are counted).
 * @returns {Promise<Held>}
 */
function connect(role, keep = true) {
  const localAddress = address();
  // `localAddress` reaches the Node WebSocket underneath; reconnection off, so a drop stays a drop.
  const socket = io(URL, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: CONNECT_MS, localAddress });
  /** @type {Held} */
  const entry = { socket, role, lastPingAt: 0, open: false };
  socket.io.on('ping', () => {
    entry.lastPingAt = now();
    counts.pings++;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`${WORKER}: ${role} could not connect from ${localAddress} within ${CONNECT_MS} ms`));
    }, CONNECT_MS + 1000);
    socket.once('connect', () => {
      clearTimeout(timer);
      entry.open = true;
      if (keep) {
        held.push(entry);
        socket.on('disconnect', (reason) => {
          entry.open = false;
          counts.disconnects++;
          counts.reasons[reason] = (counts.reasons[reason] ?? 0) + 1;
        });
      }
      resolve(entry);
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(new Error(`${WORKER}: ${role} connect_error from ${localAddress}: ${err.message}`));
    });
  });
}

const emit = (socket, event, payload) => socket.timeout(ACK_MS).emitWithAck(event, payload);

/**
 * Ask and expect `ok`; a `busy` or `rate_limited` answer (sign-in checks at once, the 200 events a
 * second a connection may send) is tried again after the wait the server names, as a page does.
 */
async function ask(entry, event, payload) {
  for (let attempt = 0; ; attempt++) {
    const r = await emit(entry.socket, event, payload);
    if (r.ok) return r;
    const wait = r.error?.retryAfterMs;
    if ((r.error?.reason === 'busy' || r.error?.reason === 'rate_limited') && wait && attempt < 30) {
      if (r.error.reason === 'busy') counts.busyRetries++;
      else counts.rateLimitedRetries++;
      await sleep(wait);
      continue;
    }
    throw new Error(`${WORKER}: ${entry.role} ${event} refused: ${r.error?.reason}: ${r.error?.message}`);
  }
}

/** Run `fn` over 0…n-1, at most `limit` at a time; the first failure rejects. */
async function pool(n, limit, fn) {
  let next = 0;
  const run = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, run));
}

// ---------------------------------------------------------------- participants through the real API

let serial = 0;

/** An agent console: connected, signed in. */
async function agentConsole(account) {
  const agent = await connect('agent');
  await ask(agent, 'agent:signIn', { username: account.username, password: account.password });
  return agent;
}

/**
 * A live session: a customer connects and asks for help, `agent` accepts, both attach (agent and
 * customer must be attached within the grace period, S4, or the session drops).
 */
async function liveSession(agent) {
  const customer = await connect('customer');
  const n = ++serial;
  const req = await ask(customer, 'customer:request', { name: `Customer ${WORKER}-${n}`, topic: 'capacity bench' });
  const acc = await ask(agent, 'queue:accept', { requestId: req.requestId });
  await ask(agent, 'session:attach', { credential: acc.session.credential, publicKey: publicKey() });
  await ask(customer, 'session:attach', { credential: req.requestToken, publicKey: publicKey() });
  return { sessionId: acc.session.sessionId, customer };
}

/** A joined party: the agent reserves a handle, a fresh socket logs in with it and attaches. */
async function guest(agent, sessionId) {
  const handle = `${WORKER}-${++serial}`;
  await ask(agent, 'handle:reserve', { sessionId, handle });
  const g = await connect('guest');
  const login = await ask(g, 'handle:login', { name: `Guest ${handle}`, handle });
  if (login.waiting) throw new Error(`${WORKER}: guest ${handle} was put in the lobby`);
  await ask(g, 'session:attach', { credential: login.credential, publicKey: publicKey() });
  return g;
}

/**
 * Add `n` idle sockets. `plain`: connected, nothing else. `participants`: admitted participants of
 * live sessions, made through the real API: agent consoles (signed in, attached to up to
 * `sessionsPerAgent` sessions each), one customer per session (asked for help, accepted, attached),
 * and the rest joined parties (handle reserved, logged in, attached), about `guestsPerSession` each.
 */
async function grow({ n, shape, accounts = [], sessionsPerAgent = 50, guestsPerSession = 3, concurrency = 48 }) {
  const t0 = now();
  const made = { agents: 0, customers: 0, guests: 0, plain: 0 };
  if (shape === 'plain') {
    await pool(n, concurrency, async () => {
      await connect('plain');
      made.plain++;
    });
    return { made, ms: Math.round(now() - t0), ...stats(0) };
  }
  const sessions = Math.max(1, Math.round(n / (1 + guestsPerSession + 1 / sessionsPerAgent)));
  const agentsNeeded = Math.ceil(sessions / sessionsPerAgent);
  const guests = n - sessions - agentsNeeded;
  if (guests < 0) throw new Error(`${WORKER}: ${n} sockets are too few for participants`);
  if (accounts.length < agentsNeeded) throw new Error(`${WORKER}: ${agentsNeeded} agent accounts needed, ${accounts.length} given`);
  // At most 2 password checks per address and 4 in all run at once: sign in two at a time.
  const agents = new Array(agentsNeeded);
  await pool(agentsNeeded, 2, async (i) => {
    agents[i] = await agentConsole(accounts[i]);
    made.agents++;
  });
  // Session j belongs to agent j mod agents (spread, so that no console's in-order handling is the
  // bottleneck); its joined parties are made one after another.
  await pool(sessions, concurrency, async (j) => {
    const agent = agents[j % agentsNeeded];
    const { sessionId } = await liveSession(agent);
    made.customers++;
    const mine = Math.floor(guests / sessions) + (j < guests % sessions ? 1 : 0);
    for (let k = 0; k < mine; k++) {
      await guest(agent, sessionId);
      made.guests++;
    }
  });
  return { made, ms: Math.round(now() - t0), ...stats(0) };
}

function stats(since) {
  let open = 0;
  let pingedSince = 0;
  for (const h of held) {
    if (!h.open) continue;
    open++;
    if (h.lastPingAt > since) pingedSince++;
  }
  return { open, pingedSince, disconnects: counts.disconnects, reasons: counts.reasons, pings: counts.pings, busyRetries: counts.busyRetries, rateLimitedRetries: counts.rateLimitedRetries };
}

async function closeAll() {
  for (const h of held.splice(0)) {
    h.socket.off('disconnect');
    h.socket.close();
  }
  return { closed: true };
}

// ---------------------------------------------------------------- handle cycles

/** @type {{ agent: Held, sessionId: string, guest: Held }[]} */
const lanes = [];
/** @type {string[]} */
const credentials = [];
let admitted = 0;

/**
 * `count` lanes, each: an agent console with one live session (customer attached) and a joined
 * party's socket that will log in with the agent's handles, all on addresses of their own.
 */
async function cyclesSetup({ count, accounts }) {
  const t0 = now();
  const agents = new Array(count);
  await pool(count, 2, async (i) => {
    agents[i] = await agentConsole(accounts[i]);
  });
  await pool(count, 16, async (i) => {
    const { sessionId } = await liveSession(agents[i]);
    lanes[i] = { agent: agents[i], sessionId, guest: await connect('guest') };
  });
  return { lanes: lanes.length, ms: Math.round(now() - t0), busyRetries: counts.busyRetries };
}

/**
 * From `startAt` until `startAt + warmupMs + windowMs`, each lane runs cycles back to back: its
 * agent reserves a fresh handle, its guest socket logs in with it (consumes it) and must be
 * admitted (a credential, not waiting). Counted: cycles that completed inside the window and the
 * latency (reserve emitted → log-in answered) of those that started in it; every failure by reason.
 */
async function cyclesRun({ startAt, warmupMs, windowMs }) {
  const windowFrom = startAt + warmupMs;
  const windowTo = windowFrom + windowMs;
  await sleep(Math.max(0, startAt - now()));
  // This process's CPU over the window (sampled on schedule, like the parent's sample of the server).
  let cpu0 = null;
  let cpuS = 0;
  const sampling = Promise.all([
    sleep(windowFrom - now()).then(() => (cpu0 = process.cpuUsage())),
    sleep(windowTo - now()).then(() => {
      const d = process.cpuUsage(cpu0);
      cpuS = (d.user + d.system) / 1e6;
    }),
  ]);
  const latencies = [];
  let completedInWindow = 0;
  let completed = 0;
  const failures = {};
  const examples = [];
  const fail = (what, r) => {
    const reason = `${what}: ${r?.error?.reason ?? r?.message ?? 'no answer'}`;
    failures[reason] = (failures[reason] ?? 0) + 1;
    if (examples.length < 5) examples.push(`${reason}: ${r?.error?.message ?? ''}`);
  };
  await Promise.all(
    lanes.map(async (lane, l) => {
      let k = 0;
      while (now() < windowTo) {
        const handle = `c${WORKER}-${l}-${++k}`;
        const t0 = now();
        let r;
        try {
          r = await emit(lane.agent.socket, 'handle:reserve', { sessionId: lane.sessionId, handle });
        } catch (err) {
          fail('reserve', err);
          continue;
        }
        if (!r.ok) {
          fail('reserve', r);
          continue;
        }
        try {
          r = await emit(lane.guest.socket, 'handle:login', { name: `Guest ${handle}`, handle });
        } catch (err) {
          fail('login', err);
          continue;
        }
        const t1 = now();
        if (!r.ok || !r.credential || r.waiting) {
          fail('login', r.ok ? { message: 'not admitted (no credential, or waiting)' } : r);
          continue;
        }
        completed++;
        if (t1 >= windowFrom && t1 <= windowTo) completedInWindow++;
        if (t0 >= windowFrom && t1 <= windowTo) latencies.push(Math.round((t1 - t0) * 100) / 100);
        // A uniform sample of 200 of the credentials handed out (reservoir), for cyclesVerify.
        admitted++;
        if (credentials.length < 200) credentials.push(r.credential);
        else if (Math.random() * admitted < 200) credentials[Math.floor(Math.random() * 200)] = r.credential;
      }
    }),
  );
  await sampling;
  return { completed, completedInWindow, windowMs, cpuS, latencies, failures, examples, ...stats(0) };
}

/** Some of the credentials the cycles were given, each attached on a fresh socket: are they real? */
async function cyclesVerify({ count }) {
  const sample = credentials.slice(0, count);
  let attached = 0;
  const errors = [];
  for (const credential of sample) {
    const g = await connect('verify', false);
    try {
      const r = await emit(g.socket, 'session:attach', { credential, publicKey: publicKey() });
      if (r.ok && r.role === 'guest') attached++;
      else if (errors.length < 3) errors.push(r.error?.message ?? `role ${r.role}`);
    } finally {
      g.socket.close();
    }
  }
  return { tried: sample.length, attached, errors };
}

// ---------------------------------------------------------------- control

const handlers = { grow, stats: ({ since }) => stats(since), closeAll, cyclesSetup, cyclesRun, cyclesVerify };

const control = createConnection({ host: '127.0.0.1', port: CONTROL_PORT });
control.setEncoding('utf8');
control.on('connect', () => control.write(`${JSON.stringify({ hello: WORKER })}\n`));
control.on('error', (err) => {
  console.error(`${WORKER}: control connection failed: ${err.message}`);
  process.exit(1);
});
// The parent gone: nothing left to do.
control.on('close', () => process.exit(0));
let partial = '';
control.on('data', (chunk) => {
  const lines = (partial + chunk).split('\n');
  partial = lines.pop() ?? '';
  for (const line of lines) {
    if (!line) continue;
    const { id, type, args } = JSON.parse(line);
    const handler = handlers[type];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${type}`);
        return handler(args ?? {});
      })
      .then(
        (result) => control.write(`${JSON.stringify({ id, result })}\n`),
        (err) => control.write(`${JSON.stringify({ id, error: String(err?.stack ?? err) })}\n`),
      );
  }
});
