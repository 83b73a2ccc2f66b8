/** Agent passwords (threat model: "Someone guessing agent passwords"): scrypt hashes and plaintext. */
import { describe, expect, it } from 'vitest';
import { hashPassword, looksHashed, parseScryptHash, verifyPassword } from '../../signaling/core/passwords';

describe('agent passwords', () => {
  it('a hash has the documented form, a fresh salt each time, and checks only its own password', async () => {
    const a = await hashPassword('correct horse', 10);
    const b = await hashPassword('correct horse', 10);
    expect(a).toMatch(/^scrypt\$10\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain(',');
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct horse', b)).toBe(true);
    expect(await verifyPassword('correct horse ', a)).toBe(false);
    expect(await verifyPassword('', a)).toBe(false);
    expect(await verifyPassword(a, a)).toBe(false);
  });

  it('a password given in clear still works; an unknown account never does', async () => {
    expect(await verifyPassword('pw', 'pw')).toBe(true);
    expect(await verifyPassword('pw2', 'pw')).toBe(false);
    expect(await verifyPassword('anything', undefined)).toBe(false);
  });

  it('a malformed or out-of-bounds hash matches nothing', async () => {
    const good = await hashPassword('x', 10);
    const [, , r, p, salt, hash] = good.split('$');
    for (const bad of [`scrypt$9$${r}$${p}$${salt}$${hash}`, `scrypt$21$${r}$${p}$${salt}$${hash}`, `scrypt$10$${r}$${p}$${salt}`, 'scrypt$']) {
      expect(parseScryptHash(bad), bad).toBeNull();
      expect(looksHashed(bad)).toBe(true);
      expect(await verifyPassword('x', bad), bad).toBe(false);
    }
  });
});
