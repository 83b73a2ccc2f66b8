/** A feature's view of its part of the document is read again only when that part changed. */
import { beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { DocPart } from '../../lib/collab/doc-part';
import { appendEntry, readTranscript, transcriptOf } from '../../features/transcript/doc';
import { makeParties, type TestParty } from '../support/authors';
import type { Authorship } from '../../lib/collab/authorship';

let n = 0;
const id = () => `id-${++n}`;
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

let agent: TestParty;
let viewer: () => Authorship;
beforeAll(async () => {
  const made = await makeParties('s1', [{ participantId: 'agent-1', name: 'Dana', role: 'agent' }]);
  agent = made.parties[0]!;
  viewer = made.viewer;
});

describe('DocPart', () => {
  it('[C1] the transcript view is not read again or announced for changes elsewhere in the document', async () => {
    const doc = new Y.Doc();
    const auth = agent.auth;
    let reads = 0;
    const part = new DocPart(transcriptOf(doc), () => (reads++, readTranscript(doc, auth)), auth);
    let calls = 0;
    const off = part.subscribe(() => calls++);
    const first = part.getSnapshot();
    expect(part.getSnapshot()).toBe(first);
    expect(reads).toBe(1);

    doc.getArray('pages').push([{ url: 'https://example.com/' }]);
    doc.getMap('form-values').set('k', 'v');
    await tick();
    expect(calls).toBe(0);
    expect(part.getSnapshot()).toBe(first);
    expect(reads).toBe(1);

    // Our own entry: verified at once (we signed it), shown on the first read after the change.
    await appendEntry(doc, agent.signer, { kind: 'chat', text: 'hello' }, 2, id);
    await tick();
    expect(calls).toBe(1);
    const second = part.getSnapshot();
    expect(second.map((e) => e.text)).toEqual(['hello']);
    expect(part.getSnapshot()).toBe(second);
    expect(reads).toBe(2);
    off();
  });

  it('[C1] a sync carrying many changes is announced; checked signatures announce again; changes while nobody listens are not missed', async () => {
    const a = new Y.Doc();
    for (let i = 0; i < 50; i++) await appendEntry(a, agent.signer, { kind: 'chat', text: `m${i}` }, i, id);
    const b = new Y.Doc();
    const auth = viewer();
    const part = new DocPart(transcriptOf(b), () => readTranscript(b, auth), auth);
    let calls = 0;
    const off = part.subscribe(() => calls++);
    expect(part.getSnapshot()).toEqual([]);
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    await tick();
    expect(calls).toBe(1);
    // The first read after the sync starts the checks; the part shows the entries once they are done.
    expect(part.getSnapshot()).toEqual([]);
    await auth.settled();
    await tick();
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(part.getSnapshot()).toHaveLength(50);
    off();

    await appendEntry(b, agent.signer, { kind: 'chat', text: 'while unsubscribed' }, 99, id);
    const again = part.subscribe(() => calls++);
    part.getSnapshot();
    await auth.settled();
    await tick();
    expect(part.getSnapshot()).toHaveLength(51);
    again();
  });

  it('observes maps as well as arrays', async () => {
    const doc = new Y.Doc();
    const map = doc.getMap('form-values');
    const part = new DocPart(map, () => map.size);
    let calls = 0;
    const off = part.subscribe(() => calls++);
    map.set('a', 1);
    await tick();
    expect(calls).toBe(1);
    expect(part.getSnapshot()).toBe(1);
    off();
  });
});
