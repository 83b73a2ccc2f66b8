'use client';
/**
 * H8: the proof of work the Join Us page does once failed log-ins pile up (ALTCHA, altcha-lib's
 * solver with the browser's own PBKDF2). WebCrypto derives each key off the main thread, so the page
 * stays responsive; about a second on a laptop, a few on an old phone.
 */
import type { Ack, AckData, Payload, Proof, ProofChallenge } from '../protocol';
import { request, type ClientSocket } from './socket';

/** WebCrypto exists only in secure contexts (https, or localhost). */
export const canProveWork = () => typeof window !== 'undefined' && window.isSecureContext && !!globalThis.crypto?.subtle;

/**
 * Solve `challenge`. The solver is loaded here, when the server first asks for a proof, not with the
 * page: most visitors are never asked, and the Join Us page stays light (issue 11).
 */
export async function proveWork(challenge: ProofChallenge): Promise<Proof | null> {
  const [{ solveChallenge }, { deriveKey }] = await Promise.all([import('altcha-lib'), import('altcha-lib/algorithms/web/pbkdf2')]);
  const solution = await solveChallenge({ challenge, deriveKey, timeout: 60_000 });
  return solution ? { challenge, solution } : null;
}

/** Asking again after `busy` (the server paces expensive checks): how many times at most. */
const BUSY_RETRIES = 8;

/**
 * A request the server may answer with `proof_required` (solve, then ask again with the proof; a
 * proof that expired meanwhile gets one more round) or `busy` (ask again after the pause it names).
 * `onChecking` gets the server's reason while the browser works, and null when it is done.
 */
export async function requestWithProof<E extends 'handle:login' | 'agent:signIn'>(
  socket: ClientSocket,
  event: E,
  payload: Payload<E>,
  onChecking: (why: string | null) => void,
): Promise<Ack<AckData[E]>> {
  let proof: Proof | undefined;
  let rounds = 0;
  for (let busy = 0; ; ) {
    const r = await request(socket, event, (proof ? { ...payload, proof } : payload) as Payload<E>);
    proof = undefined;
    if (r.ok) return r;
    if (r.error.reason === 'busy' && busy++ < BUSY_RETRIES) {
      await new Promise((resolve) => setTimeout(resolve, r.error.retryAfterMs ?? 500));
      continue;
    }
    if (r.error.reason !== 'proof_required' || !r.error.challenge || rounds++ >= 2) return r;
    if (!canProveWork()) {
      return {
        ok: false,
        error: {
          reason: 'proof_required',
          message:
            'Many attempts have failed recently, and this page is not on a secure (https) address, so your browser cannot do the short check that is needed now. Open this page at its https address.',
        },
      };
    }
    onChecking(r.error.message);
    proof = (await proveWork(r.error.challenge).catch(() => null)) ?? undefined;
    onChecking(null);
    if (!proof) return { ok: false, error: { reason: 'internal', message: 'The check did not finish. Try again.' } };
  }
}
