/**
 * The coturn the tests start (tests/support/coturn.ts) really relays for REST credentials made with its
 * secret and refuses others: checked with a real TURN Allocate over UDP and TCP.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCoturn, turnAllocate, turnRestCredentials, type Coturn } from '../support/coturn';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function coturnPids(port: number): number[] {
  try {
    return execFileSync('pgrep', ['-f', `turnserver .*--listening-port=${port}( |$)`], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe('coturn for the tests', () => {
  it('[TURN] coturn from the test support answers a STUN binding request and stops cleanly', async () => {
    const coturn = await startCoturn({ secret: 'binding-secret' });
    expect(coturn.urls).toEqual([`turn:127.0.0.1:${coturn.port}?transport=udp`, `turn:127.0.0.1:${coturn.port}?transport=tcp`]);
    // startCoturn resolved, so a Binding request was answered on UDP and TCP; the process is ours.
    const pids = coturnPids(coturn.port);
    expect(pids).toHaveLength(1);

    await Promise.all([coturn.stop(), coturn.stop()]); // idempotent
    expect(isRunning(pids[0]!)).toBe(false);
    // Its port block is free again: the next coturn may get it.
    const again = await startCoturn();
    await again.stop();
  });

  it('[TURN] two coturns run side by side on different ports', async () => {
    const [a, b] = await Promise.all([startCoturn(), startCoturn()]);
    try {
      expect(a.port).not.toBe(b.port);
      const [ra, rb] = await Promise.all([
        turnAllocate(a.port, ...cred(turnRestCredentials(a.secret, 'pa', 60))),
        turnAllocate(b.port, ...cred(turnRestCredentials(b.secret, 'pb', 60))),
      ]);
      expect([ra, rb]).toMatchObject([{ ok: true }, { ok: true }]);
      // Each coturn refuses the other's credentials: each answered for itself.
      expect(await turnAllocate(a.port, ...cred(turnRestCredentials(b.secret, 'pb', 60)))).toMatchObject({ ok: false, code: 401 });
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

function cred(c: { username: string; credential: string }): [string, string] {
  return [c.username, c.credential];
}

describe('TURN REST credentials against coturn', () => {
  let coturn: Coturn;
  beforeAll(async () => {
    coturn = await startCoturn();
  });
  afterAll(async () => {
    await coturn?.stop();
  });

  for (const transport of ['udp', 'tcp'] as const) {
    it(`[TURN] an Allocate over ${transport} with REST credentials from the shared secret gets a relayed address`, async () => {
      const { username, credential } = turnRestCredentials(coturn.secret, 'participant-1', 3600);
      const result = await turnAllocate(coturn.port, username, credential, transport);
      expect(result).toEqual({ ok: true, relayed: { address: '127.0.0.1', port: expect.any(Number) } });
      if (result.ok) {
        expect(result.relayed.port).toBeGreaterThan(coturn.port - 100);
        expect(result.relayed.port).toBeLessThan(coturn.port);
      }
    });
  }

  it('[TURN] an Allocate with credentials made from a wrong secret is refused', async () => {
    const { username, credential } = turnRestCredentials('not-the-secret', 'participant-1', 3600);
    const result = await turnAllocate(coturn.port, username, credential);
    expect(result).toMatchObject({ ok: false, code: 401 });
  });

  it('[TURN] an Allocate with expired REST credentials is refused', async () => {
    const { username, credential } = turnRestCredentials(coturn.secret, 'participant-1', -60);
    const result = await turnAllocate(coturn.port, username, credential);
    expect(result).toMatchObject({ ok: false, code: 401 });
  });
});
