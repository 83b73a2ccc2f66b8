/**
 * Who wrote what (decision 0010). Every record a participant writes into the shared document is
 * signed with a key pair of its tab (ECDSA P-256, WebCrypto: every current browser and Node have
 * it). The signaling server vouches for the public keys: a participant registers its key when it
 * attaches, and the server hands every participant the session's directory (participant id → name,
 * role, keys) and announces new keys to the room. Readers show a record only once its signature
 * verifies against a key of the participant it names, and take the name and role from the
 * directory, never from the record: a peer can neither forge another's words nor an agent's action,
 * even when the record reaches us forwarded by someone else or in a late joiner's first sync.
 *
 * Verification is asynchronous (WebCrypto); `check` answers from a cache and starts what is not
 * known yet, and `subscribe` announces when results came in, so a view reads again.
 *
 * A newcomer's directory entry is not announced to readers unless a read asked about that participant
 * before it arrived (its records or presence came first): nothing they show can have changed, and
 * every view re-reading and re-rendering at that moment is work the others' pages would do while the
 * newcomer's connection is being set up (decision 0024). `subscribeDirectory` hears of every change.
 */
import { PUBLIC_KEY_PATTERN, type DirectoryEntry } from '../protocol';

export type { DirectoryEntry };

/** What a writer needs: who it is and a way to sign. */
export interface Signer {
  readonly participantId: string;
  /** The signature (base64url) over `[sessionId, participantId, ...payload]` as JSON. */
  sign(payload: readonly unknown[]): Promise<string>;
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
/** P-256 signatures (r‖s, 64 bytes), base64url. */
const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{86}$/;
/** While checks are still coming in, views re-read at most this often. */
const NOTIFY_MS = 50;
/**
 * Participants asked about while not in the directory are remembered up to this many; past it (junk
 * records naming made-up writers), every arrival is announced to readers.
 */
const MAX_UNKNOWN_ASKED = 256;
/** Results of checks without a record object are kept only for messages this small. */
const SMALL_MESSAGE = 4096;

export function toBase64Url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

const subtle = () => globalThis.crypto.subtle;
const encoder = new TextEncoder();

/** The bytes signed: the session and the writer first, so a record cannot be moved to another. */
export const signedMessage = (sessionId: string, participantId: string, payload: readonly unknown[]) =>
  JSON.stringify([sessionId, participantId, ...payload]);

export interface TabKeys {
  publicKey: string;
  privateKey: CryptoKey;
}

/**
 * The tab's key pair for a session: kept in sessionStorage beside the tab's credential, so a reload
 * signs with the same key (the server's directory keeps a few keys per participant, not one per
 * reload). Without storage (tests, a browser that refuses it) a fresh pair each time.
 */
/** Where a tab keeps its key pair for a session (sessionStorage). */
export const KEY_SLOT = (sessionId: string) => `joinus:key:${sessionId}`;

export async function tabKeys(sessionId: string, storage: Storage | null = typeof sessionStorage === 'undefined' ? null : sessionStorage): Promise<TabKeys> {
  const slot = KEY_SLOT(sessionId);
  try {
    const stored = storage?.getItem(slot);
    if (stored) {
      const { privateKey } = JSON.parse(stored) as { privateKey: JsonWebKey };
      // The public key is the private key's own point (x, y), never a value stored beside it.
      const publicKey = toBase64Url(Uint8Array.of(4, ...fromBase64Url(privateKey.x ?? ''), ...fromBase64Url(privateKey.y ?? '')));
      if (PUBLIC_KEY_PATTERN.test(publicKey)) {
        return { publicKey, privateKey: await subtle().importKey('jwk', privateKey, ALGORITHM, false, ['sign']) };
      }
    }
  } catch {
    // Unreadable or from an older page: make a new pair.
  }
  const keys = await newTabKeys();
  keepTabKeys(sessionId, keys, storage);
  return { publicKey: keys.publicKey, privateKey: keys.privateKey };
}

/** A fresh pair not yet tied to a session (the Join Us page makes it before the handle is sent). */
export interface NewTabKeys extends TabKeys {
  /** The private key, for the tab's storage once the session is known. */
  jwk: JsonWebKey;
}

export async function newTabKeys(): Promise<NewTabKeys> {
  const pair = await subtle().generateKey(ALGORITHM, true, ['sign', 'verify']);
  const [raw, jwk] = await Promise.all([subtle().exportKey('raw', pair.publicKey), subtle().exportKey('jwk', pair.privateKey)]);
  return { publicKey: toBase64Url(new Uint8Array(raw)), privateKey: pair.privateKey, jwk };
}

/** Keep `keys` as the tab's pair for `sessionId`, so a reload signs with them (see `tabKeys`). */
export function keepTabKeys(sessionId: string, keys: NewTabKeys, storage: Storage | null = typeof sessionStorage === 'undefined' ? null : sessionStorage): void {
  try {
    // The private key alone: its public point (x, y) is in it.
    storage?.setItem(KEY_SLOT(sessionId), JSON.stringify({ privateKey: keys.jwk }));
  } catch {
    // Storage full or refused: this tab signs with a key of its own until it closes.
  }
}

/** Forget the tab's key for a session that is over (privacy at rest, like the local copy). */
export function dropTabKeys(sessionId: string, storage: Storage | null = typeof sessionStorage === 'undefined' ? null : sessionStorage): void {
  try {
    storage?.removeItem(KEY_SLOT(sessionId));
  } catch {
    // Nothing to do.
  }
}

type Verdict = boolean | undefined;

/**
 * The session's directory and the signatures checked against it. One per session connection; the
 * features read through it (`check`) and the connection writes through `signer`.
 */
export class Authorship {
  private readonly entries = new Map<string, DirectoryEntry>();
  private readonly keys = new Map<string, Promise<CryptoKey | null>>();
  /** Signature + message → valid: our own signatures, and small records checked without a record object. */
  private readonly results = new Map<string, boolean>();
  /** Verdicts by record object: a record read again (every change of its part) is not re-encoded. */
  private readonly byRecord = new WeakMap<object, { sig: string; valid: boolean; version: number }>();
  /**
   * Per participant, bumped when its keys change: a "no" given before may be a "yes" now. Only that
   * participant's refused records are checked again (a flood of junk in one name is not re-checked
   * whenever anyone else joins).
   */
  private readonly versions = new Map<string, number>();
  private versionOf(participantId: string): number {
    return this.versions.get(participantId) ?? 0;
  }
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private readonly listeners = new Set<() => void>();
  private readonly directoryListeners = new Set<() => void>();
  /** What the pending notice is about: something readers may see differently, the directory. */
  private pending = { readers: false, directory: false };
  /** Participants a read asked about while they were not in the directory (see MAX_UNKNOWN_ASKED). */
  private readonly unknownAsked = new Set<string>();
  private unknownOverflow = false;
  private notifyQueued = false;
  private notifyTimer: ReturnType<typeof setTimeout> | null = null;
  private signerKeys: TabKeys | null = null;
  private selfId: string | null = null;

  constructor(readonly sessionId: string) {}

  // ------------------------------------------------------------------ the directory (from the server)

  /**
   * The whole directory, as the attach answer gives it. Merged with what we know: a `directory:add`
   * sent after the answer was made can arrive before it, and keys are never taken back.
   */
  setDirectory(entries: readonly DirectoryEntry[]): void {
    let readers = false;
    for (const e of entries) readers = this.merge(e) || readers;
    this.listed = null;
    this.changed(readers, true);
  }

  /** One participant's entry, new or with a new key (`directory:add`). */
  addEntry(entry: DirectoryEntry): void {
    const readers = this.merge(entry);
    this.listed = null;
    this.changed(readers, true);
  }

  /** Whether a read may now see the participant differently: it was asked about, or its entry changed. */
  private merge(entry: DirectoryEntry): boolean {
    const before = this.entries.get(entry.participantId);
    const keys = [...new Set([...(before?.keys ?? []), ...entry.keys])];
    const gone = entry.gone ?? before?.gone;
    this.entries.set(entry.participantId, { ...entry, keys, ...(gone ? { gone } : {}) });
    if (!before || keys.length !== before.keys.length) this.forgetRefusals(entry.participantId);
    if (!before) return this.unknownAsked.delete(entry.participantId) || this.unknownOverflow;
    return keys.length !== before.keys.length || gone !== before.gone || entry.name !== before.name || entry.role !== before.role;
  }

  /** A read asked about a participant not in the directory: its arrival is announced to readers. */
  private askedUnknown(participantId: string): void {
    if (this.unknownAsked.has(participantId)) return;
    if (this.unknownAsked.size >= MAX_UNKNOWN_ASKED) this.unknownOverflow = true;
    else this.unknownAsked.add(participantId);
  }

  markGone(participantId: string, gone: 'left' | 'removed'): void {
    const e = this.entries.get(participantId);
    if (!e || e.gone === gone) return;
    this.entries.set(participantId, { ...e, gone });
    this.listed = null;
    this.changed(true, true);
  }

  who(participantId: string): DirectoryEntry | undefined {
    const entry = this.entries.get(participantId);
    if (!entry) this.askedUnknown(participantId);
    return entry;
  }

  private listed: DirectoryEntry[] | null = null;

  /** Everyone the server admitted to the session, in the order they joined (the same array until it changes). */
  list(): DirectoryEntry[] {
    this.listed ??= [...this.entries.values()].sort((a, b) => a.joinedAt - b.joinedAt);
    return this.listed;
  }

  // ------------------------------------------------------------------ signing (this tab)

  /** Our own participant and key: what we sign counts as verified at once (no round trip). */
  setSigner(participantId: string, keys: TabKeys): void {
    this.selfId = participantId;
    this.signerKeys = keys;
  }

  get signer(): Signer | null {
    const keys = this.signerKeys;
    const participantId = this.selfId;
    if (!keys || !participantId) return null;
    return {
      participantId,
      sign: async (payload) => {
        const message = signedMessage(this.sessionId, participantId, payload);
        const sig = toBase64Url(new Uint8Array(await subtle().sign(SIGNING, keys.privateKey, encoder.encode(message))));
        this.results.set(sig + message, true);
        return sig;
      },
    };
  }

  // ------------------------------------------------------------------ verifying (what others wrote)

  /**
   * Whether `sig` is `by`'s signature over `payload`: true, false, or undefined while it is being
   * checked (or `by` is not in the directory yet); `subscribe` says when to ask again. Pass the
   * record (an object read from the document) as `record` to skip re-encoding on later reads;
   * `payload` is then only called when the record was not seen before.
   */
  check(by: unknown, sig: unknown, payload: readonly unknown[] | (() => readonly unknown[]), record?: object): Verdict {
    const answer = this.lookup(by, sig, payload, record);
    return answer instanceof Promise ? undefined : answer;
  }

  /** `check`, waiting for the answer: false also when `by` is not in the directory. */
  async verified(by: unknown, sig: unknown, payload: readonly unknown[] | (() => readonly unknown[]), record?: object): Promise<boolean> {
    return (await this.lookup(by, sig, payload, record)) ?? false;
  }

  /** The verdict if known, the check under way (started now if need be), or undefined for a writer not in the directory. */
  private lookup(
    by: unknown,
    sig: unknown,
    payload: readonly unknown[] | (() => readonly unknown[]),
    record?: object,
  ): boolean | Promise<boolean> | undefined {
    if (typeof by !== 'string' || typeof sig !== 'string' || !SIGNATURE_PATTERN.test(sig)) return false;
    if (record) {
      const known = this.byRecord.get(record);
      // A yes is final; a no holds until the directory changes (the signer's key may come later).
      if (known && known.sig === sig && (known.valid || known.version === this.versionOf(by))) return known.valid;
    }
    const entry = this.entries.get(by);
    if (!entry) {
      this.askedUnknown(by);
      return undefined;
    }
    const message = signedMessage(this.sessionId, by, typeof payload === 'function' ? payload() : payload);
    const cacheKey = sig + message;
    const own = this.results.get(cacheKey);
    if (own !== undefined) {
      // Kept by the record from now on: later reads do not encode it again.
      if (record) {
        this.byRecord.set(record, { sig, valid: own, version: this.versionOf(by) });
        this.results.delete(cacheKey);
      }
      return own;
    }
    let done = this.inFlight.get(cacheKey);
    if (!done) {
      const version = this.versionOf(by);
      done = this.verify(entry, sig, message).then((valid) => {
        this.inFlight.delete(cacheKey);
        const current = version === this.versionOf(by);
        if (record && (valid || current)) this.byRecord.set(record, { sig, valid, version });
        else if (!record && message.length <= SMALL_MESSAGE && (valid || current)) this.results.set(cacheKey, valid);
        this.changed();
        return valid;
      });
      this.inFlight.set(cacheKey, done);
    }
    return done;
  }

  private async verify(entry: DirectoryEntry, sig: string, message: string): Promise<boolean> {
    const bytes = encoder.encode(message);
    const signature = fromBase64Url(sig);
    for (const raw of entry.keys) {
      const key = await this.importKey(raw);
      if (key && (await subtle().verify(SIGNING, key, signature, bytes).catch(() => false))) return true;
    }
    return false;
  }

  private importKey(raw: string): Promise<CryptoKey | null> {
    let key = this.keys.get(raw);
    if (!key) {
      key = PUBLIC_KEY_PATTERN.test(raw)
        ? subtle().importKey('raw', fromBase64Url(raw), ALGORITHM, false, ['verify']).catch(() => null)
        : Promise.resolve(null);
      this.keys.set(raw, key);
    }
    return key;
  }

  /**
   * `read`, once the checks it started have come in (at most `maxWaitMs`): what a writer builds on
   * (the last stroke to undo, the next push's number). A flood of junk cannot hold a write up longer.
   */
  async readSettled<T>(read: () => T, maxWaitMs = 2000): Promise<T> {
    const until = Date.now() + maxWaitMs;
    for (;;) {
      const value = read();
      if (!this.checking || Date.now() >= until) return value;
      await this.settled(until - Date.now());
    }
  }

  /** Some check is still in flight. */
  get checking(): boolean {
    return this.inFlight.size > 0;
  }

  /**
   * Resolves once no check is in flight, or after `maxWaitMs` (a writer deciding on what it has seen
   * must not wait for ever while a hostile peer keeps junk coming).
   */
  async settled(maxWaitMs = Infinity): Promise<void> {
    const until = Date.now() + maxWaitMs;
    while (this.inFlight.size > 0 && Date.now() < until) await Promise.race([...this.inFlight.values()]).catch(() => undefined);
  }

  /**
   * Views reading through `check` and `who` re-read when results came in or the directory changed in
   * a way a read can see (batched): not for a newcomer nobody asked about yet.
   */
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Every change of the directory (`list()`), batched with the rest. */
  subscribeDirectory = (listener: () => void): (() => void) => {
    this.directoryListeners.add(listener);
    return () => this.directoryListeners.delete(listener);
  };

  /**
   * Listeners hear of changes at most every NOTIFY_MS while checks are still coming in (a late
   * joiner's thousands of results are a few re-reads, not one per result), and at once when the
   * last one is in or the directory changed. `readers`: the change is one a read can see;
   * `directory`: the directory changed.
   */
  private changed(readers = true, directory = false): void {
    if (readers) this.pending.readers = true;
    if (directory) this.pending.directory = true;
    if (this.inFlight.size === 0 && this.notifyTimer !== null) {
      // The last result is in: announce now rather than at the end of the pause.
      clearTimeout(this.notifyTimer);
      this.notifyTimer = null;
      this.notifyQueued = false;
    }
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    const notify = () => {
      this.notifyQueued = false;
      this.notifyTimer = null;
      const what = this.pending;
      this.pending = { readers: false, directory: false };
      if (what.directory) for (const l of this.directoryListeners) l();
      if (what.readers) for (const l of this.listeners) l();
    };
    if (this.inFlight.size === 0) queueMicrotask(notify);
    else this.notifyTimer = setTimeout(notify, NOTIFY_MS);
  }

  /** A participant's new key can turn a "no" into a "yes": forget its noes. */
  private forgetRefusals(participantId: string): void {
    this.versions.set(participantId, this.versionOf(participantId) + 1);
    const prefix = JSON.stringify([this.sessionId, participantId]).slice(0, -1) + ',';
    for (const [k, v] of this.results) if (!v && k.slice(86).startsWith(prefix)) this.results.delete(k);
  }
}
