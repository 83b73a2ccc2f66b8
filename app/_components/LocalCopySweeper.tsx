'use client';
/**
 * Privacy at rest: on the pages a new person opens (start, help, Join Us), delete session copies that
 * no open tab holds (lib/client/local-copies.ts). Renders nothing.
 */
import { useEffect } from 'react';
import { sweepLocalCopies } from '@/lib/client/local-copies';

export function LocalCopySweeper() {
  useEffect(() => {
    // The mark says the sweep has run (for the browser tests, and for anyone checking by hand).
    const done = () => document.documentElement.setAttribute('data-local-copies', 'swept');
    void sweepLocalCopies().then(done, done);
  }, []);
  return null;
}
