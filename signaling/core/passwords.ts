/**
 * Agent passwords in JOINUS_AGENTS: either the password itself (start-up warns) or its scrypt hash,
 * `scrypt$<log2 N>$<r>$<p>$<salt>$<hash>` (base64url, no commas, so it fits the comma-separated list).
 * `npm run hash-password` prints one. node's own scrypt does the work; this file only frames it.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const scrypt = (password: string, salt: Buffer, length: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => {
    scryptCb(password, salt, length, options, (err, key) => (err ? reject(err) : resolve(key)));
  });

/** 2^15 × 8 × 128 bytes = 32 MiB and about 0.2 s per check on a 2-core server (see README). */
export const DEFAULT_SCRYPT_LOG_N = 15;
const R = 8;
const P = 1;
const KEY_BYTES = 32;
const b64 = /^[A-Za-z0-9_-]+$/;
const format = /^scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9_-]{16,128})\$([A-Za-z0-9_-]{32,128})$/;

export interface ScryptHash {
  logN: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

export function parseScryptHash(stored: string): ScryptHash | null {
  const m = format.exec(stored);
  if (!m) return null;
  const [logN, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Bounds that keep one check under a second and inside node's memory cap on any sane server.
  if (logN < 10 || logN > 20 || r < 1 || r > 32 || p < 1 || p > 16) return null;
  if (!b64.test(m[4]!) || !b64.test(m[5]!)) return null;
  return { logN, r, p, salt: Buffer.from(m[4]!, 'base64url'), hash: Buffer.from(m[5]!, 'base64url') };
}

/** True when the stored value looks like our hash format (checked fully by `parseScryptHash`). */
export const looksHashed = (stored: string) => stored.startsWith('scrypt$');

const derive = (password: string, h: Pick<ScryptHash, 'logN' | 'r' | 'p' | 'salt'>, length: number) =>
  scrypt(password, h.salt, length, { N: 2 ** h.logN, r: h.r, p: h.p, maxmem: 2 * 128 * 2 ** h.logN * h.r + 1024 * 1024 });

export async function hashPassword(password: string, logN = DEFAULT_SCRYPT_LOG_N): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(password, { logN, r: R, p: P, salt }, KEY_BYTES);
  return `scrypt$${logN}$${R}$${P}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/** A hash nobody's password matches, checked for unknown accounts so that they take as long. */
let decoy: Promise<string> | null = null;

/**
 * Does `password` match what JOINUS_AGENTS holds (`stored`, or undefined for no such account)?
 * Unknown accounts cost a scrypt check too: the answer's timing does not tell which names exist.
 */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  if (stored === undefined) {
    decoy ??= hashPassword(randomBytes(16).toString('hex'));
    await verifyPassword(password, await decoy);
    return false;
  }
  const h = looksHashed(stored) ? parseScryptHash(stored) : null;
  if (h) return timingSafeEqual(await derive(password, h, h.hash.length), h.hash);
  if (looksHashed(stored)) return false; // malformed hash: config validation refuses it at start-up
  // A plaintext password: compare digests so the time taken says nothing about its length or prefix.
  const given = createHash('sha256').update(password).digest();
  const want = createHash('sha256').update(stored).digest();
  return timingSafeEqual(given, want);
}

/**
 * Plaintext passwords from JOINUS_AGENTS, hashed once at start-up (in memory): then every sign-in,
 * known account or not, costs one scrypt check of the same cost, and timing tells no names.
 */
export async function hashPlaintextPasswords(agents: ReadonlyMap<string, string>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await Promise.all(
    [...agents].map(async ([name, stored]) => {
      out.set(name, looksHashed(stored) ? stored : await hashPassword(stored));
    }),
  );
  return new Map([...agents.keys()].map((name) => [name, out.get(name)!]));
}
