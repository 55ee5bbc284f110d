// Lint rules, including the dependency direction that docs/architecture.md
// draws: the client library (verify/) must ship without server code, policy/
// never sees node:http, evidence/ knows nothing of TLS, nothing imports cli/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const restrict = (patterns) => ({
  'no-restricted-imports': ['error', { patterns: patterns.map((group) => ({ group, message: 'Breaks the dependency direction in docs/architecture.md' })) }],
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', 'rego/build/**', 'coverage/**', '.scratch/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: restrict([['**/cli/**', '../cli/*', './cli/*']]),
  },
  {
    files: ['src/verify/**/*.ts'],
    rules: restrict([
      ['**/evidence/**', '**/proxy/**', '**/policy/**', '**/observability/**', '**/cli/**', '**/config/**', '**/demo/**'],
      ['**/ratls/issue*', '**/ratls/rotation*', '**/ratls/index*'],
    ]),
  },
  {
    files: ['src/policy/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['node:http', 'node:https', 'node:tls', 'http', 'https', 'tls'].map((name) => ({ name, message: 'policy/ sees plain input objects, never HTTP' })),
        patterns: [{ group: ['**/proxy/**', '**/cli/**', '**/ratls/**', '**/evidence/**'], message: 'Breaks the dependency direction in docs/architecture.md' }],
      }],
    },
  },
  {
    files: ['src/audit/**/*.ts'],
    rules: restrict([['**/proxy/**', '**/cli/**', '**/evidence/**', '**/ratls/**']]),
  },
  {
    files: ['src/evidence/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['node:tls', 'node:https', 'tls', 'https'].map((name) => ({ name, message: 'evidence/ knows nothing of TLS' })),
        patterns: [{ group: ['**/proxy/**', '**/cli/**', '**/ratls/**', '**/policy/**', '**/verify/**'], message: 'Breaks the dependency direction in docs/architecture.md' }],
      }],
    },
  },
  {
    // Plain JavaScript run directly by node (bench fixtures, rego toolchain scripts).
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'bench/**/*.js'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
