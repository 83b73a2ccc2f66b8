/** A feature's view of its part of the document is read again only when that part changed. */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { DocPart } from '../../lib/collab/doc-part';
import { appendEntry, readTranscript, transcriptOf } from '../../features/transcript/doc';
import { pushPage } from '../../features/page-push/doc';
import { participantsOf, registerParticipant } from '../../features/participants/doc';

const agent = { participantId: 'agent-1', name: 'Dana', role: 'agent' as const };
let n = 0;
const id = () => `id-${++n}`;
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe('DocPart', () => {
  it('[C1] the transcript view is not read again or announced for changes elsewhere in the document', async () => {
    const doc = new Y.Doc();
    let reads = 0;
    const part = new DocPart(transcriptOf(doc), () => (reads++, readTranscript(doc)));
    let calls = 0;
    const off = part.subscribe(() => calls++);
    const first = part.getSnapshot();
    expect(part.getSnapshot()).toBe(first);
    expect(reads).toBe(1);

    pushPage(doc, agent, { url: 'https://example.com/', framing: 'allowed' }, 1, id);
    registerParticipant(doc, agent, 1);
    await tick();
    expect(calls).toBe(0);
    expect(part.getSnapshot()).toBe(first);
    expect(reads).toBe(1);

    appendEntry(doc, agent, { kind: 'chat', text: 'hello' }, 2, id);
    await tick();
    expect(calls).toBe(1);
    const second = part.getSnapshot();
    expect(second.map((e) => e.text)).toEqual(['hello']);
    expect(part.getSnapshot()).toBe(second);
    expect(reads).toBe(2);
    off();
  });

  it('[C1] a sync carrying many changes is announced once; changes while nobody listens are not missed', async () => {
    const a = new Y.Doc();
    for (let i = 0; i < 50; i++) appendEntry(a, agent, { kind: 'chat', text: `m${i}` }, i, id);
    const b = new Y.Doc();
    const part = new DocPart(transcriptOf(b), () => readTranscript(b));
    let calls = 0;
    const off = part.subscribe(() => calls++);
    expect(part.getSnapshot()).toEqual([]);
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    await tick();
    expect(calls).toBe(1);
    expect(part.getSnapshot()).toHaveLength(50);
    off();

    appendEntry(b, agent, { kind: 'chat', text: 'while unsubscribed' }, 99, id);
    const again = part.subscribe(() => calls++);
    expect(part.getSnapshot()).toHaveLength(51);
    again();
  });

  it('observes maps as well as arrays', async () => {
    const doc = new Y.Doc();
    const part = new DocPart(participantsOf(doc), () => participantsOf(doc).size);
    let calls = 0;
    const off = part.subscribe(() => calls++);
    registerParticipant(doc, agent, 1);
    await tick();
    expect(calls).toBe(1);
    expect(part.getSnapshot()).toBe(1);
    off();
  });
});
