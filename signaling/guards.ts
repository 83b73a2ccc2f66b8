/**
 * Who may try again, and at what cost: the handle log-in guard (H8 + proof of work) and the agent
 * sign-in guard. Counting is rate-limiter-flexible's; the proof of work is ALTCHA's (altcha-lib).
 * The reasoning and the figures are in docs/decisions/0007-guessing-costs-work.md.
 */
import { randomBytes } from 'node:crypto';
import { RateLimiterMemory, type RateLimiterRes } from 'rate-limiter-flexible';
import { createChallenge, randomInt, verifySolution } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/pbkdf2';
import { ErrorReason, PROOF_ALGORITHM, PROOF_COST, type Proof, type ProofChallenge, type ProtocolError } from '../lib/protocol';

export interface JoinRateLimits {
  /** H8: failed handle log-ins one client address may make per window without a proof of work. @default 5 */
  perClientFailures: number;
  /** H8: failed handle log-ins all clients together may make per window without one. @default 100 */
  totalFailures: number;
  /** @default 60_000 */
  windowMs: number;
  /**
   * Mean number of key derivations (PBKDF2-SHA-256, PROOF_COST rounds each) a proof takes: about
   * 1.2 ms each in a browser on this project's 2-core reference machine, so 800 is about a second.
   * JOINUS_POW_STEPS. @default 800
   */
  proofSteps: number;
}

export const defaultJoinRateLimits: JoinRateLimits = {
  perClientFailures: 5,
  totalFailures: 100,
  windowMs: 60_000,
  proofSteps: 800,
};

/** How long a challenge may take to solve and send (a phone on a bad day). */
const CHALLENGE_TTL_S = 120;

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;

export type Gate = { ok: true } | { ok: false; error: ProtocolError };

export class JoinGuard {
  private readonly perClient: RateLimiterMemory;
  private readonly total: RateLimiterMemory;
  private readonly secret = randomBytes(32).toString('base64url');
  private readonly keySecret = randomBytes(32).toString('base64url');
  /** Signatures of proofs already spent, until their challenge expires: each proof buys one attempt. */
  private readonly spent = new Map<string, number>();

  constructor(private readonly limits: JoinRateLimits) {
    const duration = Math.max(1, Math.round(limits.windowMs / 1000));
    this.perClient = new RateLimiterMemory({ keyPrefix: 'join-ip', points: limits.perClientFailures, duration });
    this.total = new RateLimiterMemory({ keyPrefix: 'join-all', points: limits.totalFailures, duration });
  }

  /**
   * May this attempt be checked? Free while the address and the service are under their failure
   * limits; past either, only with a fresh, valid proof of work. Never a flat refusal: no number of
   * guessers can keep a person with a valid handle out, they can only make each attempt cost a second.
   */
  async admit(address: string, proof: Proof | undefined): Promise<Gate> {
    const [mine, all] = await Promise.all([this.perClient.get(address), this.total.get('all')]);
    const spent = (r: RateLimiterRes | null) => r !== null && r.remainingPoints <= 0;
    if (!spent(mine) && !spent(all)) return { ok: true };
    if (proof && (await this.verify(proof))) return { ok: true };
    const who = spent(mine)
      ? `from your connection (more than ${this.limits.perClientFailures} a minute)`
      : `on this service right now (more than ${this.limits.totalFailures} a minute)`;
    return {
      ok: false,
      error: {
        reason: ErrorReason.proofRequired,
        message: proof
          ? 'The check did not pass or has expired. Try again: your browser will do a new one.'
          : `Too many failed attempts ${who}, so your browser does a short check (about a second) before each attempt.`,
        challenge: await this.challenge(),
      },
    };
  }

  /** Counts a failed attempt; answers how many more this address may make before checks start. */
  async failed(address: string): Promise<number> {
    const [mine] = await Promise.all([this.perClient.penalty(address, 1), this.total.penalty('all', 1)]);
    return Math.max(0, mine.remainingPoints);
  }

  async challenge(): Promise<ProofChallenge> {
    const steps = Math.max(1, this.limits.proofSteps);
    const c = await createChallenge({
      algorithm: PROOF_ALGORITHM,
      cost: PROOF_COST,
      // The solver counts up from 0: a random target between half and one and a half times the mean.
      counter: randomInt(Math.ceil(steps / 2), Math.ceil((steps * 3) / 2)),
      deriveKey,
      expiresAt: Math.floor(Date.now() / 1000) + CHALLENGE_TTL_S,
      hmacSignatureSecret: this.secret,
      hmacKeySignatureSecret: this.keySecret,
    });
    return c as ProofChallenge;
  }

  private async verify(proof: Proof): Promise<boolean> {
    const signature = proof.challenge.signature;
    const now = Date.now();
    if (this.spent.has(signature)) return false;
    let verified = false;
    try {
      // With the key signature this is two HMACs, whatever the cost: a forged proof costs us nothing.
      const r = await verifySolution({
        challenge: proof.challenge,
        solution: proof.solution,
        deriveKey,
        hmacSignatureSecret: this.secret,
        hmacKeySignatureSecret: this.keySecret,
      });
      verified = r.verified;
    } catch {
      verified = false; // malformed beyond what the schema catches: not a proof
    }
    if (!verified) return false;
    if (this.spent.has(signature)) return false; // spent by a concurrent attempt meanwhile
    this.spent.set(signature, (proof.challenge.parameters.expiresAt ?? 0) * 1000);
    if (this.spent.size % 256 === 0) {
      for (const [sig, until] of this.spent) if (until < now) this.spent.delete(sig);
    }
    return true;
  }
}

export interface SignInLimits {
  /** Failed sign-ins for one account from one address per window. @default 10 */
  perAccountAndAddress: number;
  /** Failed sign-ins from one address, whatever the account. @default 50 */
  perAddress: number;
  /** Failed sign-ins for one account from anywhere. @default 100 */
  perAccount: number;
  /** @default 15 minutes */
  windowMs: number;
}

export const defaultSignInLimits: SignInLimits = {
  perAccountAndAddress: 10,
  perAddress: 50,
  perAccount: 100,
  windowMs: 15 * 60_000,
};

/** Agent sign-in: failures counted per account and address, per address, and per account. */
export class SignInGuard {
  private readonly pair: RateLimiterMemory;
  private readonly address: RateLimiterMemory;
  private readonly account: RateLimiterMemory;

  constructor(private readonly limits: SignInLimits) {
    const duration = Math.max(1, Math.round(limits.windowMs / 1000));
    this.pair = new RateLimiterMemory({ keyPrefix: 'signin-pair', points: limits.perAccountAndAddress, duration });
    this.address = new RateLimiterMemory({ keyPrefix: 'signin-ip', points: limits.perAddress, duration });
    this.account = new RateLimiterMemory({ keyPrefix: 'signin-account', points: limits.perAccount, duration });
  }

  private static pairKey = (account: string, address: string) => `${account.toLowerCase()}|${address}`;

  async blocked(account: string, address: string): Promise<ProtocolError | null> {
    const checks = [
      [this.pair.get(SignInGuard.pairKey(account, address)), 'for this account from your connection'],
      [this.address.get(address), 'from your connection'],
      [this.account.get(account.toLowerCase()), 'for this account'],
    ] as const;
    for (const [pending, who] of checks) {
      const r = await pending;
      if (r && r.remainingPoints <= 0) {
        const minutes = Math.ceil(r.msBeforeNext / 60_000);
        const wait = r.msBeforeNext < 60_000 ? plural(Math.ceil(r.msBeforeNext / 1000), 'second') : plural(minutes, 'minute');
        return {
          reason: ErrorReason.rateLimited,
          message: `Too many failed sign-ins ${who}. Wait ${wait}, then try again.`,
          retryAfterMs: r.msBeforeNext,
        };
      }
    }
    return null;
  }

  async failed(account: string, address: string): Promise<void> {
    await Promise.all([
      this.pair.penalty(SignInGuard.pairKey(account, address), 1),
      this.address.penalty(address, 1),
      this.account.penalty(account.toLowerCase(), 1),
    ]);
  }

  /** A right password clears this address's count for the account (not the others). */
  async succeeded(account: string, address: string): Promise<void> {
    await this.pair.delete(SignInGuard.pairKey(account, address));
  }
}
