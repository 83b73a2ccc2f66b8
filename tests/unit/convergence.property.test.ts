/**
 * [C9] Convergence as a property: 3–8 participants on a simulated network (tests/support/fake-peers.ts)
 * with random latencies, some pairs that can never connect, and random edits, link failures (some
 * noticed by one end only much later), repairs, devices going offline and signaling blips. Once the
 * network is quiet, every group of participants that can reach each other holds the same transcript,
 * with every message written by any of them exactly once, and sees everyone in it present.
 */
import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import fc from 'fast-check';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { MeshProvider } from '../../lib/p2p/mesh-provider';

/** The mesh carries the document as it is: entries as written, without the signature checks of features/transcript. */
const transcriptOf = (doc: Y.Doc) => doc.getArray<{ id: string; text: string; [k: string]: unknown }>('transcript');
const readTranscript = (doc: Y.Doc) => transcriptOf(doc).toArray();
import { FakeNetwork, FakeRoom } from '../support/fake-peers';

type Op =
  | { kind: 'say'; node: number }
  | { kind: 'cut'; a: number; b: number; silentMs: number }
  | { kind: 'repair'; a: number; b: number }
  | { kind: 'wait'; ms: number }
  /** The node's device goes offline (its closes reach nobody) and comes back `ms` later. */
  | { kind: 'offline'; node: number; ms: number }
  /** The node's signaling drops and comes back `ms` later, under the same peer id. */
  | { kind: 'blip'; node: number; ms: number };

const opArb = (n: number): fc.Arbitrary<Op> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('say' as const), node: fc.nat(n - 1) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('cut' as const),
        a: fc.nat(n - 1),
        b: fc.nat(n - 1),
        silentMs: fc.constantFrom(0, 0, 3000),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('repair' as const), a: fc.nat(n - 1), b: fc.nat(n - 1) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 400 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('offline' as const), node: fc.nat(n - 1), ms: fc.integer({ min: 0, max: 3000 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('blip' as const), node: fc.nat(n - 1), ms: fc.integer({ min: 0, max: 3000 }) }) },
  );

const scenarioArb = fc.integer({ min: 3, max: 8 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    /** Pairs that never connect (two strict NATs), as indexes into all pairs. */
    blocked: fc.uniqueArray(fc.nat(((n * (n - 1)) / 2) - 1), { maxLength: n }),
    ops: fc.array(opArb(n), { minLength: 1, maxLength: 30 }),
    latencySeed: fc.integer({ min: 1, max: 2 ** 30 }),
  }),
);

const names = 'abcdefgh'.split('');

function components(n: number, blocked: (a: number, b: number) => boolean): number[][] {
  const seen = new Set<number>();
  const out: number[][] = [];
  for (let start = 0; start < n; start++) {
    if (seen.has(start)) continue;
    const group: number[] = [];
    const queue = [start];
    seen.add(start);
    while (queue.length > 0) {
      const x = queue.shift()!;
      group.push(x);
      for (let y = 0; y < n; y++) {
        if (!seen.has(y) && y !== x && !blocked(x, y)) {
          seen.add(y);
          queue.push(y);
        }
      }
    }
    out.push(group);
  }
  return out;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

it('[C9] random link failures and edits: every connected group converges, every message once', async () => {
  await fc.assert(
    fc.asyncProperty(scenarioArb, async ({ n, blocked, ops, latencySeed }) => {
      let seed = latencySeed;
      const random = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      const net = new FakeNetwork({ latencyMs: () => Math.floor(random() * 30) });
      const pairs: [number, number][] = [];
      for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) pairs.push([a, b]);
      for (const i of blocked) net.block(names[pairs[i]![0]]!, names[pairs[i]![1]]!);
      const room = new FakeRoom(net);
      const nodes = names.slice(0, n).map((name) => {
        const doc = new Y.Doc();
        const awareness = new awarenessProtocol.Awareness(doc);
        awareness.setLocalState({ participantId: `p-${name}`, name, role: 'guest' });
        const provider: MeshProvider = new MeshProvider(doc, awareness, {
          signaling: room.port(() => provider.peerId),
          createPeer: net.factory(name),
          connectTimeoutMs: 1000,
          retryMs: 100,
          maxRetryMs: 1000,
        });
        return { name, doc, awareness, provider };
      });
      try {
        for (const node of nodes) room.join(node.name, `p-${node.name}`, node.provider);
        const written: { id: string; by: number }[] = [];
        for (const op of ops) {
          if (op.kind === 'say') {
            const id = `m${written.length}`;
            written.push({ id, by: op.node });
            const name = nodes[op.node]!.name;
            transcriptOf(nodes[op.node]!.doc).push([
              { id, kind: 'chat', at: 1, authorId: `p-${name}`, authorName: name, role: 'guest', text: id },
            ]);
          } else if (op.kind === 'cut' && op.a !== op.b) {
            net.cut(names[op.a]!, names[op.b]!, { aNoticesAfterMs: op.silentMs });
          } else if (op.kind === 'repair' && op.a !== op.b) {
            net.unblock(names[op.a]!, names[op.b]!);
          } else if (op.kind === 'wait') {
            await vi.advanceTimersByTimeAsync(op.ms);
          } else if (op.kind === 'offline') {
            const node = nodes[op.node]!;
            net.silenced.set(node.name, 30_000);
            node.provider.suspend();
            await vi.advanceTimersByTimeAsync(op.ms);
            net.silenced.delete(node.name);
            node.provider.reconnect();
          } else if (op.kind === 'blip') {
            const node = nodes[op.node]!;
            room.away(node.name);
            await vi.advanceTimersByTimeAsync(op.ms);
            node.provider.holdSignalingUntilStart();
            room.join(node.name, `p-${node.name}`, node.provider, { answerAfterMs: 5 });
          }
        }
        // Quiet: every silent failure noticed, every retry done, one anti-entropy round.
        await vi.advanceTimersByTimeAsync(35_000);

        for (const group of components(n, (a, b) => net.isBlocked(names[a]!, names[b]!))) {
          const expected = written.filter((w) => group.includes(w.by)).map((w) => w.id);
          const first = readTranscript(nodes[group[0]!]!.doc).map((e) => e.id);
          for (const i of group) {
            const ids = readTranscript(nodes[i]!.doc).map((e) => e.id);
            expect(ids, `${nodes[i]!.name} in group ${group.map((g) => names[g]).join('')}`).toEqual(first);
            expect(new Set(ids).size, 'no message twice').toBe(ids.length);
            for (const id of expected) expect(ids.filter((x) => x === id), `${nodes[i]!.name} has ${id} once`).toHaveLength(1);
            // Presence converges too: everyone in the group sees everyone else in it.
            const present = new Set([...nodes[i]!.awareness.getStates().values()].map((st) => (st as { name?: string }).name));
            for (const j of group) expect(present.has(nodes[j]!.name), `${nodes[i]!.name} sees ${nodes[j]!.name}`).toBe(true);
          }
        }
      } finally {
        for (const node of nodes) node.provider.destroy();
        for (const node of nodes) node.awareness.destroy();
      }
    }),
    { numRuns: 60 },
  );
}, 120_000);
