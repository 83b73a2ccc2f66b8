/**
 * Threat model, at the signaling server's edge: other sites' pages cannot connect, agent passwords
 * cannot be guessed without limit (and may be stored hashed), and X-Forwarded-For counts only from
 * proxies the operator trusts.
 */
import { describe, expect, it } from 'vitest';
import { hashPassword } from '../../signaling/core/passwords';
import { expectOk, expectRefused, startSignaling } from '../support/signaling';
import { openSession } from '../support/flows';
import { solveProof } from '../support/proof';

describe('same origin only', () => {
  it('refuses a WebSocket from another site, accepts the own origin, listed origins and non-browsers', async () => {
    const h = await startSignaling({ allowedOrigins: ['https://pages.example.com'] });
    await expect(h.client({ headers: { Origin: 'https://evil.example' } })).rejects.toThrow(/connect_error/);
    await expect(h.client({ headers: { Origin: 'null' } })).rejects.toThrow(/connect_error/);
    // Same host, another port: another origin. (The scheme is not compared: behind a proxy that ends
    // TLS the server sees http for an https page, and one port cannot serve both to an attacker.)
    await expect(h.client({ headers: { Origin: `http://127.0.0.1:${h.port + 1}` } })).rejects.toThrow(/connect_error/);
    await expect(h.client({ headers: { Origin: `http://localhost:${h.port}` } })).rejects.toThrow(/connect_error/);
    expect(h.logs.some((l) => l.msg === 'connection refused: origin not allowed' && l.origin === 'https://evil.example')).toBe(true);

    const own = await h.client({ headers: { Origin: h.url } });
    expectOk(await own.request('agent:signIn', { username: 'alice', password: 'alice-password' }));
    const listed = await h.client({ headers: { Origin: 'https://pages.example.com' } });
    expectOk(await listed.request('agent:signIn', { username: 'bob', password: 'bob-password' }));
    const noOrigin = await h.client();
    expectOk(await noOrigin.request('agent:signIn', { username: 'carol', password: 'carol-password' }));
  });
});

describe('agent sign-in', () => {
  it('limits failed sign-ins per account and address, shows the wait, and leaves others alone', async () => {
    const h = await startSignaling({ signInLimits: { perAccountAndAddress: 3 } });
    const guesser = await h.client({ localAddress: '127.0.0.2' });
    for (let i = 0; i < 3; i++) {
      expectRefused(await guesser.request('agent:signIn', { username: 'alice', password: `guess-${i}` }), 'sign_in_failed');
    }
    const blocked = expectRefused(await guesser.request('agent:signIn', { username: 'alice', password: 'alice-password' }), 'rate_limited');
    expect(blocked.message).toMatch(/^Too many failed sign-ins for this account from your connection\. Wait 15 minutes, then try again\.$/);
    expect(blocked.retryAfterMs).toBeGreaterThan(14 * 60_000);
    // The same address may still sign in to another account, and alice from elsewhere.
    expectOk(await guesser.request('agent:signIn', { username: 'bob', password: 'bob-password' }));
    const alice = await h.client({ localAddress: '127.0.0.3' });
    expectOk(await alice.request('agent:signIn', { username: 'alice', password: 'alice-password' }));
  });

  it('limits failures per address across accounts; past the per-account limit, attempts cost a proof of work', async () => {
    const h = await startSignaling({ signInLimits: { perAddress: 4, perAccount: 6 } });
    const sprayer = await h.client({ localAddress: '127.0.0.2' });
    for (const username of ['alice', 'bob', 'carol', 'nobody']) {
      expectRefused(await sprayer.request('agent:signIn', { username, password: 'Winter2026!' }), 'sign_in_failed');
    }
    const byAddress = expectRefused(await sprayer.request('agent:signIn', { username: 'bob', password: 'bob-password' }), 'rate_limited');
    expect(byAddress.message).toMatch(/from your connection\. Wait/);

    // carol has one failure (from the sprayer); five more from five addresses reach her limit of 6.
    for (let i = 0; i < 5; i++) {
      const c = await h.client({ localAddress: `127.0.1.${10 + i}` });
      expectRefused(await c.request('agent:signIn', { username: 'carol', password: `guess-${i}` }), 'sign_in_failed');
    }
    // Not a lock-out (a distributed guesser could otherwise keep carol out): each attempt now costs
    // a proof of work, and with one the right password works.
    const fresh = await h.client({ localAddress: '127.0.2.1' });
    const asked = expectRefused(await fresh.request('agent:signIn', { username: 'carol', password: 'carol-password' }), 'proof_required');
    expect(asked.message).toMatch(/failed sign-ins for this account/);
    const proof = await solveProof(asked.challenge!);
    expectOk(await fresh.request('agent:signIn', { username: 'carol', password: 'carol-password', proof }));
    // The proof is spent; other accounts need none.
    expectRefused(await fresh.request('agent:signIn', { username: 'carol', password: 'carol-password', proof }), 'proof_required');
    expectOk(await fresh.request('agent:signIn', { username: 'alice', password: 'alice-password' }));
  });

  it('guesses sent side by side are counted before the password is checked: none slips past the limit', async () => {
    const h = await startSignaling({ signInLimits: { perAccountAndAddress: 3 } });
    const sockets = await Promise.all(Array.from({ length: 30 }, () => h.client({ localAddress: '127.0.0.7' })));
    const answers = await Promise.all(sockets.map((c, i) => c.request('agent:signIn', { username: 'alice', password: `guess-${i}` })));
    const reasons = answers.map((a) => (a.ok ? 'ok' : a.error.reason));
    // Each socket asks once: the ones turned away as "busy" (two checks at a time per address) would
    // ask again in a browser; none of them was checked.
    expect(reasons.filter((r) => r === 'sign_in_failed').length).toBeLessThanOrEqual(3);
    expect(reasons.filter((r) => r === 'ok')).toEqual([]);
    expect(reasons.filter((r) => !['sign_in_failed', 'busy', 'rate_limited'].includes(r))).toEqual([]);
    // Keep asking until the burst is over: the limit holds.
    let failed = reasons.filter((r) => r === 'sign_in_failed').length;
    for (const c of sockets) {
      for (;;) {
        const a = await c.request('agent:signIn', { username: 'alice', password: 'another-guess' });
        if (a.ok || a.error.reason !== 'busy') {
          if (!a.ok && a.error.reason === 'sign_in_failed') failed++;
          break;
        }
      }
    }
    expect(failed).toBe(3);
  });

  it('a successful sign-in clears the count for that account from that address', async () => {
    const h = await startSignaling({ signInLimits: { perAccountAndAddress: 3 } });
    const c = await h.client();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2; i++) expectRefused(await c.request('agent:signIn', { username: 'alice', password: 'typo' }), 'sign_in_failed');
      expectOk(await c.request('agent:signIn', { username: 'alice', password: 'alice-password' }));
    }
  });

  it('accepts a password stored as a scrypt hash, and refuses a wrong one', async () => {
    const h = await startSignaling({ agents: { dora: await hashPassword('dora secret', 10) } });
    const c = await h.client();
    expectRefused(await c.request('agent:signIn', { username: 'dora', password: 'dora' }), 'sign_in_failed');
    // The hash itself is not the password.
    expectRefused(await c.request('agent:signIn', { username: 'dora', password: 'scrypt$10$8$1$x$y' }), 'sign_in_failed');
    expect(expectOk(await c.request('agent:signIn', { username: 'dora', password: 'dora secret' })).name).toBe('dora');
  });
});

describe('trusted proxy', () => {
  const failUntilProof = async (h: Awaited<ReturnType<typeof startSignaling>>, headers: Record<string, string>) => {
    const c = await h.client({ headers });
    for (let i = 0; i < 5; i++) expectRefused(await c.request('handle:login', { name: 'G', handle: `wrong-${i}-handle` }), 'handle_unusable');
    expectRefused(await c.request('handle:login', { name: 'G', handle: 'wrong-handle' }), 'proof_required');
  };

  it('without JOINUS_TRUST_PROXY, X-Forwarded-For is ignored: every claimed address is one client', async () => {
    const h = await startSignaling();
    await failUntilProof(h, { 'X-Forwarded-For': '203.0.113.1' });
    const other = await h.client({ headers: { 'X-Forwarded-For': '203.0.113.2' } });
    expectRefused(await other.request('handle:login', { name: 'G', handle: 'wrong-handle' }), 'proof_required');
  });

  it('behind a trusted proxy, the limits key on the forwarded client address', async () => {
    const h = await startSignaling({ trustProxy: ['loopback'] });
    const s = await openSession(h);
    expectOk(await s.agent.client.request('handle:reserve', { sessionId: s.sessionId, handle: 'right-handle' }));
    await failUntilProof(h, { 'X-Forwarded-For': '203.0.113.1' });
    // Another person behind the same proxy is not held up by the first one's failures.
    const other = await h.client({ headers: { 'X-Forwarded-For': '203.0.113.2' } });
    expectOk(await other.request('handle:login', { name: 'Ada', handle: 'right-handle' }));
    // A spoofed hop in front of the real client does not help: the nearest untrusted address counts.
    const spoof = await h.client({ headers: { 'X-Forwarded-For': '198.51.100.7, 203.0.113.1' } });
    expectRefused(await spoof.request('handle:login', { name: 'G', handle: 'wrong-handle' }), 'proof_required');
  });

  it('a number of hops trusts exactly that many', async () => {
    const h = await startSignaling({ trustProxy: 1 });
    await failUntilProof(h, { 'X-Forwarded-For': '198.51.100.9, 203.0.113.1' });
    const c = await h.client({ headers: { 'X-Forwarded-For': '198.51.100.10, 203.0.113.1' } });
    expectRefused(await c.request('handle:login', { name: 'G', handle: 'wrong-handle' }), 'proof_required');
  });
});
