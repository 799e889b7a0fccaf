// Lint: typescript-eslint's recommended rules plus the architecture of CONVENTIONS.md as
// import restrictions (dependencies point one way; routing/, ingest/ and domain/ are pure).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noIo = ['node:net', 'node:fs', 'node:fs/promises', 'net', 'fs', 'fs/promises', 'pg', '@electric-sql/pglite', 'kysely', 'imapflow', 'nodemailer'];
const layer = (name) => [`**/${name}/**`, `../${name}/*`, `../../${name}/*`];

const restrict = (patterns, paths, message) => ({
  'no-restricted-imports': ['error', { patterns: [{ group: patterns, message }], paths: paths.map((name) => ({ name, message })) }],
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', 'web/dist/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', fetch: 'readonly', structuredClone: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
      // TypeScript checks names itself (typescript-eslint's advice); the browser globals of web/ too.
      'no-undef': 'off',
    },
  },
  {
    files: ['src/routing/**/*.ts', 'src/domain/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: restrict([...layer('store'), ...layer('connectors'), ...layer('server'), ...layer('services'), ...layer('cli')], noIo, 'routing/ and domain/ are pure: no database, network, file system or higher layers (CONVENTIONS.md).'),
  },
  {
    // The pure steps of ingest; the worker pool (parser-pool, parser-worker) may use worker_threads.
    files: ['src/ingest/**/*.ts'],
    ignores: ['**/*.test.ts', 'src/ingest/ngram-scorer.ts'],
    rules: restrict([...layer('store'), ...layer('connectors'), ...layer('server'), ...layer('services'), ...layer('cli')], noIo, 'ingest/ is pure: raw bytes in, decisions out (CONVENTIONS.md).'),
  },
  {
    // The language scorer reads its dependency's n-gram table once, when it is loaded (as an
    // import of it would, without keeping its objects); it does no I/O while detecting.
    files: ['src/ingest/ngram-scorer.ts'],
    rules: restrict([...layer('store'), ...layer('connectors'), ...layer('server'), ...layer('services'), ...layer('cli')], noIo.filter((name) => name !== 'node:fs'), 'ingest/ is pure: raw bytes in, decisions out (CONVENTIONS.md).'),
  },
  {
    files: ['src/store/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: restrict([...layer('connectors'), ...layer('services'), ...layer('server'), ...layer('cli'), ...layer('routing'), ...layer('ingest')], [], 'store/ is dumb SQL in, rows out: it imports domain/ and its own files only (CONVENTIONS.md).'),
  },
  {
    files: ['src/connectors/**/*.ts', 'src/auth/**/*.ts', 'src/config/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: restrict([...layer('services'), ...layer('server'), ...layer('cli')], [], 'store/, connectors/, auth/ and config/ never reach up into services/, server/ or cli/ (CONVENTIONS.md).'),
  },
  {
    files: ['src/services/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: restrict([...layer('server'), ...layer('cli')], [], 'services/ never import server/ or cli/: routes call services, not the other way.'),
  },
  {
    files: ['bin/**/*.js', 'scripts/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
