/** signaling/edge.ts: what the limits count as one client address. */
import { describe, expect, it } from 'vitest';
import { limitKey } from '../../signaling/edge';

describe('limit keys', () => {
  it('an IPv4 address counts as itself, also when it arrives IPv4-mapped', () => {
    expect(limitKey('203.0.113.7')).toBe('203.0.113.7');
    expect(limitKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(limitKey('127.0.0.1')).toBe('127.0.0.1');
  });

  it('an IPv6 address counts by its /64: a fresh address of the same block is the same client', () => {
    expect(limitKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(limitKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(limitKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(limitKey('::1')).toBe('0:0:0:0::/64');
  });

  it('anything else is kept as it is', () => {
    expect(limitKey('unknown')).toBe('unknown');
  });
});
