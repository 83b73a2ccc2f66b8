/** Decision 0010: signatures on what participants write, checked against keys the server vouches for. */
import { describe, expect, it } from 'vitest';
import { Authorship, dropTabKeys, tabKeys, type DirectoryEntry } from '../../lib/collab/authorship';

class MemoryStorage {
  private readonly items = new Map<string, string>();
  getItem = (k: string) => this.items.get(k) ?? null;
  setItem = (k: string, v: string) => void this.items.set(k, v);
  removeItem = (k: string) => void this.items.delete(k);
  get size() {
    return this.items.size;
  }
}
const storage = () => new MemoryStorage() as unknown as Storage & { size: number };

const entry = (participantId: string, keys: string[], role: DirectoryEntry['role'] = 'guest'): DirectoryEntry => ({
  participantId,
  name: participantId,
  role,
  keys,
  joinedAt: 1,
});

async function signerFor(sessionId: string, participantId: string) {
  const keys = await tabKeys(sessionId, null);
  const auth = new Authorship(sessionId);
  auth.setSigner(participantId, keys);
  return { keys, signer: auth.signer! };
}

describe('[C] authorship', () => {
  it('a tab keeps its key across reloads (sessionStorage) and forgets it when the session is over', async () => {
    const store = storage();
    const first = await tabKeys('s1', store);
    const again = await tabKeys('s1', store);
    expect(again.publicKey).toBe(first.publicKey);
    expect((await tabKeys('s2', store)).publicKey).not.toBe(first.publicKey);
    dropTabKeys('s1', store);
    expect((await tabKeys('s1', store)).publicKey).not.toBe(first.publicKey);
    // A stored value that is not ours is replaced, not trusted.
    store.setItem('joinus:key:s3', '{"publicKey":"<script>","privateKey":{}}');
    expect((await tabKeys('s3', store)).publicKey).toMatch(/^[A-Za-z0-9_-]{87}$/);
  });

  it('a signature verifies for its signer, payload and session only', async () => {
    const { keys, signer } = await signerFor('s1', 'p1');
    const sig = await signer.sign(['entry', 'hello']);
    const auth = new Authorship('s1');
    auth.setDirectory([entry('p1', [keys.publicKey]), entry('p2', [keys.publicKey.replace(/^./, 'A')])]);
    const verdict = async (by: string, payload: unknown[], a = auth) => {
      a.check(by, sig, payload);
      await a.settled();
      return a.check(by, sig, payload);
    };
    expect(await verdict('p1', ['entry', 'hello'])).toBe(true);
    expect(await verdict('p1', ['entry', 'hello!'])).toBe(false);
    expect(await verdict('p2', ['entry', 'hello'])).toBe(false);
    const elsewhere = new Authorship('s2');
    elsewhere.setDirectory([entry('p1', [keys.publicKey])]);
    expect(await verdict('p1', ['entry', 'hello'], elsewhere)).toBe(false);
    // Not a signature at all, or not a string: no, at once.
    expect(auth.check('p1', 'x', ['entry'])).toBe(false);
    expect(auth.check('p1', 42, ['entry'])).toBe(false);
    expect(auth.check(undefined, sig, ['entry'])).toBe(false);
  });

  it('a writer the directory does not know yet is "not yet": once its key arrives its records verify', async () => {
    const { keys, signer } = await signerFor('s1', 'late');
    const record = { text: 'hi' };
    const sig = await signer.sign(['entry', record.text]);
    const auth = new Authorship('s1');
    let announced = 0;
    auth.subscribe(() => announced++);
    expect(auth.check('late', sig, ['entry', record.text], record)).toBeUndefined();
    // Known participant, wrong key so far: a no...
    auth.setDirectory([entry('late', [(await tabKeys('s1', null)).publicKey])]);
    auth.check('late', sig, ['entry', record.text], record);
    await auth.settled();
    expect(auth.check('late', sig, ['entry', record.text], record)).toBe(false);
    // ...until its new key is announced (a second tab).
    auth.addEntry(entry('late', [keys.publicKey]));
    expect(auth.check('late', sig, ['entry', record.text], record)).toBeUndefined();
    await auth.settled();
    expect(auth.check('late', sig, ['entry', record.text], record)).toBe(true);
    await new Promise((r) => setTimeout(r, 0));
    expect(announced).toBeGreaterThan(0);
  });

  it("a record's verdict is cached by the record: a valid signature copied onto another record is checked afresh", async () => {
    const { keys, signer } = await signerFor('s1', 'p1');
    const auth = new Authorship('s1');
    auth.setDirectory([entry('p1', [keys.publicKey])]);
    const good = { text: 'pay 10' };
    const sig = await signer.sign(['entry', good.text]);
    auth.check('p1', sig, () => ['entry', good.text], good);
    await auth.settled();
    expect(auth.check('p1', sig, () => ['entry', good.text], good)).toBe(true);
    let encoded = 0;
    expect(auth.check('p1', sig, () => (encoded++, ['entry', good.text]), good)).toBe(true);
    expect(encoded).toBe(0);
    const copy = { text: 'pay 1000' };
    auth.check('p1', sig, () => ['entry', copy.text], copy);
    await auth.settled();
    expect(auth.check('p1', sig, () => ['entry', copy.text], copy)).toBe(false);
  });

  it('an attach answer made before a key was announced does not take the key back (it may arrive after the announcement)', () => {
    const auth = new Authorship('s1');
    auth.addEntry(entry('p1', ['k-new']));
    auth.markGone('p1', 'left');
    auth.setDirectory([entry('p1', ['k-old'])]);
    expect(auth.who('p1')?.keys).toEqual(['k-new', 'k-old']);
    expect(auth.who('p1')?.gone).toBe('left');
  });

  it('a newcomer nobody asked about is announced to the directory listeners only; one a read asked about, to readers too', async () => {
    const auth = new Authorship('s1');
    auth.setDirectory([entry('agent', ['k-agent'], 'agent')]);
    const heard = { readers: 0, directory: 0 };
    auth.subscribe(() => heard.readers++);
    auth.subscribeDirectory(() => heard.directory++);
    const turn = () => new Promise((r) => setTimeout(r, 0));
    // Nothing of the newcomer was read yet: what views show cannot have changed (decision 0024).
    auth.addEntry(entry('guest-1', ['k1']));
    await turn();
    expect(heard).toEqual({ readers: 0, directory: 1 });
    // Its presence (or a record) came before its entry: a read asked, and hears of the arrival.
    expect(auth.who('guest-2')).toBeUndefined();
    auth.addEntry(entry('guest-2', ['k2']));
    await turn();
    expect(heard).toEqual({ readers: 1, directory: 2 });
    // The same for a record checked before its writer's entry came.
    expect(auth.check('guest-3', 'A'.repeat(86), ['entry'])).toBeUndefined();
    auth.addEntry(entry('guest-3', ['k3']));
    await turn();
    expect(heard).toEqual({ readers: 2, directory: 3 });
    // A known participant's entry changing (a new key, gone) is announced to both.
    auth.addEntry(entry('guest-1', ['k1', 'k1b']));
    await turn();
    expect(heard).toEqual({ readers: 3, directory: 4 });
    auth.markGone('guest-1', 'left');
    await turn();
    expect(heard).toEqual({ readers: 4, directory: 5 });
    // The same entry again changes nothing a read sees.
    auth.addEntry(entry('guest-1', ['k1']));
    await turn();
    expect(heard).toEqual({ readers: 4, directory: 6 });
  });

  it('past the cap of participants asked about (junk writers), every arrival is announced to readers', async () => {
    const auth = new Authorship('s1');
    let readers = 0;
    auth.subscribe(() => readers++);
    for (let i = 0; i < 300; i++) auth.who(`made-up-${i}`);
    auth.addEntry(entry('guest-1', ['k1']));
    await new Promise((r) => setTimeout(r, 0));
    expect(readers).toBe(1);
  });

  it('the directory list is one array until it changes; gone participants are marked', () => {
    const auth = new Authorship('s1');
    auth.setDirectory([entry('b', []), { ...entry('a', []), joinedAt: 0 }]);
    const list = auth.list();
    expect(auth.list()).toBe(list);
    expect(list.map((e) => e.participantId)).toEqual(['a', 'b']);
    auth.markGone('b', 'removed');
    expect(auth.list()).not.toBe(list);
    expect(auth.who('b')?.gone).toBe('removed');
  });
});
