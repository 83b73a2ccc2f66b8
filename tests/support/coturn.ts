/**
 * Tests start and stop their own coturn (Debian's `/usr/bin/turnserver`), on loopback, with the
 * REST-style shared secret the product uses (`use-auth-secret`), and talk to it with a minimal
 * STUN/TURN client (Binding, and Allocate with long-term credentials) written here.
 *
 * Ports. coturn binds its listening port with SO_REUSEPORT, so a second coturn of the same user on the
 * same port would silently share it instead of failing. Each coturn therefore gets a block of 100
 * ports, 61000 + 100·slot (slot 0–39), owned by whoever holds a TCP listener on the block's first
 * port (the kernel frees it when the process dies: no lock files to go stale). The block's last port
 * is coturn's listening port (UDP and TCP), the 98 between are its relay ports. 61000–64999 lies above
 * Linux's ephemeral range (32768–60999), so outgoing connections never take them.
 *
 * Readiness is a STUN Binding request answered on UDP and on TCP, retried until a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac, randomBytes, randomInt } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TURNSERVER = '/usr/bin/turnserver';
const HOST = '127.0.0.1';
const REALM = 'joinus';
const FIRST_BLOCK = 61_000;
const BLOCKS = 40;
const BLOCK_SIZE = 100;
/** How long coturn may take to answer its first Binding request. */
const START_TIMEOUT_MS = 10_000;
/** Ports lost to a race after our check before startCoturn gives up (each costs a coturn start). */
const MAX_CLASHES = 3;
/** How long `stop()` waits after SIGTERM before SIGKILL. */
const KILL_AFTER_MS = 2_000;

export interface Coturn {
  port: number;
  secret: string;
  urls: string[];
  stop(): Promise<void>;
}

/**
 * REST credentials as coturn's `use-auth-secret` checks them. FOR TESTS ONLY (the product has its own
 * implementation; tests may cross-check it against this one).
 */
export function turnRestCredentials(secret: string, id: string, ttlSeconds: number, nowMs = Date.now()): { username: string; credential: string } {
  const username = `${Math.floor(nowMs / 1000) + ttlSeconds}:${id}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

// ------------------------------------------------------------------ process lifetime

/** Live coturns and their temporary directories, killed and removed if this process exits first. */
const running = new Map<ChildProcess, string>();
process.on('exit', () => {
  for (const [child, dir] of running) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

function listenExclusive(port: number): Promise<Server | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen({ port, host: HOST, exclusive: true }, () => resolve(server.unref()));
  });
}

/** True when nobody holds `port` on 127.0.0.1, for UDP and for TCP. */
async function portIsFree(port: number): Promise<boolean> {
  const tcp = await listenExclusive(port);
  if (!tcp) return false;
  const udpFree = await new Promise<boolean>((resolve) => {
    const udp = createSocket('udp4');
    udp.once('error', () => {
      udp.close();
      resolve(false);
    });
    udp.bind(port, HOST, () => udp.close(() => resolve(true)));
  });
  await new Promise((resolve) => tcp.close(resolve));
  return udpFree;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function kill(child: ChildProcess): Promise<void> {
  const gone = exited(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
  await gone;
  clearTimeout(timer);
  running.delete(child);
}

export async function startCoturn(opts: { secret?: string } = {}): Promise<Coturn> {
  if (!existsSync(TURNSERVER)) throw new Error(`coturn is not installed (${TURNSERVER}): apt-get install -y coturn`);
  const secret = opts.secret ?? randomBytes(16).toString('hex');
  const first = randomInt(BLOCKS);
  let clashes = 0;
  let lastClash = '';
  for (let i = 0; i < BLOCKS && clashes < MAX_CLASHES; i++) {
    const base = FIRST_BLOCK + ((first + i) % BLOCKS) * BLOCK_SIZE;
    const lock = await listenExclusive(base);
    if (!lock) continue; // another coturn of ours (or something else) has this block
    const port = base + BLOCK_SIZE - 1;
    const releaseLock = () => new Promise((resolve) => lock.close(resolve));
    if (!(await portIsFree(port))) {
      await releaseLock();
      continue;
    }
    const started = await launch(port, base + 1, port - 1, secret);
    if (started.ok) {
      const { child, dir } = started;
      let stopping: Promise<void> | undefined;
      return {
        port,
        secret,
        urls: [`turn:${HOST}:${port}?transport=udp`, `turn:${HOST}:${port}?transport=tcp`],
        stop: () =>
          (stopping ??= kill(child).then(async () => {
            rmSync(dir, { recursive: true, force: true });
            await releaseLock();
          })),
      };
    }
    await releaseLock();
    if (!started.clash) throw new Error(started.error);
    clashes += 1; // something took the port between our check and coturn's bind: try another block
    lastClash = started.error;
  }
  throw new Error(
    `No port block for coturn in ${FIRST_BLOCK}–${FIRST_BLOCK + BLOCKS * BLOCK_SIZE - 1} (${clashes} clashed while coturn started).` +
      (lastClash ? `\nLast attempt: ${lastClash}` : ''),
  );
}

type Launch = { ok: true; child: ChildProcess; dir: string } | { ok: false; clash: boolean; error: string };

async function launch(port: number, minPort: number, maxPort: number, secret: string): Promise<Launch> {
  const dir = mkdtempSync(join(tmpdir(), 'joinus-coturn-'));
  const args = [
    '-n', // no configuration file
    `--listening-ip=${HOST}`,
    `--relay-ip=${HOST}`,
    `--listening-port=${port}`,
    `--min-port=${minPort}`,
    `--max-port=${maxPort}`,
    '--use-auth-secret',
    `--static-auth-secret=${secret}`,
    `--realm=${REALM}`,
    '--no-tls',
    '--no-dtls',
    '--allow-loopback-peers',
    '--no-cli',
    '--no-rfc5780',
    '--no-software-attribute',
    '--fingerprint',
    '--log-file=stdout', // no log file anywhere; we keep the output for error messages
    `--pidfile=${join(dir, 'turnserver.pid')}`,
    `--userdb=${join(dir, 'turndb')}`, // not the system's /var/lib/turn/turndb
  ];
  // setpriv makes the kernel kill coturn if this process dies without running its exit handlers.
  const [command, commandArgs] = existsSync('/usr/bin/setpriv')
    ? ['/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', TURNSERVER, ...args]]
    : [TURNSERVER, args];
  const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.set(child, dir);
  let output = '';
  const cannotBind = new RegExp(`Cannot bind .*to addr ${HOST.replace(/\./g, '\\.')}:${port}\\b`);
  const failure = new Promise<{ clash: boolean; why: string }>((resolve) => {
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      if (cannotBind.test(output)) resolve({ clash: true, why: `cannot bind ${port}` });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (err) => resolve({ clash: false, why: err.message }));
    child.once('exit', (code, signal) => resolve({ clash: false, why: `exited (${signal ?? `code ${code}`})` }));
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  const abort = { aborted: false };
  const ready = Promise.all([untilAnswered(port, 'udp', deadline, abort), untilAnswered(port, 'tcp', deadline, abort)]).then(
    () => null,
    (err: Error) => ({ clash: false, why: err.message }),
  );
  const problem = await Promise.race([ready, failure]);
  abort.aborted = true;
  if (!problem) return { ok: true, child, dir };
  await kill(child);
  rmSync(dir, { recursive: true, force: true });
  return {
    ok: false,
    clash: problem.clash,
    error: `coturn did not start on ${HOST}:${port}: ${problem.why}.\n$ ${TURNSERVER} ${args.join(' ')}\n${output.trim()}`,
  };
}

/** Sends Binding requests until one is answered (retrying while coturn is not listening yet). */
async function untilAnswered(port: number, transport: Transport, deadline: number, abort: { aborted: boolean }): Promise<void> {
  let last = 'no answer';
  while (!abort.aborted && Date.now() < deadline) {
    try {
      const res = await stunExchange(port, transport, [{ build: () => stunMessage(BINDING_REQUEST, []) }], Math.min(250, deadline - Date.now()));
      if (res.type === BINDING_SUCCESS) return;
      last = `answered ${res.type.toString(16)}`;
    } catch (err) {
      last = (err as Error).message;
      // A refused TCP connection fails at once: wait a little before the next try (UDP waits in stunExchange).
      if (transport === 'tcp') await new Promise((r) => setTimeout(r, 25));
    }
  }
  if (!abort.aborted) throw new Error(`no STUN Binding answer over ${transport} within ${START_TIMEOUT_MS} ms (${last})`);
}

// ------------------------------------------------------------------ a minimal STUN/TURN client (RFC 5389, 5766)

export type Transport = 'udp' | 'tcp';
const MAGIC = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const ALLOCATE_REQUEST = 0x0003;
const ALLOCATE_SUCCESS = 0x0103;
const ATTR = { USERNAME: 0x0006, MESSAGE_INTEGRITY: 0x0008, ERROR_CODE: 0x0009, REALM: 0x0014, NONCE: 0x0015, XOR_RELAYED_ADDRESS: 0x0016, REQUESTED_TRANSPORT: 0x0019 };

interface StunResponse {
  type: number;
  attrs: Map<number, Buffer>;
}

function attr(type: number, value: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt16BE(type, 0);
  header.writeUInt16BE(value.length, 2);
  return Buffer.concat([header, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
}

/** A request; with `key`, MESSAGE-INTEGRITY (HMAC-SHA1 over everything before it, length counting it). */
function stunMessage(type: number, attrs: Buffer[], key?: Buffer): Buffer {
  const header = Buffer.alloc(20);
  header.writeUInt16BE(type, 0);
  header.writeUInt32BE(MAGIC, 4);
  randomBytes(12).copy(header, 8);
  let body = Buffer.concat(attrs);
  if (key) {
    header.writeUInt16BE(body.length + 24, 2);
    body = Buffer.concat([body, attr(ATTR.MESSAGE_INTEGRITY, createHmac('sha1', key).update(Buffer.concat([header, body])).digest())]);
  }
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
}

function parseStun(msg: Buffer): StunResponse {
  const attrs = new Map<number, Buffer>();
  for (let at = 20; at + 4 <= msg.length; ) {
    const type = msg.readUInt16BE(at);
    const length = msg.readUInt16BE(at + 2);
    attrs.set(type, msg.subarray(at + 4, at + 4 + length));
    at += 4 + length + ((4 - (length % 4)) % 4);
  }
  return { type: msg.readUInt16BE(0), attrs };
}

/**
 * Sends each step's request over one socket (one 5-tuple) and returns the last response; a step may
 * look at the previous response. UDP requests are retransmitted until the deadline.
 */
async function stunExchange(
  port: number,
  transport: Transport,
  steps: { build: (previous?: StunResponse) => Buffer }[],
  timeoutMs: number,
): Promise<StunResponse> {
  let deliver: (msg: Buffer) => void = () => {};
  let fail: (err: Error) => void = () => {};
  let send: (msg: Buffer) => void;
  let close: () => void;
  if (transport === 'udp') {
    const udp: UdpSocket = createSocket('udp4');
    udp.on('message', (msg) => deliver(msg));
    udp.on('error', (err) => fail(err));
    send = (msg) => udp.send(msg, port, HOST);
    close = () => udp.close();
  } else {
    const tcp = createConnection({ port, host: HOST });
    let pending = Buffer.alloc(0);
    tcp.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 20 && pending.length >= 20 + pending.readUInt16BE(2)) {
        const size = 20 + pending.readUInt16BE(2);
        deliver(pending.subarray(0, size));
        pending = pending.subarray(size);
      }
    });
    tcp.on('error', (err) => fail(err));
    tcp.on('close', () => fail(new Error('connection closed')));
    send = (msg) => tcp.write(msg);
    close = () => tcp.destroy();
  }
  const deadline = Date.now() + timeoutMs;
  try {
    let previous: StunResponse | undefined;
    for (const step of steps) {
      const request = step.build(previous);
      previous = await new Promise<StunResponse>((resolve, reject) => {
        const retransmit = setInterval(() => transport === 'udp' && send(request), 50);
        const timer = setTimeout(() => done(new Error(`no STUN answer over ${transport} in ${timeoutMs} ms`)), Math.max(0, deadline - Date.now()));
        const done = (err: Error | null, res?: StunResponse) => {
          clearInterval(retransmit);
          clearTimeout(timer);
          if (err) reject(err);
          else resolve(res!);
        };
        deliver = (msg) => {
          if (msg.length >= 20 && msg.subarray(8, 20).equals(request.subarray(8, 20))) done(null, parseStun(msg));
        };
        fail = (err) => done(err);
        send(request);
      });
    }
    return previous!;
  } finally {
    close();
  }
}

export type AllocateResult =
  | { ok: true; relayed: { address: string; port: number } }
  | { ok: false; code: number; reason: string };

/**
 * A TURN Allocate (UDP relay) with long-term credentials: the first request gets 401 with REALM and
 * NONCE, the second carries USERNAME, REALM, NONCE and MESSAGE-INTEGRITY keyed MD5(user:realm:pass).
 */
export async function turnAllocate(port: number, username: string, password: string, transport: Transport = 'udp', timeoutMs = 5_000): Promise<AllocateResult> {
  const udpRelay = attr(ATTR.REQUESTED_TRANSPORT, Buffer.from([17, 0, 0, 0]));
  const res = await stunExchange(
    port,
    transport,
    [
      { build: () => stunMessage(ALLOCATE_REQUEST, [udpRelay]) },
      {
        build: (challenge) => {
          const realm = challenge?.attrs.get(ATTR.REALM);
          const nonce = challenge?.attrs.get(ATTR.NONCE);
          if (!realm || !nonce) throw new Error(`the unauthenticated Allocate was not challenged (type ${challenge?.type.toString(16)})`);
          const key = createHash('md5').update(`${username}:${realm.toString()}:${password}`).digest();
          const attrs = [udpRelay, attr(ATTR.USERNAME, Buffer.from(username)), attr(ATTR.REALM, realm), attr(ATTR.NONCE, nonce)];
          return stunMessage(ALLOCATE_REQUEST, attrs, key);
        },
      },
    ],
    timeoutMs,
  );
  if (res.type === ALLOCATE_SUCCESS) {
    const xor = res.attrs.get(ATTR.XOR_RELAYED_ADDRESS);
    if (!xor) throw new Error('Allocate succeeded without XOR-RELAYED-ADDRESS');
    const address = [0, 1, 2, 3].map((i) => xor[4 + i]! ^ ((MAGIC >>> (24 - 8 * i)) & 0xff)).join('.');
    return { ok: true, relayed: { address, port: xor.readUInt16BE(2) ^ (MAGIC >>> 16) } };
  }
  const error = res.attrs.get(ATTR.ERROR_CODE);
  if (!error) throw new Error(`unexpected answer to Allocate: type ${res.type.toString(16)}`);
  return { ok: false, code: (error[2]! & 7) * 100 + error[3]!, reason: error.subarray(4).toString() };
}
