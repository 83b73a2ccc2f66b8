/**
 * The Node.js half of instrumentation.ts (kept apart so the Edge build never sees process.exit):
 * validate the pages' settings and hand them to proxy.ts and the layout through the environment.
 */
import { ConfigError, loadPagesConfig, pagesEnvironment } from './signaling/config';

try {
  Object.assign(process.env, pagesEnvironment(loadPagesConfig()));
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`Configuration error: ${err.message}`);
  process.exit(2);
}
