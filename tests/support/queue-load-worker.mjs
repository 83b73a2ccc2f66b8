// One client thread of the queue-scale scenario (tests/support/queue-load.ts drives it): it holds
// its share of the waiting customers and of the agent consoles, each a real socket.io connection on
// a loopback address of its own, records what they receive with the time it arrived
// (performance.timeOrigin + performance.now(), comparable across threads), and at the end checks it
// against the changes the driver made. Plain JS: a worker thread loads it without a TypeScript loader.
//
// Messages from the driver: { id, type, ...args }; answers: { id, result } or { id, error }.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { io } from 'socket.io-client';

const now = () => performance.timeOrigin + performance.now();
const ACK_MS = 30_000;
/**
 * What the product's console does (app/agent/WaitingCustomers.tsx): it shows ten and holds the head
 * of the queue (twenty), kept whole by each removal's `next`; should it ever hold fewer than ten
 * while more wait, it asks for twenty.
 */
const SHOWN = 10;
const FETCH_LIMIT = 20;
/** Changes kept per console to bring a `queue:list` answer up to date. */
const RECENT = 256;

/**
 * Waiting customers: what the request was answered with, every `queue:position` received, the
 * highest version among them, and when `customer:admitted` came.
 * @type {{ socket: import('socket.io-client').Socket, requestId: string, requestToken: string, ackPosition: number, ackVersion: number, latest: number, updates: {position: number, version: number, at: number}[], admittedAt: number | null }[]}
 */
const customers = [];
/**
 * Agent consoles: what they know of the queue, and every `queue:changed` received as two parallel
 * arrays (versions, receipt times): hundreds of thousands of entries, kept out of the heap's objects.
 * @type {{ socket: import('socket.io-client').Socket, username: string, ready: boolean, buffered: object[], version: number, count: number, known: string[], rv: number[], rt: number[], outOfOrder: number, gaps: number, countJumps: number }[]}
 */
const consoles = [];
let measuredFrom = 0;
let loop = null;
let eluStart = null;

function connect(url, localAddress) {
  const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, localAddress });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`could not connect from ${localAddress} within ${ACK_MS} ms`));
    }, ACK_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(new Error(`connect_error from ${localAddress}: ${err.message}`));
    });
  });
}

const request = (socket, event, payload) => socket.timeout(ACK_MS).emitWithAck(event, payload);

/** Run `fn` over `items`, at most `limit` at a time; the first failure rejects. */
async function pool(items, limit, fn) {
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}

/** Resolve when `condition()` holds (checked every 20 ms: a deadline, not a sleep), or at `deadline`. */
async function until(condition, deadline) {
  while (!condition() && now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return condition();
}

// ---------------------------------------------------------------- set-up

async function addCustomers({ url, list, concurrency }) {
  const out = new Array(list.length);
  await pool(list, concurrency, async ({ name, topic, localAddress }, i) => {
    const socket = await connect(url, localAddress);
    const c = { socket, requestId: '', requestToken: '', ackPosition: 0, ackVersion: 0, latest: 0, updates: [], admittedAt: null };
    socket.on('queue:position', (p) => {
      c.updates.push({ position: p.position, version: p.version, at: now() });
      c.latest = Math.max(c.latest, p.version);
    });
    socket.on('customer:admitted', () => {
      c.admittedAt ??= now();
    });
    const ack = await request(socket, 'customer:request', { name, topic });
    if (!ack.ok) throw new Error(`customer:request from ${localAddress} refused: ${ack.error.reason} (${ack.error.message})`);
    Object.assign(c, { requestId: ack.requestId, requestToken: ack.requestToken, ackPosition: ack.position, ackVersion: ack.version });
    c.latest = Math.max(c.latest, ack.version);
    customers.push(c);
    out[i] = { requestId: ack.requestId, position: ack.position, version: ack.version };
  });
  return out;
}

/** One change to a prefix of the queue and its count (a newcomer is appended only to the whole queue). */
function step(known, count, c) {
  const complete = known.length === count;
  if (c.removed) {
    const i = known.indexOf(c.removed.requestId);
    if (i >= 0) {
      known.splice(i, 1);
      // The one who moved into the last place of the head it holds (lib/client/queue-view.ts).
      if (c.next && known.length === c.next.place - 1) known.push(c.next.entry.requestId);
    }
  }
  if (c.added && complete) known.push(c.added.requestId);
  return c.count;
}

/**
 * The console holds fewer than it shows: it asks for more, and brings the answer up to date with
 * the changes it received after the version the answer was read at.
 */
function maybeFetch(k) {
  if (!k.ready || k.fetching || k.known.length >= Math.min(SHOWN, k.count)) return;
  k.fetching = true;
  k.fetches++;
  request(k.socket, 'queue:list', { limit: FETCH_LIMIT })
    .then((ack) => {
      k.fetching = false;
      if (!ack.ok) {
        k.fetchErrors++;
        return;
      }
      const known = ack.entries.map((e) => e.requestId);
      let count = ack.count;
      let version = ack.version;
      for (const c of k.recent) {
        if (c.version <= version) continue;
        count = step(known, count, c);
        version = c.version;
      }
      // Brought up to date, the answer must agree with what the changes told this console.
      if (version !== k.version || count !== k.count) k.fetchMismatches++;
      k.known = known;
      maybeFetch(k);
    })
    .catch(() => {
      k.fetching = false;
      k.fetchErrors++;
    });
}

/** A console applies one change to what it knows: the queue's count and its first entries. */
function apply(k, c) {
  k.recent.push(c);
  if (k.recent.length > RECENT) k.recent.shift();
  if (c.version <= k.version) {
    k.outOfOrder++;
    return;
  }
  if (c.version !== k.version + 1) k.gaps++;
  if (c.count !== k.count + (c.added ? 1 : 0) - (c.removed ? 1 : 0)) k.countJumps++;
  k.count = step(k.known, k.count, c);
  k.version = c.version;
  maybeFetch(k);
}

async function signInAgents({ url, list, concurrency }) {
  let busyRetries = 0;
  const versions = [];
  await pool(list, concurrency, async ({ username, password, localAddress }) => {
    const socket = await connect(url, localAddress);
    const k = {
      socket,
      username,
      ready: false,
      buffered: [],
      version: 0,
      count: 0,
      known: [],
      rv: [],
      rt: [],
      recent: [],
      fetching: false,
      fetches: 0,
      fetchErrors: 0,
      fetchMismatches: 0,
      outOfOrder: 0,
      gaps: 0,
      countJumps: 0,
    };
    socket.on('queue:changed', (c) => {
      k.rt.push(now());
      k.rv.push(c.version);
      if (k.ready) apply(k, c);
      else k.buffered.push(c);
    });
    for (;;) {
      const ack = await request(socket, 'agent:signIn', { username, password });
      if (ack.ok) {
        k.version = ack.queue.version;
        k.count = ack.queue.count;
        k.known = ack.queue.entries.map((e) => e.requestId);
        // Changes that came before the answer: the snapshot already includes those up to its version.
        for (const c of k.buffered.splice(0)) if (c.version > k.version) apply(k, c);
        k.ready = true;
        maybeFetch(k);
        versions.push(k.version);
        break;
      }
      if (ack.error.reason !== 'busy') throw new Error(`agent:signIn ${username} refused: ${ack.error.reason} (${ack.error.message})`);
      busyRetries++;
      await new Promise((r) => setTimeout(r, ack.error.retryAfterMs ?? 500));
    }
    consoles.push(k);
  });
  return { busyRetries, snapshotVersions: [Math.min(...versions), Math.max(...versions)] };
}

function start() {
  measuredFrom = now();
  eluStart = performance.eventLoopUtilization();
  loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  return { at: measuredFrom };
}

function threadFigures() {
  const elu = eluStart ? performance.eventLoopUtilization(eluStart) : null;
  loop?.disable();
  // The histogram holds the time between ticks of a 10 ms timer: the lag is what exceeds 10 ms.
  const ms = (ns) => Math.max(0, Math.round((ns / 1e6 - 10) * 10) / 10);
  return {
    eventLoopUtilization: elu ? Math.round(elu.utilization * 1000) / 1000 : null,
    eventLoopDelayMs: loop ? { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) } : null,
  };
}

// ---------------------------------------------------------------- the end: check and measure

/**
 * `changes`: every change the driver made, { version, kind, issuedAt, requestId }, version order.
 * `finalVersion`/`finalCount`/`firstIds`: the server's queue at the end (queue:list).
 */
async function finish({ changes, finalVersion, finalCount, firstIds, settleMs, windowEnd }) {
  const thread = threadFigures();
  const deadline = now() + settleMs;
  const takens = changes.filter((c) => c.kind === 'taken');
  const takenIds = new Set(takens.map((c) => c.requestId));
  const lastTaken = takens.at(-1)?.version ?? 0;

  // Settle, by condition: every console has the last change; every customer still waiting has a
  // position as of the last change that moved it; every customer taken has been told.
  const waiting = () => customers.filter((c) => !takenIds.has(c.requestId));
  const settled = await until(
    () =>
      consoles.every((k) => k.version >= finalVersion) &&
      waiting().every((c) => c.latest >= lastTaken) &&
      customers.every((c) => !takenIds.has(c.requestId) || c.admittedAt !== null),
    deadline,
  );
  const settleWaitMs = Math.round(now() - (deadline - settleMs));

  // Agent consoles: latency of every (console, change) pair; what is missing or out of place; the
  // first and last receipt of each change here (how long its fan-out took).
  const issuedAt = new Map(changes.map((c) => [c.version, c.issuedAt]));
  const indexOf = new Map(changes.map((c, i) => [c.version, i]));
  const firstAt = new Float64Array(changes.length).fill(Infinity);
  const lastAt = new Float64Array(changes.length).fill(-Infinity);
  const latencies = new Float64Array(consoles.length * changes.length);
  let n = 0;
  let missed = 0;
  let unexpected = 0;
  let outOfOrder = 0;
  let gaps = 0;
  let countJumps = 0;
  let wrongCount = 0;
  let wrongWindow = 0;
  let fetches = 0;
  let fetchErrors = 0;
  let fetchMismatches = 0;
  for (const k of consoles) {
    const seen = new Set();
    for (let j = 0; j < k.rv.length; j++) {
      const version = k.rv[j];
      const at = k.rt[j];
      if (seen.has(version)) continue;
      seen.add(version);
      const t = issuedAt.get(version);
      if (t !== undefined) {
        latencies[n++] = at - t;
        const i = indexOf.get(version);
        firstAt[i] = Math.min(firstAt[i], at);
        lastAt[i] = Math.max(lastAt[i], at);
      } else if (version > changes[0]?.version) unexpected++;
    }
    for (const c of changes) if (!seen.has(c.version)) missed++;
    outOfOrder += k.outOfOrder;
    gaps += k.gaps;
    countJumps += k.countJumps;
    fetches += k.fetches;
    fetchErrors += k.fetchErrors;
    fetchMismatches += k.fetchMismatches;
    if (k.count !== finalCount) wrongCount++;
    if (k.known.some((id, i) => firstIds[i] !== id) || k.known.length > firstIds.length) wrongWindow++;
  }

  // Customers: how often they were told, how late, and whether what they were told was right.
  // Every change the driver makes is behind every measured customer except `taken` (the oldest
  // waiting), so a customer's true place at version v is its first place less the takens since.
  const takenVersions = takens.map((c) => c.version);
  const takenIssued = takens.map((c) => c.issuedAt);
  const firstTakenAfter = (v) => {
    let lo = 0;
    let hi = takenVersions.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (takenVersions[mid] > v) hi = mid;
      else lo = mid + 1;
    }
    return lo; // index of the first taken with version > v
  };
  const delays = [];
  let maxPerSecond = 0;
  let maxMeanPerSecond = 0;
  let minGapMs = Infinity;
  let stale = 0;
  let wrongUpdates = 0;
  let withoutTaken = 0;
  let updates = 0;
  for (const c of customers) {
    let prevVersion = c.ackVersion;
    const times = [];
    for (const u of c.updates) {
      updates++;
      if (u.version <= prevVersion) {
        stale++;
        continue;
      }
      const from = firstTakenAfter(prevVersion);
      const to = firstTakenAfter(u.version); // takens in (prevVersion, u.version] are [from, to)
      if (to > from) delays.push(u.at - takenIssued[from]);
      else withoutTaken++;
      if (u.position !== c.ackPosition - firstTakenAfter(u.version) + firstTakenAfter(c.ackVersion)) wrongUpdates++;
      prevVersion = u.version;
      if (u.at >= measuredFrom) times.push(u.at);
    }
    for (let i = 1; i < times.length; i++) minGapMs = Math.min(minGapMs, times[i] - times[i - 1]);
    // Over the whole window (receipt jitter evens out): updates a second.
    const inWindow = times.filter((t) => t <= windowEnd).length;
    maxMeanPerSecond = Math.max(maxMeanPerSecond, inWindow / ((windowEnd - measuredFrom) / 1000));
    // Most updates in any one-second window [t, t + 1000).
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[i] - times[j] >= 1000) j++;
      maxPerSecond = Math.max(maxPerSecond, i - j + 1);
    }
  }

  // Where each customer still waiting really is: its last position against the server's answer.
  let finalChecked = 0;
  let finalWrong = 0;
  const finalWrongExamples = [];
  await Promise.all(
    waiting().map(async (c) => {
      const ack = await request(c.socket, 'customer:resume', { requestToken: c.requestToken });
      finalChecked++;
      const last = c.updates.reduce((best, u) => (u.version > best.version ? u : best), { position: c.ackPosition, version: c.ackVersion });
      const ok = ack.ok && 'position' in ack && ack.position === last.position;
      if (!ok) {
        finalWrong++;
        if (finalWrongExamples.length < 3) finalWrongExamples.push({ told: last, server: ack });
      }
    }),
  );
  const takenNotAdmitted = customers.filter((c) => takenIds.has(c.requestId) && c.admittedAt === null).length;

  const lat = latencies.slice(0, n);
  const del = Float64Array.from(delays);
  return {
    transfer: [lat.buffer, del.buffer, firstAt.buffer, lastAt.buffer],
    result: {
      settled,
      settleWaitMs,
      thread,
      agents: { consoles: consoles.length, latencies: lat, firstAt, lastAt, missed, unexpected, outOfOrder, gaps, countJumps, wrongCount, wrongWindow, fetches, fetchErrors, fetchMismatches },
      customers: {
        customers: customers.length,
        updates,
        delays: del,
        maxPerSecond,
        maxMeanPerSecond: Math.round(maxMeanPerSecond * 100) / 100,
        minGapMs: Number.isFinite(minGapMs) ? Math.round(minGapMs * 10) / 10 : null,
        stale,
        wrongUpdates,
        withoutTaken,
        finalChecked,
        finalWrong,
        finalWrongExamples,
        takenNotAdmitted,
        takenHere: customers.filter((c) => takenIds.has(c.requestId)).length,
      },
    },
  };
}

function close() {
  for (const c of customers) c.socket.close();
  for (const k of consoles) k.socket.close();
  customers.length = 0;
  consoles.length = 0;
  return {};
}

const handlers = { addCustomers, signInAgents, start, finish, close };

parentPort.on('message', async ({ id, type, ...args }) => {
  try {
    const out = await handlers[type](args);
    if (out && out.transfer) parentPort.postMessage({ id, result: out.result }, out.transfer);
    else parentPort.postMessage({ id, result: out });
  } catch (err) {
    parentPort.postMessage({ id, error: String(err?.stack ?? err) });
  }
});
