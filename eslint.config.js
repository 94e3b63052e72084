import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'src/generated/', 'node_modules/', '.data/', '.scratch/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      // A variable assigned once but read by a closure created before the assignment must stay `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // Type-aware: a promise nobody awaits, returns or marks with `void` is a bug (a rejection nobody handles).
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['prisma.config.ts'] }, tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/no-floating-promises': 'error' },
  },
  {
    // The layering runs one way: the domain areas import nothing from `http/` (the composition root and the JSON
    // API's edge); HTTP edges (admin, console, authserver routers, the CLI) may use its middleware.
    files: ['src/{auth,config,db,mcp,observability,security,sessions,teams,toolservers}/**/*.ts', 'src/errors.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/http/*'], message: 'domain areas do not import from http/ (see docs/architecture.md)' }] }] },
  },
  {
    // Edges act through the services (`src/services.ts`), never the ORM: the admin API's routes and router, the
    // console, the CLI and the HTTP app neither read `.prisma` off anything nor import the generated client (or
    // Prisma itself). See docs/architecture.md §Layers; test/lint/layering.test.ts proves the rule fires.
    files: ['src/admin/routes/**/*.ts', 'src/admin/admin-router.ts', 'src/console/**/*.ts', 'src/cli/**/*.ts', 'src/http/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[property.name='prisma']", message: 'edges call the services (src/services.ts), not the ORM (see docs/architecture.md §Layers)' },
        { selector: "ObjectPattern > Property[key.name='prisma']", message: 'edges call the services (src/services.ts), not the ORM (see docs/architecture.md §Layers)' },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/generated/**', '@prisma/*', 'prisma', 'prisma/*'], message: 'edges call the services (src/services.ts), not the ORM (see docs/architecture.md §Layers)' },
            { group: ['**/db/database.js'], importNames: ['PrismaClient'], message: 'edges call the services (src/services.ts), not the ORM (see docs/architecture.md §Layers)' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
