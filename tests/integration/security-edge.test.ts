/**
 * Threat model, at the signaling server's edge: other sites' pages cannot connect, agent passwords
 * cannot be guessed without limit (and may be stored hashed), and X-Forwarded-For counts only from
 * proxies the operator trusts.
 */
import { describe, expect, it } from 'vitest';
import { hashPassword } from '../../signaling/core/passwords';
import { expectOk, expectRefused, startSignaling } from '../support/signaling';
import { openSession } from '../support/flows';

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

  it('limits failures per address across accounts, and per account across addresses', async () => {
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
    const fresh = await h.client({ localAddress: '127.0.2.1' });
    const byAccount = expectRefused(await fresh.request('agent:signIn', { username: 'carol', password: 'carol-password' }), 'rate_limited');
    expect(byAccount.message).toMatch(/^Too many failed sign-ins for this account\. Wait/);
    expectOk(await fresh.request('agent:signIn', { username: 'alice', password: 'alice-password' }));
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
