/**
 * The queue at scale (issue 9, S1): many agent consoles and many waiting customers on one server
 * while the queue changes at a steady rate. Used by tests/integration/reliability.test.ts (which
 * asserts completeness and correctness only) and bench/queue-scale.mjs (which reports the timings).
 *
 * Set-up: `waiting` customers ask for help (each holds its place), then `agents` consoles sign in
 * and take their snapshot. The clients live in worker threads (tests/support/queue-load-worker.mjs),
 * each with its own event loop, so a receipt time is not one thread's backlog; every socket has a
 * loopback address of its own (the server limits help requests and sign-ins per address).
 *
 * Then for `durationMs` this thread makes `changesPerSecond` changes with sockets of its own, in a
 * cycle: its agent accepts the oldest waiting request (taken: every measured customer moves up), one
 * of its customers asks for help (added, last), it cancels one of its own waiting requests (left),
 * and asks again (added). An add waits for the removal before it to be acknowledged, so the queue
 * stays at 999–1,000 and never goes past the server's cap. Each change's version comes from this
 * thread's own agent's `queue:changed`; its issue time is when it was emitted. Times everywhere are
 * `performance.timeOrigin + performance.now()`, comparable across threads.
 *
 * The pacing timer below is the load's schedule, not a wait for something to happen: every wait for
 * an outcome is on a condition, with a deadline.
 */
import { Worker } from 'node:worker_threads';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import type { Ack, AckData, ClientEvent, ClientToServerEvents, Payload, QueueChange, ServerToClientEvents } from '../../lib/protocol';

export interface QueueLoadOptions {
  /** The server, e.g. the harness's `url` or the product's base URL. */
  url: string;
  /** Agent accounts: the first is the driver's, the next `agents` the consoles'. */
  accounts: readonly { username: string; password: string }[];
  /** Agent consoles signed in (split over the workers). */
  agents: number;
  /** Customers waiting at the start (split over the workers); at most the server's cap (1,000). */
  waiting: number;
  changesPerSecond: number;
  durationMs: number;
  /** Client threads. @default 2 */
  workers?: number;
  /** How long the end may take to settle (every console and customer up to date). @default 30_000 */
  settleMs?: number;
  /** Progress lines. @default none */
  log?: (msg: string) => void;
  /** Called as the measured window starts (first change due) and ends (last change acknowledged). */
  onWindow?: (edge: 'start' | 'end') => void;
}

/** Nearest-rank figures of a set of milliseconds. */
export interface Summary {
  n: number;
  median: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

export interface ThreadFigures {
  /** Share of the window the thread's event loop was busy (0–1). */
  eventLoopUtilization: number | null;
  /** How late its timers ran (beyond the 10 ms they were set for): a loaded loop delays all it receives. */
  eventLoopDelayMs: { p50: number; p99: number; max: number } | null;
}

export interface QueueLoadResult {
  agents: number;
  waiting: number;
  workers: number;
  setup: { totalMs: number; customersMs: number; agentsMs: number; signInBusyRetries: number; snapshotVersion: number };
  changes: {
    planned: number;
    made: number;
    taken: number;
    added: number;
    left: number;
    /** Changes refused or never acknowledged (must be 0). */
    failed: number;
    /** Changes whose version the driver's own console never learned (must be 0). */
    unmatched: number;
    errors: string[];
    perSecond: number;
    /** Emit → ack at the driver: how quickly the server answers while loaded. */
    ackMs: Summary;
  };
  /** Every (console, change) pair: receipt − issue. */
  agentLatencyMs: Summary;
  /**
   * Per change: issue → the first console has it (the server's turnaround), and first → last console
   * (the fan-out to all of them, server writes and client threads' reading together).
   */
  agentFanOut: { firstMs: Summary; spreadMs: Summary };
  agentCheck: {
    expectedSamples: number;
    /** (console, change) pairs never received (must be 0). */
    missed: number;
    /** Changes received with a version not made by the driver (other queue activity). */
    unexpected: number;
    /** Received at or below the version already applied (must be 0). */
    outOfOrder: number;
    /** Versions skipped (must be 0). */
    gaps: number;
    /** Changes whose count did not follow from the one before (must be 0). */
    countJumps: number;
    /** Consoles whose final count differs from the server's (must be 0). */
    wrongFinalCount: number;
    /** Consoles whose first entries are not the server's first entries (must be 0). */
    wrongWindow: number;
    /** `queue:list` asked by consoles holding fewer than they show, as the product's console does. */
    fetches: number;
    /** … refused or unanswered (must be 0). */
    fetchErrors: number;
    /** … whose answer, brought up to date with the changes after it, disagreed with them (must be 0). */
    fetchMismatches: number;
  };
  customer: {
    customers: number;
    updates: number;
    /**
     * Most `queue:position` updates one customer got in any one-second window of receipt times (the
     * server sends at most 4; a client thread that stalls receives two at once).
     */
    maxUpdatesPerSecond: number;
    /** Most updates a second one customer got over the whole window (jitter evened out). */
    maxMeanUpdatesPerSecond: number;
    /** Shortest time between two updates to one customer. */
    minGapMs: number | null;
    /** Update receipt − issue of the oldest `taken` it reflects. */
    delayMs: Summary;
    /** Updates with a version not above the one before (must be 0). */
    stale: number;
    /** Updates whose position is not the true one at their version (must be 0). */
    wrongUpdates: number;
    /** Updates that reflect no `taken` (nothing moved the customer). */
    withoutTaken: number;
    /** Customers still waiting at the end whose last position was checked with customer:resume. */
    finalChecked: number;
    /** … whose last position is not the server's (must be 0). */
    finalWrong: number;
    finalWrongExamples: unknown[];
    /** Customers accepted by the driver who were not told (must be 0). */
    takenNotAdmitted: number;
  };
  final: { version: number; count: number };
  /** The end settled before the deadline (every console at the final version, every position current). */
  settled: boolean;
  settleWaitMs: number;
  threads: { driver: ThreadFigures; workers: ThreadFigures[] };
}

const now = () => performance.timeOrigin + performance.now();
const ACK_MS = 30_000;
const WORKER_URL = new URL('./queue-load-worker.mjs', import.meta.url);

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export function summarize(xs: ArrayLike<number>): Summary {
  const ok = Float64Array.from(xs).sort();
  if (ok.length === 0) return { n: 0, median: null, p90: null, p99: null, max: null };
  const rank = (p: number) => ok[Math.min(ok.length - 1, Math.max(0, Math.ceil(p * ok.length) - 1))]!;
  const r = (x: number) => Math.round(x * 10) / 10;
  return { n: ok.length, median: r(rank(0.5)), p90: r(rank(0.9)), p99: r(rank(0.99)), max: r(ok[ok.length - 1]!) };
}

/** Loopback addresses, one per socket: 127.<block>.<1..>.<1..250>. */
const address = (block: number, i: number) => `127.${block}.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;

function connect(url: string, localAddress: string): Promise<ClientSocket> {
  // `localAddress` reaches the Node WebSocket underneath; socket.io-client's types do not list it.
  const options = { transports: ['websocket'], forceNew: true, reconnection: false, localAddress };
  const socket: ClientSocket = io(url, options);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`driver: could not connect from ${localAddress} within ${ACK_MS} ms`));
    }, ACK_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(new Error(`driver: connect_error from ${localAddress}: ${err.message}`));
    });
  });
}

function request<E extends ClientEvent>(socket: ClientSocket, event: E, payload: Payload<E>): Promise<Ack<AckData[E]>> {
  const untyped = socket as unknown as Socket;
  return untyped.timeout(ACK_MS).emitWithAck(event, payload) as Promise<Ack<AckData[E]>>;
}

/** Resolve when `condition()` holds (checked every 20 ms), or false at `deadline`. */
async function until(condition: () => boolean, deadline: number): Promise<boolean> {
  while (!condition() && now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return condition();
}

/** One client thread, called like a function. */
class ClientThread {
  private readonly worker = new Worker(WORKER_URL);
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (x: unknown) => void; reject: (e: Error) => void }>();

  constructor(readonly index: number) {
    this.worker.on('message', ({ id, result, error }: { id: number; result?: unknown; error?: string }) => {
      const p = this.pending.get(id);
      this.pending.delete(id);
      if (error !== undefined) p?.reject(new Error(`worker ${index}: ${error}`));
      else p?.resolve(result);
    });
    const failAll = (err: Error) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', (err) => failAll(new Error(`worker ${index} failed: ${err.stack ?? err}`)));
    this.worker.on('exit', (code) => failAll(new Error(`worker ${index} exited (${code})`)));
  }

  call<T>(type: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (x: unknown) => void, reject });
      this.worker.postMessage({ id, type, ...args });
    });
  }

  async terminate(): Promise<void> {
    await this.call('close').catch(() => {});
    await this.worker.terminate();
  }
}

interface WorkerFinish {
  settled: boolean;
  settleWaitMs: number;
  thread: ThreadFigures;
  agents: {
    consoles: number;
    latencies: Float64Array;
    firstAt: Float64Array;
    lastAt: Float64Array;
    missed: number;
    unexpected: number;
    outOfOrder: number;
    gaps: number;
    countJumps: number;
    wrongCount: number;
    wrongWindow: number;
    fetches: number;
    fetchErrors: number;
    fetchMismatches: number;
  };
  customers: {
    customers: number;
    updates: number;
    delays: Float64Array;
    maxPerSecond: number;
    maxMeanPerSecond: number;
    minGapMs: number | null;
    stale: number;
    wrongUpdates: number;
    withoutTaken: number;
    finalChecked: number;
    finalWrong: number;
    finalWrongExamples: unknown[];
    takenNotAdmitted: number;
  };
}

type Kind = 'taken' | 'added' | 'left';
interface Change {
  seq: number;
  kind: Kind;
  /** taken, left: the request; added: known once acknowledged. */
  requestId?: string;
  /** added: the name it was asked with (how its queue:changed is recognised). */
  name?: string;
  issuedAt: number;
  ackedAt?: number;
  version?: number;
  error?: string;
}

interface DriverCustomer {
  socket: ClientSocket;
  requestId?: string;
  requestToken?: string;
}

/** Per change, over every worker: the first console's latency and the spread to the last. */
function fanOut(made: Change[], finishes: WorkerFinish[]): { firstMs: Summary; spreadMs: Summary } {
  const first: number[] = [];
  const spread: number[] = [];
  made.forEach((c, i) => {
    const a = Math.min(...finishes.map((w) => w.agents.firstAt[i]!));
    const b = Math.max(...finishes.map((w) => w.agents.lastAt[i]!));
    if (!Number.isFinite(a) || !Number.isFinite(b)) return;
    first.push(a - c.issuedAt);
    spread.push(b - a);
  });
  return { firstMs: summarize(first), spreadMs: summarize(spread) };
}

const split = <T>(xs: readonly T[], parts: number): T[][] =>
  Array.from({ length: parts }, (_, p) => xs.slice(Math.floor((p * xs.length) / parts), Math.floor(((p + 1) * xs.length) / parts)));

export async function runQueueLoad(opts: QueueLoadOptions): Promise<QueueLoadResult> {
  const workerCount = opts.workers ?? 2;
  const settleMs = opts.settleMs ?? 30_000;
  const log = opts.log ?? (() => {});
  if (opts.accounts.length < opts.agents + 1) throw new Error(`runQueueLoad: ${opts.agents + 1} accounts needed, got ${opts.accounts.length}`);
  const planned = Math.round((opts.durationMs / 1000) * opts.changesPerSecond);
  const threads = Array.from({ length: workerCount }, (_, i) => new ClientThread(i));
  const driverSockets: ClientSocket[] = [];
  const t0 = now();
  try {
    // ------------------------------------------------------------ set-up: customers, then consoles
    const customerList = Array.from({ length: opts.waiting }, (_, i) => ({
      name: `Customer ${i}`,
      topic: 'queue at scale',
      localAddress: address(2, i),
    }));
    const placed = (
      await Promise.all(
        split(customerList, workerCount).map((list, w) =>
          threads[w]!.call<{ requestId: string; position: number; version: number }[]>('addCustomers', { url: opts.url, list, concurrency: 16 }),
        ),
      )
    ).flat();
    const customersMs = now() - t0;
    log(`queue-load: ${placed.length} customers waiting (${(customersMs / 1000).toFixed(1)} s)`);

    // The driver's own sockets: its agent first (so the consoles' sign-ins are the only ones after),
    // and enough customers for every add of the run (a cancelled one is used again).
    const tAgents = now();
    const agentSocket = await connect(opts.url, address(4, 0));
    driverSockets.push(agentSocket);
    /** The queue in the server's order, as far as the driver needs it: who is the oldest waiting. */
    const model = [...placed].sort((a, b) => a.position - b.position).map((p) => p.requestId);
    const changes: Change[] = [];
    const byKey = new Map<string, Change>();
    const unexpected: QueueChange[] = [];
    agentSocket.on('queue:changed', (c) => {
      const key = c.added ? `added:${c.added.name}` : c.removed ? `${c.removed.because}:${c.removed.requestId}` : '';
      const change = byKey.get(key);
      if (change) {
        change.version = c.version;
        byKey.delete(key);
      } else unexpected.push(c);
      if (c.added) model.push(c.added.requestId);
      if (c.removed) {
        const i = model.indexOf(c.removed.requestId);
        if (i >= 0) model.splice(i, 1);
      }
    });
    const driverAccount = opts.accounts[0]!;
    for (;;) {
      const ack = await request(agentSocket, 'agent:signIn', driverAccount);
      if (ack.ok) break;
      if (ack.error.reason !== 'busy') throw new Error(`driver sign-in refused: ${ack.error.reason} (${ack.error.message})`);
      await new Promise((r) => setTimeout(r, ack.error.retryAfterMs ?? 500));
    }
    const adds = Math.ceil(planned / 2) + 2;
    const free: DriverCustomer[] = [];
    for (let i = 0; i < adds; i += 16) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(16, adds - i) }, (_, j) => connect(opts.url, address(4, 1 + i + j))),
      );
      driverSockets.push(...batch);
      free.push(...batch.map((socket) => ({ socket })));
    }

    const signIns = await Promise.all(
      split(
        opts.accounts.slice(1, 1 + opts.agents).map((a, i) => ({ username: a.username, password: a.password, localAddress: address(3, i) })),
        workerCount,
      ).map((list, w) =>
        // Two sign-ins at a time per thread: the server checks at most four passwords at once.
        threads[w]!.call<{ busyRetries: number; snapshotVersions: [number, number] }>('signInAgents', { url: opts.url, list, concurrency: 2 }),
      ),
    );
    const agentsMs = now() - tAgents;
    const snapshotVersion = Math.max(...signIns.map((s) => s.snapshotVersions[1]));
    log(`queue-load: ${opts.agents} consoles signed in (${(agentsMs / 1000).toFixed(1)} s), snapshot version ${snapshotVersion}`);
    // The driver's picture of the queue is the server's: its first 200 agree.
    const check = await request(agentSocket, 'queue:list', { limit: 200 });
    if (!check.ok) throw new Error(`queue:list refused: ${check.error.reason}`);
    const head = check.entries.map((e) => e.requestId);
    if (check.count !== model.length || head.some((id, i) => model[i] !== id)) {
      throw new Error(`driver: the queue is not as set up (count ${check.count}, expected ${model.length})`);
    }
    const setupMs = now() - t0;

    // ------------------------------------------------------------ the measured window
    await Promise.all(threads.map((t) => t.call('start')));
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const elu0 = performance.eventLoopUtilization();
    const own: DriverCustomer[] = [];
    const track = (change: Change, key: string) => {
      changes.push(change);
      byKey.set(key, change);
    };
    const acked = (change: Change, ack: Ack<object>) => {
      change.ackedAt = now();
      if (!ack.ok) change.error = `${change.kind}: ${ack.error.reason} (${ack.error.message})`;
      return ack.ok;
    };
    const failed = (change: Change, err: unknown) => {
      change.error = `${change.kind}: ${(err as Error).message ?? String(err)}`;
    };

    const take = async (seq: number) => {
      const requestId = model.shift();
      if (!requestId) {
        changes.push({ seq, kind: 'taken', issuedAt: now(), error: 'taken: nobody is waiting' });
        return;
      }
      const mine = own.findIndex((c) => c.requestId === requestId);
      const holder = mine >= 0 ? own.splice(mine, 1)[0] : undefined;
      const change: Change = { seq, kind: 'taken', requestId, issuedAt: now() };
      track(change, `taken:${requestId}`);
      try {
        acked(change, await request(agentSocket, 'queue:accept', { requestId }));
      } catch (err) {
        failed(change, err);
      }
      if (holder) free.push({ socket: holder.socket });
    };
    const add = async (seq: number) => {
      const c = free.shift();
      const name = `Driver ${seq}`;
      if (!c) {
        changes.push({ seq, kind: 'added', name, issuedAt: now(), error: 'added: no free customer socket' });
        return;
      }
      const change: Change = { seq, kind: 'added', name, issuedAt: now() };
      track(change, `added:${name}`);
      try {
        const ack = await request(c.socket, 'customer:request', { name, topic: 'driver' });
        if (acked(change, ack) && ack.ok) {
          change.requestId = ack.requestId;
          own.push({ socket: c.socket, requestId: ack.requestId, requestToken: ack.requestToken });
        } else free.push(c);
      } catch (err) {
        failed(change, err);
      }
    };
    const cancel = async (seq: number, addBefore: Promise<void>) => {
      if (own.length === 0) await addBefore;
      const c = own.shift();
      if (!c) {
        changes.push({ seq, kind: 'left', issuedAt: now(), error: 'left: none of the driver’s requests is waiting' });
        return;
      }
      const i = model.indexOf(c.requestId!);
      if (i >= 0) model.splice(i, 1);
      const change: Change = { seq, kind: 'left', requestId: c.requestId, issuedAt: now() };
      track(change, `left:${c.requestId}`);
      try {
        acked(change, await request(c.socket, 'customer:cancel', { requestToken: c.requestToken! }));
      } catch (err) {
        failed(change, err);
      }
      free.push({ socket: c.socket });
    };

    const cycle: Kind[] = ['taken', 'added', 'left', 'added'];
    const inFlight: Promise<void>[] = [];
    let lastRemoval: Promise<void> = Promise.resolve();
    let lastAdd: Promise<void> = Promise.resolve();
    opts.onWindow?.('start');
    const start = now();
    for (let seq = 0; seq < planned; seq++) {
      const due = start + (seq * 1000) / opts.changesPerSecond;
      if (due > now()) await new Promise((r) => setTimeout(r, due - now()));
      const kind = cycle[seq % cycle.length]!;
      let p: Promise<void>;
      // An add goes out once the removal before it is acknowledged: the queue never passes its cap.
      if (kind === 'taken') p = lastRemoval = take(seq);
      else if (kind === 'left') p = lastRemoval = cancel(seq, lastAdd);
      else p = lastAdd = lastRemoval.then(() => add(seq));
      inFlight.push(p);
    }
    await Promise.all(inFlight);
    const windowEnd = now();
    const issuedMs = windowEnd - start;
    opts.onWindow?.('end');
    // The histogram holds the time between ticks of a 10 ms timer: the lag is what exceeds 10 ms.
    const lag = (ns: number) => Math.max(0, Math.round((ns / 1e6 - 10) * 10) / 10);
    const driverThread: ThreadFigures = {
      eventLoopUtilization: Math.round(performance.eventLoopUtilization(elu0).utilization * 1000) / 1000,
      eventLoopDelayMs: { p50: lag(loop.percentile(50)), p99: lag(loop.percentile(99)), max: lag(loop.max) },
    };
    loop.disable();
    log(`queue-load: ${changes.length} changes made in ${(issuedMs / 1000).toFixed(1)} s`);

    // ------------------------------------------------------------ the end
    const settleDeadline = now() + settleMs;
    await until(() => changes.every((c) => c.error || c.version !== undefined), settleDeadline);
    const end = await request(agentSocket, 'queue:list', { limit: 200 });
    if (!end.ok) throw new Error(`queue:list refused at the end: ${end.error.reason}`);
    const made = changes.filter((c) => c.version !== undefined).sort((a, b) => a.version! - b.version!);
    const finishes = await Promise.all(
      threads.map((t) =>
        t.call<WorkerFinish>('finish', {
          changes: made.map((c) => ({ version: c.version, kind: c.kind, issuedAt: c.issuedAt, requestId: c.requestId })),
          finalVersion: end.version,
          finalCount: end.count,
          firstIds: end.entries.map((e) => e.requestId),
          settleMs: Math.max(5_000, settleDeadline - now()),
          windowEnd,
        }),
      ),
    );

    const concat = (arrays: Float64Array[]) => {
      const out = new Float64Array(arrays.reduce((s, a) => s + a.length, 0));
      let at = 0;
      for (const a of arrays) {
        out.set(a, at);
        at += a.length;
      }
      return out;
    };
    const sum = (f: (w: WorkerFinish) => number) => finishes.reduce((s, w) => s + f(w), 0);
    const issued = changes.map((c) => c.issuedAt).sort((a, b) => a - b);
    const errors = changes.filter((c) => c.error).map((c) => c.error!);
    const minGaps = finishes.map((w) => w.customers.minGapMs).filter((x): x is number => x !== null);
    return {
      agents: opts.agents,
      waiting: opts.waiting,
      workers: workerCount,
      setup: {
        totalMs: Math.round(setupMs),
        customersMs: Math.round(customersMs),
        agentsMs: Math.round(agentsMs),
        signInBusyRetries: signIns.reduce((s, x) => s + x.busyRetries, 0),
        snapshotVersion,
      },
      changes: {
        planned,
        made: made.length,
        taken: made.filter((c) => c.kind === 'taken').length,
        added: made.filter((c) => c.kind === 'added').length,
        left: made.filter((c) => c.kind === 'left').length,
        failed: errors.length,
        unmatched: changes.filter((c) => !c.error && c.version === undefined).length,
        errors: [...new Set(errors)].slice(0, 5),
        perSecond: issued.length > 1 ? Math.round(((issued.length - 1) / ((issued.at(-1)! - issued[0]!) / 1000)) * 10) / 10 : 0,
        ackMs: summarize(changes.filter((c) => c.ackedAt !== undefined).map((c) => c.ackedAt! - c.issuedAt)),
      },
      agentLatencyMs: summarize(concat(finishes.map((w) => w.agents.latencies))),
      agentFanOut: fanOut(made, finishes),
      agentCheck: {
        expectedSamples: made.length * opts.agents,
        missed: sum((w) => w.agents.missed),
        unexpected: sum((w) => w.agents.unexpected) + unexpected.length,
        outOfOrder: sum((w) => w.agents.outOfOrder),
        gaps: sum((w) => w.agents.gaps),
        countJumps: sum((w) => w.agents.countJumps),
        wrongFinalCount: sum((w) => w.agents.wrongCount),
        wrongWindow: sum((w) => w.agents.wrongWindow),
        fetches: sum((w) => w.agents.fetches),
        fetchErrors: sum((w) => w.agents.fetchErrors),
        fetchMismatches: sum((w) => w.agents.fetchMismatches),
      },
      customer: {
        customers: sum((w) => w.customers.customers),
        updates: sum((w) => w.customers.updates),
        maxUpdatesPerSecond: Math.max(...finishes.map((w) => w.customers.maxPerSecond)),
        maxMeanUpdatesPerSecond: Math.max(...finishes.map((w) => w.customers.maxMeanPerSecond)),
        minGapMs: minGaps.length ? Math.min(...minGaps) : null,
        delayMs: summarize(concat(finishes.map((w) => w.customers.delays))),
        stale: sum((w) => w.customers.stale),
        wrongUpdates: sum((w) => w.customers.wrongUpdates),
        withoutTaken: sum((w) => w.customers.withoutTaken),
        finalChecked: sum((w) => w.customers.finalChecked),
        finalWrong: sum((w) => w.customers.finalWrong),
        finalWrongExamples: finishes.flatMap((w) => w.customers.finalWrongExamples).slice(0, 3),
        takenNotAdmitted: sum((w) => w.customers.takenNotAdmitted),
      },
      final: { version: end.version, count: end.count },
      settled: finishes.every((w) => w.settled),
      settleWaitMs: Math.max(...finishes.map((w) => w.settleWaitMs)),
      threads: { driver: driverThread, workers: finishes.map((w) => w.thread) },
    };
  } finally {
    for (const s of driverSockets) s.close();
    await Promise.all(threads.map((t) => t.terminate()));
  }
}
