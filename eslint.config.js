// Lint config: typescript-eslint's recommended rules over the sources and tests, plus the rule
// that code handling an error never decides by its message text (src/errors.ts gives codes).
import tseslint from 'typescript-eslint';

const BRANCH_ON_MESSAGE = 'Do not decide by an error\'s message text in a catch block: test its class, its `code` (src/errors.ts) or a field it carries.';

/** Selectors for a catch block reading `.message` text to decide something (test/lint.test.ts plants each one). */
const catchMessageSelectors = [
  // /re/.test(error.message), /re/.exec(error.message)
  "CatchClause CallExpression[callee.property.name=/^(test|exec)$/][arguments.0.property.name='message']",
  // error.message.includes(…), .startsWith(…), .replace(…), .split(…), …
  "CatchClause CallExpression[callee.object.property.name='message'][callee.property.name=/^(includes|startsWith|endsWith|indexOf|lastIndexOf|search|match|matchAll|replace|replaceAll|split|slice|substring)$/]",
  // error.message === '…'
  "CatchClause BinaryExpression[operator=/^[!=]==?$/] > MemberExpression[property.name='message']",
  // switch (error.message)
  "CatchClause SwitchStatement[discriminant.property.name='message']",
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'build/**', '.stryker-tmp/**', 'reports/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // CommonJS files load their modules with require, which is what they are for.
  { files: ['**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  {
    files: ['src/**/*.ts', 'collectors/**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error', ...catchMessageSelectors.map((selector) => ({ selector, message: BRANCH_ON_MESSAGE }))],
    },
  },
);
