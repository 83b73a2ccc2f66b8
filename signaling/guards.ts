/**
 * Who may try again, and at what cost: the handle log-in guard (H8 + proof of work) and the agent
 * sign-in guard. Counting is rate-limiter-flexible's; the proof of work is ALTCHA's (altcha-lib).
 * The reasoning and the figures are in docs/decisions/0007-guessing-costs-work.md.
 */
import { RateLimiterMemory, type RateLimiterAbstract, type RateLimiterRes } from 'rate-limiter-flexible';
import { changeTogether, memoryLimiters, memoryProofLedger, type Counter, type LimiterFactory, type ProofLedger } from './limiters';
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

/** An attempt let through: `settle` says how it went (a success is not counted as a failure). */
export interface Attempt {
  /** Failed attempts this address may still make before each one needs a proof of work. */
  attemptsLeft: number;
  settle(succeeded: boolean): Promise<void>;
}

export type Gate = { ok: true; attempt: Attempt } | { ok: false; error: ProtocolError };

/** Challenges kept open per address at most (beyond it the oldest are forgotten). */
const MAX_OPEN_CHALLENGES = 10_000;

/**
 * ALTCHA proofs of work: challenges signed with the deployment's secrets (the ledger's: made at
 * start-up in memory, or once in Redis for every node), each proof good for one attempt in the whole
 * deployment. Making a challenge costs the server one key derivation (about 1.4 ms of its thread
 * pool), so an address gets the same open challenge again until it is spent or nearly expired, and
 * at most `perSecond` new challenges are made a second: beyond it the latest one is handed out.
 */
export class ProofOfWork {
  /** Signatures of proofs this node saw spent (so it does not hand one out again); the ledger decides. */
  private readonly spent = new Map<string, number>();
  private readonly open = new Map<string, ProofChallenge>();
  private latest: ProofChallenge | null = null;
  private readonly making: RateLimiterMemory;

  constructor(
    private readonly steps: number,
    private readonly ledger: ProofLedger = memoryProofLedger(),
    perSecond = 200,
  ) {
    this.making = new RateLimiterMemory({ keyPrefix: 'pow-make', points: perSecond, duration: 1 });
  }

  private usable(c: ProofChallenge | null | undefined): c is ProofChallenge {
    // At least half its life left: time to solve it and send it.
    return !!c && !this.spent.has(c.signature) && c.parameters.expiresAt * 1000 - Date.now() > (CHALLENGE_TTL_S * 1000) / 2;
  }

  async challengeFor(key: string): Promise<ProofChallenge> {
    const open = this.open.get(key);
    if (this.usable(open)) return open;
    const fresh = await this.make().catch(() => null);
    const c = fresh ?? (this.usable(this.latest) ? this.latest : await this.create());
    this.open.delete(key);
    this.open.set(key, c);
    if (this.open.size > MAX_OPEN_CHALLENGES) this.open.delete(this.open.keys().next().value!);
    return c;
  }

  /** A new challenge, within the rate; throws past it. */
  private async make(): Promise<ProofChallenge> {
    await this.making.consume('all');
    return this.create();
  }

  private async create(): Promise<ProofChallenge> {
    const steps = Math.max(1, this.steps);
    const secrets = await this.ledger.secrets();
    const c = (await createChallenge({
      algorithm: PROOF_ALGORITHM,
      cost: PROOF_COST,
      // The solver counts up from 0: a random target between half and one and a half times the mean.
      counter: randomInt(Math.ceil(steps / 2), Math.ceil((steps * 3) / 2)),
      deriveKey,
      expiresAt: Math.floor(Date.now() / 1000) + CHALLENGE_TTL_S,
      hmacSignatureSecret: secrets.signature,
      hmacKeySignatureSecret: secrets.key,
    })) as ProofChallenge;
    this.latest = c;
    return c;
  }

  /**
   * The answer to an attempt that needs a proof and brought none (`why` says what made it needed),
   * or brought one that did not pass: a challenge to solve.
   */
  async refusal(address: string, proof: Proof | undefined, why: string): Promise<{ ok: false; error: ProtocolError }> {
    return {
      ok: false,
      error: {
        reason: ErrorReason.proofRequired,
        message: proof ? 'The check did not pass or has expired. Try again: your browser will do a new one.' : why,
        challenge: await this.challengeFor(address),
      },
    };
  }

  /** A valid proof of a challenge of ours, not spent before: spends it. */
  async spend(proof: Proof): Promise<boolean> {
    const signature = proof.challenge.signature;
    const now = Date.now();
    if (this.spent.has(signature)) return false;
    let verified = false;
    const secrets = await this.ledger.secrets();
    try {
      // With the key signature this is two HMACs, whatever the cost: a forged proof costs us nothing.
      const r = await verifySolution({
        challenge: proof.challenge,
        solution: proof.solution,
        deriveKey,
        hmacSignatureSecret: secrets.signature,
        hmacKeySignatureSecret: secrets.key,
      });
      verified = r.verified;
    } catch {
      verified = false; // malformed beyond what the schema catches: not a proof
    }
    if (!verified) return false;
    if (this.spent.has(signature)) return false; // spent by a concurrent attempt meanwhile
    const until = proof.challenge.parameters.expiresAt * 1000;
    // Once in the whole deployment: another node may have taken it (then this node stops handing
    // that challenge out too).
    if (!(await this.ledger.spend(signature, until))) {
      this.spent.set(signature, until);
      return false;
    }
    this.spent.set(signature, until);
    if (this.spent.size % 256 === 0) {
      for (const [sig, until] of this.spent) if (until < now) this.spent.delete(sig);
    }
    return true;
  }
}

/** A limiter's answer after counting this attempt: over its limit? */
const over = (r: RateLimiterRes, points: number) => r.consumedPoints > points;

export class JoinGuard {
  private readonly perClient: RateLimiterAbstract;
  private readonly total: RateLimiterAbstract;
  readonly proofs: ProofOfWork;

  constructor(
    private readonly limits: JoinRateLimits,
    limiters: LimiterFactory = memoryLimiters,
    ledger: ProofLedger = memoryProofLedger(),
  ) {
    const duration = Math.max(1, Math.round(limits.windowMs / 1000));
    this.perClient = limiters({ keyPrefix: 'join-ip', points: limits.perClientFailures, duration });
    this.total = limiters({ keyPrefix: 'join-all', points: limits.totalFailures, duration });
    this.proofs = new ProofOfWork(limits.proofSteps, ledger);
  }

  /**
   * May this attempt be checked? It is counted as a failure first, in one step, so attempts sent
   * side by side cannot all slip in under the limit; one that succeeds, or is not tried, is given
   * back. Free while the address and the service are within their failure limits; past either, only
   * with a fresh, valid proof of work. Never a flat refusal: no number of guessers can keep a person
   * with a valid handle out, they can only make each attempt cost a second.
   */
  async admit(address: string, proof: Proof | undefined): Promise<Gate> {
    // Both counts in one step (one script with Redis), and given back in one.
    const counters: Counter[] = [
      [this.perClient, address],
      [this.total, 'all'],
    ];
    const [mine, all] = (await changeTogether(counters, 1)) as [RateLimiterRes, RateLimiterRes];
    const giveBack = () => changeTogether(counters, -1).then(() => {});
    const mineOver = over(mine, this.limits.perClientFailures);
    if ((!mineOver && !over(all, this.limits.totalFailures)) || (proof && (await this.proofs.spend(proof)))) {
      return {
        ok: true,
        attempt: {
          attemptsLeft: Math.max(0, this.limits.perClientFailures - mine.consumedPoints),
          settle: async (succeeded) => {
            if (succeeded) await giveBack();
          },
        },
      };
    }
    await giveBack();
    const who = mineOver
      ? `from your connection (more than ${this.limits.perClientFailures} a minute)`
      : `on this service right now (more than ${this.limits.totalFailures} a minute)`;
    return this.proofs.refusal(
      address,
      proof,
      `Too many failed attempts ${who}, so your browser does a short check (about a second) before each attempt.`,
    );
  }
}

export interface SignInLimits {
  /** Failed sign-ins for one account from one address per window. @default 10 */
  perAccountAndAddress: number;
  /** Failed sign-ins from one address, whatever the account. @default 50 */
  perAddress: number;
  /**
   * Failed sign-ins for one account from anywhere, past which each attempt needs a proof of work
   * (a refusal here would let a distributed guesser lock the agent out). @default 100
   */
  perAccount: number;
  /** @default 15 minutes */
  windowMs: number;
  /** Password checks at once, in all (each is ~0.2 s and 32 MiB of scrypt); 2 per address. @default 4 */
  concurrentChecks: number;
}

export const defaultSignInLimits: SignInLimits = {
  perAccountAndAddress: 10,
  perAddress: 50,
  perAccount: 100,
  windowMs: 15 * 60_000,
  concurrentChecks: 4,
};

/**
 * Agent sign-in: failures counted per account and address and per address (past either: wait), and
 * per account (past it: a proof of work per attempt). Counted before the password is checked, given
 * back on success; at most `concurrentChecks` password checks run at once, one per address.
 */
export class SignInGuard {
  private readonly pair: RateLimiterAbstract;
  private readonly address: RateLimiterAbstract;
  private readonly account: RateLimiterAbstract;
  private checking = 0;
  private readonly checkingFrom = new Map<string, number>();

  constructor(
    private readonly limits: SignInLimits,
    private readonly proofs: ProofOfWork,
    limiters: LimiterFactory = memoryLimiters,
  ) {
    const duration = Math.max(1, Math.round(limits.windowMs / 1000));
    this.pair = limiters({ keyPrefix: 'signin-pair', points: limits.perAccountAndAddress, duration });
    this.address = limiters({ keyPrefix: 'signin-ip', points: limits.perAddress, duration });
    this.account = limiters({ keyPrefix: 'signin-account', points: limits.perAccount, duration });
  }

  private static pairKey = (account: string, address: string) => `${account.toLowerCase()}|${address}`;

  async admit(account: string, address: string, proof: Proof | undefined): Promise<Gate> {
    if (this.checking >= this.limits.concurrentChecks || (this.checkingFrom.get(address) ?? 0) >= 2) {
      return {
        ok: false,
        error: { reason: ErrorReason.busy, message: 'Signing in is busy right now. Trying again…', retryAfterMs: 500 },
      };
    }
    const pairKey = SignInGuard.pairKey(account, address);
    const accountKey = account.toLowerCase();
    const counters: Counter[] = [
      [this.pair, pairKey],
      [this.address, address],
      [this.account, accountKey],
    ];
    const [pair, byAddress, byAccount] = (await changeTogether(counters, 1)) as [RateLimiterRes, RateLimiterRes, RateLimiterRes];
    const giveBack = () => changeTogether(counters, -1).then(() => {});
    const hard = over(pair, this.limits.perAccountAndAddress)
      ? { r: pair, who: 'for this account from your connection' }
      : over(byAddress, this.limits.perAddress)
        ? { r: byAddress, who: 'from your connection' }
        : null;
    if (hard) {
      await giveBack();
      const ms = hard.r.msBeforeNext;
      const wait = ms < 60_000 ? plural(Math.ceil(ms / 1000), 'second') : plural(Math.ceil(ms / 60_000), 'minute');
      return {
        ok: false,
        error: { reason: ErrorReason.rateLimited, message: `Too many failed sign-ins ${hard.who}. Wait ${wait}, then try again.`, retryAfterMs: ms },
      };
    }
    if (over(byAccount, this.limits.perAccount) && !(proof && (await this.proofs.spend(proof)))) {
      await giveBack();
      return this.proofs.refusal(
        address,
        proof,
        'Many failed sign-ins for this account recently, so your browser does a short check (about a second) first.',
      );
    }
    this.checking++;
    this.checkingFrom.set(address, (this.checkingFrom.get(address) ?? 0) + 1);
    let settled = false;
    return {
      ok: true,
      attempt: {
        attemptsLeft: Math.max(0, this.limits.perAccountAndAddress - pair.consumedPoints),
        settle: async (succeeded) => {
          if (settled) return;
          settled = true;
          this.checking--;
          const n = (this.checkingFrom.get(address) ?? 1) - 1;
          if (n > 0) this.checkingFrom.set(address, n);
          else this.checkingFrom.delete(address);
          // A right password clears this address's count for the account and gives back the rest.
          if (succeeded) await Promise.all([this.pair.delete(pairKey), this.address.reward(address, 1), this.account.reward(accountKey, 1)]);
        },
      },
    };
  }
}
