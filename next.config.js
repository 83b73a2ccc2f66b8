// @ts-check
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
};

export default nextConfig;
