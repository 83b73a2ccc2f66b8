/**
 * Runs once when a Next.js server starts. Under `next start` alone (pages served apart from the
 * signaling nodes, README "Scaling out") it validates the pages' settings the way `npm start` does
 * and hands them to proxy.ts and the layout; a wrong setting stops start-up with a clear message.
 */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME === 'nodejs') await import('./instrumentation-node');
}
