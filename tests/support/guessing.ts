/**
 * H8 under attack: guessers on many loopback addresses (127.0.0.X, each its own client address)
 * try handles while an honest party with a valid handle joins from yet another address. Used by the
 * integration test (small) and by `npm run test:reliability` (long), which prints the figures.
 */
import type { Ack, AckData } from '../../lib/protocol';
import { solveProof } from './proof';
import type { SignalingHarness } from './signaling';

export interface GuessingFigures {
  guessers: number;
  attempts: number;
  /** Refused as unusable handles (the guess was tried). */
  tried: number;
  /** Refused before the handle was tried: a proof of work was asked for. */
  proofsAsked: number;
  proofsSolved: number;
  /** Guessers admitted to a session: must stay 0. */
  wronglyAdmitted: number;
  /** Did the honest party get in? And how many proofs it had to solve on the way. */
  honestAdmitted: boolean;
  honestProofs: number;
  wallMs: number;
}

export async function guessingAttack(
  h: SignalingHarness<'fake' | 'system'>,
  opts: { handle: string; guessers: number; guessesEach: number; solveProofs: boolean; honestAddress?: string },
): Promise<GuessingFigures> {
  const started = performance.now();
  const figures: GuessingFigures = {
    guessers: opts.guessers,
    attempts: 0,
    tried: 0,
    proofsAsked: 0,
    proofsSolved: 0,
    wronglyAdmitted: 0,
    honestAdmitted: false,
    honestProofs: 0,
    wallMs: 0,
  };
  const clients = await Promise.all(
    Array.from({ length: opts.guessers }, (_, i) =>
      h.client({ name: `guesser ${i}`, localAddress: `127.0.${1 + Math.floor(i / 250)}.${2 + (i % 250)}` }),
    ),
  );
  type Login = Ack<AckData['handle:login']>;

  const guess = async (i: number) => {
    let proof;
    for (let k = 0; k < opts.guessesEach; k++) {
      const r = (await clients[i]!.request('handle:login', {
        name: 'Mallory',
        handle: `guess-${i}-${k}-${Math.random().toString(36).slice(2, 8)}`,
        ...(proof ? { proof } : {}),
      })) as Login;
      figures.attempts++;
      proof = undefined;
      if (r.ok) figures.wronglyAdmitted++;
      else if (r.error.reason === 'proof_required') {
        figures.proofsAsked++;
        if (opts.solveProofs && r.error.challenge) {
          proof = await solveProof(r.error.challenge);
          figures.proofsSolved++;
        }
      } else figures.tried++;
    }
  };

  const honest = async () => {
    // Joins once the attack is well under way: after the guessers' first round.
    const client = await h.client({ name: 'honest joiner', localAddress: opts.honestAddress ?? '127.9.9.9' });
    let proof;
    for (let tries = 0; tries < 5; tries++) {
      const r = (await client.request('handle:login', { name: 'Ada', handle: opts.handle, ...(proof ? { proof } : {}) })) as Login;
      if (r.ok) {
        figures.honestAdmitted = true;
        return;
      }
      if (r.error.reason !== 'proof_required' || !r.error.challenge) throw new Error(`honest joiner refused: ${r.error.message}`);
      proof = await solveProof(r.error.challenge);
      figures.honestProofs++;
    }
  };

  await Promise.all(clients.map((_, i) => guess(i)));
  await Promise.all([...clients.map((_, i) => guess(i)), honest()]);
  figures.wallMs = Math.round(performance.now() - started);
  for (const c of clients) c.close();
  return figures;
}
