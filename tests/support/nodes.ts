/**
 * Scale-out tests run REAL signaling nodes: signaling/main.ts compiled and run by plain node, as
 * `npm run signaling` runs it (scripts/server-bundle.mjs, compiled once per test process), one process each, all on one Redis under the test's key prefix, on
 * loopback. A node is ready when it logs `Join Us signaling is ready on port N` (pino JSON on stdout)
 * and, unless told otherwise, its /healthz answers 200 (its store is reachable): waited for until a
 * deadline, never slept for.
 *
 *   const cluster = await startNodes(3, { redisUrl: redis.url, prefix: uniquePrefix() });
 *   const [n1, n2, n3] = cluster.nodes;
 *   await n1.kill();       // SIGKILL: a crash
 *   await n2.restart();    // the same port, a new process
 *
 * Every node's output (stdout and stderr) is kept and printed when the test fails. A node that exits
 * without the test asking it to (a crash) fails the test at teardown, with its output. Nodes started
 * in a test are killed after it (`onTeardown`); with `scope: 'file'` the caller closes them in its
 * `afterAll`. If this process dies first, the kernel kills them (setpriv's parent-death signal) and
 * an exit handler does too: none is ever left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeEach } from 'vitest';
import { serverArgs } from '../../scripts/server-bundle.mjs';
import { hashPassword } from '../../signaling/core/passwords';
import { onTeardown, testAgents } from './signaling';

const HOST = '127.0.0.1';
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** signaling/main.ts compiled, once for every node this process starts. */
let compiled: Promise<string[]> | null = null;
const nodeArgs = () => (compiled ??= serverArgs(REPO_ROOT, 'signaling'));
const READY = /^Join Us signaling is ready on port (\d+)$/;
/** How long a node may take to log that it is ready (three start at once on two cores in ~2.5 s). */
const START_TIMEOUT_MS = 20_000;
/** How long `stop()` waits after SIGTERM before SIGKILL (the node itself gives up after 3 s). */
const KILL_AFTER_MS = 5_000;
/** Output kept per node, the newest. */
const OUTPUT_CHARS = 400_000;

export interface Health {
  status: number;
  body: { ok?: boolean; store?: string | null; node?: string | null } | null;
}

export interface NodeProcess {
  /** "node 1", "node 2", … as in the output. */
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** The node's id in Redis (connection ids, leases); changes with each restart. */
  nodeId(): string | null;
  pid(): number | null;
  /** The process is running (it may still be starting). */
  running(): boolean;
  /** SIGKILL: a crash. Resolves once the process has exited. */
  kill(): Promise<void>;
  /** SIGTERM: a clean shutdown. Resolves once the process has exited. */
  stop(): Promise<void>;
  /** Stop (SIGTERM) if it runs, then start a new process on the same port and wait until it is ready. */
  restart(opts?: { healthy?: boolean }): Promise<void>;
  /** GET /healthz. Throws when nothing answers. */
  healthz(): Promise<Health>;
  /** Everything this node's processes wrote, oldest first. */
  output(): string;
}

export interface NodeSet {
  readonly nodes: NodeProcess[];
  /** Every node's output, one block each. */
  output(): string;
  /** Nodes that exited without being asked to, each with its output (empty while all is well). */
  crashes(): string[];
  /** Kill every node (SIGKILL), then fail if any had exited on its own before. */
  close(): Promise<void>;
}

export interface StartNodesOptions {
  redisUrl: string;
  /** JOINUS_REDIS_PREFIX: one per test (tests/support/redis.ts `uniquePrefix`). */
  prefix: string;
  /** More environment for every node (JOINUS_GRACE_MS, JOINUS_NODE_LEASE_MS, …). */
  env?: Record<string, string>;
  /** Also wait until /healthz answers 200 (the node reaches Redis). @default true */
  healthy?: boolean;
  /** 'test': killed after the current test. 'file': the caller closes them (afterAll). @default 'test' */
  scope?: 'test' | 'file';
  /** Their names in output and messages. @default "node 1", "node 2", … */
  names?: string[];
}

/** Children whose exit a test asked for (stop, kill, restart, teardown): not crashes. */
const expected = new WeakSet<ChildProcess>();

/** Children alive in this process, killed if it exits first. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Sets of nodes not closed yet: their output is printed when a test fails. */
const live = new Set<NodeSet & { mark(): () => string }>();
/** Sets started by the running test (kept after they are closed, for the failure report). */
let startedInTest: NodeSet[] | null = null;

beforeEach(({ onTestFailed }) => {
  // Sets that outlive tests (scope 'file'): only what they wrote during this test.
  const since = [...live].map((set) => set.mark());
  const started: NodeSet[] = [];
  startedInTest = started;
  onTestFailed(() => {
    const blocks = [...since.map((sinceMark) => sinceMark()), ...started.map((s) => s.output())];
    const text = blocks.filter((b) => b.trim() !== '').join('\n');
    if (text) console.error(`---- signaling node output (this test) ----\n${text}\n---- end of node output ----`);
  });
});

/**
 * The test agents' passwords as cheap scrypt hashes (the lowest cost the product accepts): nodes
 * start without hashing them, and sign-ins cost a millisecond.
 */
let agentsValue: Promise<string> | null = null;
function agentsEnv(): Promise<string> {
  agentsValue ??= Promise.all(Object.entries(testAgents).map(async ([name, pw]) => `${name}:${await hashPassword(pw, 10)}`)).then(
    (pairs) => pairs.join(','),
  );
  return agentsValue;
}

/** The environment of a node: ours, without settings of the developer's shell that would change it. */
function nodeEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(JOINUS_|REDIS_|VITEST|NODE_OPTIONS$|PORT$|HOST$|LOG_LEVEL$)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export async function startNodes(n: number, opts: StartNodesOptions): Promise<NodeSet> {
  const agents = await agentsEnv();
  const base = {
    HOST,
    REDIS_URL: opts.redisUrl,
    JOINUS_REDIS_PREFIX: opts.prefix,
    JOINUS_AGENTS: agents,
    // Tests give each client an address of its own with X-Forwarded-For (one proxy hop trusted).
    JOINUS_TRUST_PROXY: '1',
    // Proofs of work the tests can solve in a moment.
    JOINUS_POW_STEPS: '20',
    JOINUS_FRAME_CHECK: 'off',
    LOG_LEVEL: 'info',
    ...opts.env,
  };
  const nodes = Array.from({ length: n }, (_, i) => new Node(opts.names?.[i] ?? `node ${i + 1}`, base));
  const set = {
    nodes: nodes as NodeProcess[],
    output: () => nodes.map((node) => node.output()).join('\n'),
    crashes: () => nodes.flatMap((node) => node.crashes),
    mark: () => {
      const at = nodes.map((node) => node.outputLength());
      return () => nodes.map((node, i) => node.output(at[i])).join('\n');
    },
    close: async () => {
      live.delete(set);
      await Promise.all(nodes.map((node) => node.kill()));
      const crashes = nodes.flatMap((node) => node.crashes);
      if (crashes.length > 0) throw new Error(`A signaling node exited without being asked to:\n${crashes.join('\n\n')}`);
    },
  };
  live.add(set);
  startedInTest?.push(set);
  if ((opts.scope ?? 'test') === 'test') onTeardown(set.close);
  try {
    // Each takes a free port of its own (PORT=0) and keeps it across restarts.
    await Promise.all(nodes.map((node) => node.start(opts.healthy ?? true)));
  } catch (err) {
    if ((opts.scope ?? 'test') === 'file') await set.close().catch(() => {});
    throw err;
  }
  return set;
}

class Node implements NodeProcess {
  private child: ChildProcess | null = null;
  private log = '';
  private dropped = 0;
  private portValue = 0;
  private id: string | null = null;
  /** Exits nobody asked for, each with the output before it. */
  readonly crashes: string[] = [];

  constructor(
    readonly name: string,
    private readonly env: Record<string, string>,
  ) {}

  get port(): number {
    return this.portValue;
  }

  get url(): string {
    return `http://${HOST}:${this.portValue}`;
  }

  nodeId(): string | null {
    return this.id;
  }

  pid(): number | null {
    return this.child?.pid ?? null;
  }

  running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  outputLength(): number {
    return this.dropped + this.log.length;
  }

  output(from = 0): string {
    const start = Math.max(0, from - this.dropped);
    const text = this.log.slice(start);
    return text ? `[${this.name}]\n${text}` : '';
  }

  private write(text: string): void {
    this.log += text;
    if (this.log.length > OUTPUT_CHARS) {
      const cut = this.log.length - OUTPUT_CHARS;
      this.log = this.log.slice(cut);
      this.dropped += cut;
    }
  }

  async start(healthy: boolean): Promise<void> {
    const env = nodeEnv({ ...this.env, PORT: String(this.portValue) });
    const args = await nodeArgs();
    // setpriv: the kernel kills the node if this process dies without running its exit handlers.
    const [command, commandArgs]: [string, string[]] = existsSync('/usr/bin/setpriv')
      ? ['/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', process.execPath, ...args]]
      : [process.execPath, args];
    const crashesBefore = this.crashes.length;
    const child: ChildProcess = spawn(command, commandArgs, { cwd: REPO_ROOT, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    running.add(child);
    this.write(`---- started pid ${child.pid} (port ${this.portValue || 'any'}) ----\n`);

    let ready: (port: number, nodeId: string | null) => void = () => {};
    const readyLine = new Promise<{ port: number; nodeId: string | null }>((resolve) => {
      ready = (port, nodeId) => resolve({ port, nodeId });
    });
    let pending = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      this.write(text);
      pending += text;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        let entry: { msg?: unknown; port?: unknown; node?: unknown };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          continue;
        }
        const m = typeof entry.msg === 'string' ? READY.exec(entry.msg) : null;
        if (m && typeof entry.port === 'number') ready(entry.port, typeof entry.node === 'string' ? entry.node : null);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => this.write(chunk.toString()));
    const exited = new Promise<string>((resolve) => {
      child.once('error', (err) => resolve(`could not start: ${err.message}`));
      child.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
        running.delete(child);
        this.write(`---- pid ${child.pid} exited (${signal ?? `code ${code}`}) ----\n`);
        if (!expected.has(child)) this.crashes.push(`${this.name} (pid ${child.pid}) exited by itself (${signal ?? `code ${code}`}):\n${this.output()}`);
        resolve(`exited (${signal ?? `code ${code}`})`);
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`not ready within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    });
    const outcome = await Promise.race([readyLine, exited, deadline]);
    clearTimeout(timer);
    if (typeof outcome === 'string') {
      await this.end('SIGKILL');
      this.crashes.length = crashesBefore; // reported here, not again at teardown
      throw new Error(`${this.name} did not start: ${outcome}.\n${this.output()}`);
    }
    if (this.portValue !== 0 && outcome.port !== this.portValue) {
      throw new Error(`${this.name} came back on port ${outcome.port}, not ${this.portValue}`);
    }
    this.portValue = outcome.port;
    this.id = outcome.nodeId;
    if (healthy) await this.untilHealthy(Date.now() + START_TIMEOUT_MS);
  }

  private async untilHealthy(deadline: number): Promise<void> {
    let last = 'no answer';
    while (Date.now() < deadline) {
      if (!this.running()) throw new Error(`${this.name} exited before it was healthy.\n${this.output()}`);
      try {
        const h = await this.healthz();
        if (h.status === 200) return;
        last = `${h.status} ${JSON.stringify(h.body)}`;
      } catch (err) {
        last = (err as Error).message;
      }
      // Asking again at once would only load the node that is starting: a short pause between asks.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`${this.name}: /healthz not 200 within ${START_TIMEOUT_MS} ms (last: ${last}).\n${this.output()}`);
  }

  private async end(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    expected.add(child);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    await gone;
    clearTimeout(timer);
  }

  kill(): Promise<void> {
    return this.end('SIGKILL');
  }

  stop(): Promise<void> {
    return this.end('SIGTERM');
  }

  async restart(opts: { healthy?: boolean } = {}): Promise<void> {
    await this.stop();
    await this.start(opts.healthy ?? true);
  }

  async healthz(): Promise<Health> {
    const res = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(2_000) });
    const text = await res.text();
    let body: Health['body'] = null;
    try {
      body = JSON.parse(text) as Health['body'];
    } catch {
      body = null;
    }
    return { status: res.status, body };
  }
}
