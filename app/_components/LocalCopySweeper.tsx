'use client';
/**
 * Privacy at rest: on the pages a new person opens (start, help, Join Us), delete session copies that
 * no open tab holds (lib/client/local-copies.ts). Renders nothing.
 */
import { useEffect } from 'react';
import { sweepLocalCopies } from '@/lib/client/local-copies';

export function LocalCopySweeper() {
  useEffect(() => {
    void sweepLocalCopies().catch(() => {});
  }, []);
  return null;
}
