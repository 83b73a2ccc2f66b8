import { defineConfig, globalIgnores } from 'eslint/config';
import nextVitals from 'eslint-config-next/core-web-vitals';
import nextTs from 'eslint-config-next/typescript';

export default defineConfig([
  ...nextVitals,
  ...nextTs,
  globalIgnores(['.next/**', 'node_modules/**', 'test-results/**', 'playwright-report/**', '.bench/**', '.server/**', 'next-env.d.ts']),
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // Modules the pages may load (issue 11: page weight; decision 0009: CSP without 'unsafe-eval').
    files: ['app/**', 'features/**', 'lib/**'],
    ignores: ['lib/zod.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'zod', message: "import * as z from lib/zod: it makes zod jitless in the browser (the pages' CSP has no 'unsafe-eval'); a namespace import keeps zod's locales out." }],
          patterns: [
            {
              group: ['**/protocol-schemas'],
              allowTypeImports: true,
              message: 'The payload schemas are for the server (signaling/): the pages take constants and types from lib/protocol, without zod.',
            },
          ],
        },
      ],
    },
  },
]);
