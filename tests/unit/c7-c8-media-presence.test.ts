/**
 * C7, C8: what every peer reads from the others' awareness states about voice and screen sharing
 * (lib/media/presence.ts): only verified states count, malformed fields count as off, one share at a
 * time is decided the same way everywhere, and the participant list merges a participant's tabs.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { presencePayload } from '../../features/participants/doc';
import { currentShare, microphoneProblem, settledShare, remoteMedia, screenProblem, voiceViews, type RemoteMedia } from '../../lib/media/presence';
import { makeParties, settledRead } from '../support/authors';

const SESSION = 'media-session';

async function setup() {
  const { parties, viewer } = await makeParties(SESSION, [
    { participantId: 'p-agent', name: 'Ava', role: 'agent' },
    { participantId: 'p-customer', name: 'Kai', role: 'customer' },
    { participantId: 'p-guest', name: 'Lena', role: 'guest' },
  ]);
  const [agent, customer, guest] = parties as [(typeof parties)[0], (typeof parties)[0], (typeof parties)[0]];
  const state = async (party: typeof agent, clientId: number, peerId: string, fields: Record<string, unknown>) => ({
    participantId: party.participantId,
    presenceSig: await party.signer.sign(presencePayload(clientId)),
    mesh: { peerId, links: [] },
    ...fields,
  });
  return { agent, customer, guest, viewer, state };
}

describe('C7/C8 remoteMedia: the others’ voice and screen, from verified presence only', () => {
  it('reads voice and screen of verified states, ignores one’s own and unsigned or forged ones', async () => {
    const { agent, customer, guest, viewer, state } = await setup();
    const states = new Map<number, Record<string, unknown>>([
      [1, await state(agent, 1, 'peer-a', { voice: { muted: false } })],
      [2, await state(customer, 2, 'peer-c', { voice: { muted: true }, screen: { since: 1000 } })],
      // Lena's signature over another client id: a replayed state under a new id counts for nothing.
      [3, { ...(await state(guest, 99, 'peer-g', { voice: { muted: false } })) }],
      // No signature at all.
      [4, { participantId: 'p-guest', mesh: { peerId: 'peer-x', links: [] }, voice: { muted: false } }],
    ]);
    const auth = viewer();
    const read = await settledRead(auth, () => remoteMedia(states, 1, auth));
    expect(read).toEqual([{ participantId: 'p-customer', name: 'Kai', peerId: 'peer-c', voice: { muted: true }, screen: { since: 1000 } }]);
  });

  it('malformed fields count as off, whatever a hostile peer puts there', async () => {
    const { customer, viewer, state } = await setup();
    await fc.assert(
      fc.asyncProperty(fc.anything(), fc.anything(), async (voice, screen) => {
        const states = new Map<number, Record<string, unknown>>([[2, await state(customer, 2, 'peer-c', { voice, screen })]]);
        const auth = viewer();
        const [r] = await settledRead(auth, () => remoteMedia(states, 1, auth));
        expect(r).toBeDefined();
        const validVoice = typeof voice === 'object' && voice !== null && typeof (voice as { muted?: unknown }).muted === 'boolean';
        if (!validVoice) expect(r!.voice).toBeNull();
        if (r!.screen) expect(Number.isInteger(r!.screen.since) && r!.screen.since >= 0).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});

describe('C8 currentShare: one share at a time, the same everywhere', () => {
  const claim = (participantId: string, peerId: string, since: number) => ({ participantId, peerId, since });

  it('the earliest start counts; ties break on participant id, then peer id', () => {
    expect(currentShare([])).toBeNull();
    expect(currentShare([claim('b', 'x', 20), claim('a', 'y', 30)])).toEqual(claim('b', 'x', 20));
    expect(currentShare([claim('b', 'x', 20), claim('a', 'y', 20)])).toEqual(claim('a', 'y', 20));
    expect(currentShare([claim('a', 'z', 20), claim('a', 'y', 20)])).toEqual(claim('a', 'y', 20));
  });

  it('does not depend on the order in which a peer learned of the shares', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ participantId: fc.constantFrom('a', 'b', 'c'), peerId: fc.string({ maxLength: 3 }), since: fc.integer({ min: 0, max: 5 }) }), {
          selector: (c) => `${c.participantId}|${c.peerId}`,
          minLength: 1,
          maxLength: 6,
        }),
        fc.infiniteStream(fc.nat()),
        (claims, randomness) => {
          const winner = currentShare(claims);
          // Any order: a shuffle driven by fast-check's stream.
          const shuffled = [...claims];
          const r = randomness[Symbol.iterator]();
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = (r.next().value as number) % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
          }
          expect(currentShare(shuffled)).toEqual(winner);
          for (const c of claims) expect(winner!.since).toBeLessThanOrEqual(c.since);
        },
      ),
    );
  });

  it('a share claimed after the contest window never displaces the one already seen, whatever start it claims', () => {
    const seen = (participantId: string, since: number, seenAt: number) => ({ participantId, peerId: participantId, since, seenAt });
    // Two shares started together (seen 1 s apart here): the earlier start counts, everywhere.
    expect(settledShare([seen('b', 1_000, 0), seen('a', 900, 1_000)])).toEqual(seen('a', 900, 1_000));
    // A claim of `since: 0` seen a minute after a live share: ignored.
    expect(settledShare([seen('b', 1_000, 0), seen('x', 0, 60_000)])).toEqual(seen('b', 1_000, 0));
    expect(settledShare([])).toBeNull();
  });
});

describe('C7 voiceViews: what "Participants" says', () => {
  const r = (participantId: string, peerId: string, voice: RemoteMedia['voice']): RemoteMedia => ({ participantId, name: participantId, peerId, voice, screen: null });

  it('in voice, muted only if every tab in voice is, unheard only when we are in voice with no link to any of its tabs', () => {
    const views = voiceViews(
      [r('kai', 'k1', { muted: true }), r('kai', 'k2', { muted: false }), r('lena', 'l1', { muted: true }), r('max', 'm1', null), r('ann', 'a1', { muted: false })],
      new Set(['k1', 'l1']),
      true,
    );
    expect(views.get('kai')).toEqual({ inVoice: true, muted: false, unheard: false });
    expect(views.get('lena')).toEqual({ inVoice: true, muted: true, unheard: false });
    expect(views.has('max')).toBe(false);
    expect(views.get('ann')).toEqual({ inVoice: true, muted: false, unheard: true });
    // Not in voice ourselves: nobody is "unheard".
    expect(voiceViews([r('ann', 'a1', { muted: false })], new Set(), false).get('ann')!.unheard).toBe(false);
  });
});

describe('C7/C8 problems in words', () => {
  it('says what happened and what to do for each browser error', () => {
    expect(microphoneProblem({ name: 'NotAllowedError' })).toMatch(/refused.*Join voice.*carries on/);
    expect(microphoneProblem({ name: 'NotFoundError' })).toMatch(/No microphone was found/);
    expect(microphoneProblem({ name: 'NotReadableError' })).toMatch(/another program/);
    expect(microphoneProblem(new Error('x'))).toMatch(/could not be started/);
    expect(microphoneProblem(null)).toMatch(/could not be started/);
    expect(screenProblem({ name: 'NotAllowedError' })).toMatch(/cancelled or not allowed/);
    expect(screenProblem(undefined)).toMatch(/could not be shared/);
  });
});
