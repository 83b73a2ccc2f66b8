// @ts-check
import { markChunksLoadedOnUse } from './scripts/compile-hints.mjs';

/** Headers every response carries, pages and static files alike. */
export const staticSecurityHeaders = {
  'X-Content-Type-Options': 'nosniff',
  // Nothing about a session (its address, a handle in a link) goes to the sites of pushed pages.
  'Referrer-Policy': 'no-referrer',
  // The microphone and screen capture for the app itself (voice, screen sharing); nothing for frames.
  'Permissions-Policy':
    'microphone=(self), display-capture=(self), camera=(), geolocation=(), payment=(), usb=(), serial=()',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // `npm run typecheck` checks the whole project (server and tests included) in CI; a user's
  // `npm start` should not fail or slow down on it.
  typescript: { ignoreBuildErrors: true, tsconfigPath: process.env.JOINUS_NEXT_TSCONFIG || 'tsconfig.json' },
  // Where the build goes (default .next). The browser tests build into a folder of their own, with a
  // tsconfig of their own for Next to adjust (tests/e2e/support/serve.mjs), so a `next build` or
  // `npm start` elsewhere in the checkout never swaps the pages under a running test server.
  distDir: process.env.JOINUS_NEXT_DIST_DIR || '.next',
  compiler: {
    // The chunks a page fetches on use (the session view, the socket.io client) are compiled whole
    // as they load, not function by function on the main thread when first called (decision 0021).
    runAfterProductionCompile: async ({ distDir }) => {
      await markChunksLoadedOnUse(distDir);
    },
  },
  // The fixed security headers on everything, static files included; the page CSP with its nonce
  // comes from proxy.ts (lib/security/headers.ts).
  async headers() {
    return [
      {
        source: '/:path*',
        headers: Object.entries(staticSecurityHeaders).map(([key, value]) => ({ key, value })),
      },
    ];
  },
};

export default nextConfig;
