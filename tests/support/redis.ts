/**
 * Tests start and stop their own redis-server (Debian's `/usr/bin/redis-server`; `npm test` installs
 * the package when it is missing), on loopback, on a free port, with nothing written to disk. Each
 * test gets a key prefix of its own (`uniquePrefix`), so the tests of a file can share one server.
 *
 *   const redis = await startRedis();     // beforeAll
 *   const client = createRedisClient(redis.url);
 *   …
 *   await redis.stop();                    // afterAll
 *
 * `stop`, `kill` and `restart` let a test take Redis away (cleanly or as a crash) and bring it back on
 * the same port, so clients reconnect to it. Readiness is a PING answered, retried until a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { freePort } from './ports';

export const REDIS_SERVER = '/usr/bin/redis-server';
const HOST = '127.0.0.1';
/** How long redis-server may take to answer its first PING. */
const START_TIMEOUT_MS = 10_000;
/** How long `stop()` waits after SIGTERM before SIGKILL. */
const KILL_AFTER_MS = 2_000;
/** Ports lost to a race between our check and redis-server's bind before startRedis gives up. */
const MAX_CLASHES = 3;

export interface RedisServer {
  url: string;
  port: number;
  /** Shut down (SIGTERM) and wait until the process has exited. Nothing is kept: no persistence. */
  stop(): Promise<void>;
  /** Crash (SIGKILL) and wait until the process has exited. */
  kill(): Promise<void>;
  /** Stop if running, then start again on the same port, empty, and wait until it answers. */
  restart(): Promise<void>;
}

/** Live servers, killed if this process exits first. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

let prefixes = 0;

/** A key prefix no other test (of any process) uses. */
export function uniquePrefix(): string {
  return `test-${process.pid}-${++prefixes}-${randomBytes(4).toString('hex')}`;
}

export async function startRedis(opts: { args?: string[] } = {}): Promise<RedisServer> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`redis-server is not installed (${REDIS_SERVER}): apt-get install -y redis-server`);
  const extra = opts.args ?? [];
  let lastClash = '';
  for (let clashes = 0; clashes < MAX_CLASHES; clashes++) {
    const port = await freePort();
    const started = await launch(port, extra);
    if (!started.ok) {
      if (!started.clash) throw new Error(started.error);
      lastClash = started.error; // something took the port between our check and the bind
      continue;
    }
    let child: ChildProcess | null = started.child;
    const end = async (signal: NodeJS.Signals) => {
      if (!child) return;
      const c = child;
      child = null;
      await terminate(c, signal);
    };
    return {
      port,
      url: `redis://${HOST}:${port}`,
      stop: () => end('SIGTERM'),
      kill: () => end('SIGKILL'),
      restart: async () => {
        await end('SIGTERM');
        const again = await launch(port, extra);
        if (!again.ok) throw new Error(`redis-server did not start again on port ${port}: ${again.error}`);
        child = again.child;
      },
    };
  }
  throw new Error(`No free port for redis-server after ${MAX_CLASHES} clashes.\nLast attempt: ${lastClash}`);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  const gone = exited(child);
  child.kill(signal);
  const timer = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
  await gone;
  clearTimeout(timer);
  running.delete(child);
}

type Launch = { ok: true; child: ChildProcess } | { ok: false; clash: boolean; error: string };

async function launch(port: number, extra: string[]): Promise<Launch> {
  const args = ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--loglevel', 'warning', ...extra];
  // setpriv makes the kernel kill redis-server if this process dies without running its exit handlers.
  const [command, commandArgs] = existsSync('/usr/bin/setpriv')
    ? ['/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', REDIS_SERVER, ...args]]
    : [REDIS_SERVER, args];
  const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const failure = new Promise<string>((resolve) => {
    child.once('error', (err) => resolve(err.message));
    child.once('exit', (code, signal) => resolve(`exited (${signal ?? `code ${code}`})`));
  });
  const abort = { aborted: false };
  const ready = untilPong(port, Date.now() + START_TIMEOUT_MS, abort).then(
    () => null,
    (err: Error) => err.message,
  );
  const problem = await Promise.race([ready, failure]);
  abort.aborted = true;
  if (problem === null) return { ok: true, child };
  await terminate(child, 'SIGKILL');
  return {
    ok: false,
    clash: /Address already in use/i.test(output),
    error: `redis-server did not start on ${HOST}:${port}: ${problem}.\n$ ${REDIS_SERVER} ${args.join(' ')}\n${output.trim()}`,
  };
}

/** PINGs until answered with PONG (a refused connection is tried again after a moment). */
async function untilPong(port: number, deadline: number, abort: { aborted: boolean }): Promise<void> {
  let last = 'no answer';
  while (!abort.aborted && Date.now() < deadline) {
    try {
      if (await ping(port, Math.min(500, deadline - Date.now()))) return;
      last = 'not PONG';
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  if (!abort.aborted) throw new Error(`no PONG within ${START_TIMEOUT_MS} ms (${last})`);
}

/** One PING over a fresh connection: true when the answer is +PONG. */
export function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: HOST });
    let answer = '';
    const done = (err: Error | null, pong = false) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(pong);
    };
    const timer = setTimeout(() => done(new Error(`no answer to PING in ${timeoutMs} ms`)), timeoutMs);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) done(null, answer.startsWith('+PONG'));
    });
    socket.on('error', (err) => done(err));
    socket.on('close', () => done(new Error('connection closed')));
  });
}
