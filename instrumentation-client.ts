/**
 * Runs in the browser before the pages' own code (Next.js instrumentation-client). Zod compiles its
 * object parsers with `new Function` when it can, and probes for that with a `new Function('')`
 * the first time a schema is built: under the pages' CSP (no 'unsafe-eval') that probe is a reported
 * violation on every page. Jitless, zod neither probes nor compiles.
 */
import { z } from 'zod';

z.config({ jitless: true });
