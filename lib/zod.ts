/**
 * zod, for every module of ours that the pages may load: `import * as z from '…/lib/zod'`, never
 * from 'zod' (eslint says so).
 *
 * In the browser zod is made jitless before any schema is built. Zod compiles its object parsers
 * with `new Function` when it can, and probes for that with a `new Function('')` the first time an
 * object schema is built: under the pages' CSP (no 'unsafe-eval', decision 0009) that probe is a
 * reported violation. Jitless, zod neither probes nor compiles. A module is evaluated before any
 * module that imports it, so the setting is in place before their schemas are built. It used to be
 * set in instrumentation-client.ts, which put zod into every page (issue 11): now only the pages that
 * use zod load it. On the server (no `window`: Node, server rendering) zod keeps compiling.
 *
 * Why a namespace import of a star re-export, and not zod's `z`: the bundler drops what a namespace
 * import never reads (`z.object`, `z.string`, … are kept), but zod's `z` object handed on from here
 * escapes that analysis and brings all of zod, its 40-odd locales included (about 60 kB gzip more on
 * the session view, measured).
 */
import { config } from 'zod';

if (typeof window !== 'undefined') config({ jitless: true });

export * from 'zod';
