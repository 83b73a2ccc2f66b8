/**
 * The Node.js half of instrumentation.ts (kept apart so the Edge build never sees process.exit):
 * validate the pages' settings and hand them to proxy.ts and the layout through the environment.
 * Under `npm start`, server.ts has done so already in this process.
 */
import { loadPagesConfig, orExit, pagesEnvironment } from './signaling/config';

if (process.env.JOINUS_PAGES_CHECKED !== '1') {
  Object.assign(process.env, pagesEnvironment(orExit(() => loadPagesConfig())), { JOINUS_PAGES_CHECKED: '1' });
}
