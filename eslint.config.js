// @ts-check
// `npm run lint` runs this over common/, peer/, signaling/, test/ and bench/
// with typescript-eslint's type-checked rules (types from tsconfig.json).
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

const SOURCES = ['common/**/*.ts', 'peer/**/*.ts', 'signaling/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'];

export default defineConfig([
  globalIgnores(['dist/', 'node_modules/', 'docs/', 'bench/.data/']),

  {
    files: SOURCES,
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // On everywhere. node:test's test()/describe() return a promise that the
      // runner itself tracks, so a top-level `test(...)` is not a floating
      // promise; a subtest `t.test(...)` still has to be awaited.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] }],
      // Forwarding a caught `unknown` to reject() is fine (as `throw e` is for
      // only-throw-error); rejecting with a string or an object literal is not.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true, allowThrowingAny: true }],
    },
  },

  // Tests drive the signaling server through socket.io-client, whose
  // emitWithAck() resolves to `any`; they then read fields off the raw replies
  // on purpose (that is what they check). The no-unsafe-* family only flags
  // those reads there, so it is off for test/ alone: the product and bench keep it.
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },

  // The config files themselves: plain JS, no type information.
  {
    files: ['*.js', '*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { module: 'writable', require: 'readonly', process: 'readonly' } },
  },
  { files: ['*.cjs'], languageOptions: { sourceType: 'commonjs' } },
]);
