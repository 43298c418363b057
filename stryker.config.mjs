// StrykerJS settings for `npm run mutate` (scripts/mutate.mjs runs one module at a time and sets
// MUTATE_MODULE). Run directly (`npx stryker run`), it mutates every listed module at once.
// Mutants that no test could tell apart from the original (equivalent mutants) are marked in the
// source with `// Stryker disable next-line <mutator>: <reason>`, next to the code they concern.
import { MUTATION_MODULES, REQUIRED_SCORE } from './scripts/mutate-modules.mjs';

const selected = process.env.MUTATE_MODULE
  ? MUTATION_MODULES.filter((module) => module.name === process.env.MUTATE_MODULE)
  : MUTATION_MODULES;
const reportName = process.env.MUTATE_MODULE ?? 'all';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  // Each module's tests are chosen in vitest.mutate.config.mjs, not by vitest's import graph.
  vitest: { configFile: 'vitest.mutate.config.mjs', related: false },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: selected.flatMap((module) => module.mutate),
  coverageAnalysis: 'perTest',
  // Two cores, shared with other work: at most two test processes.
  concurrency: Number(process.env.MUTATE_CONCURRENCY ?? 2),
  timeoutMS: 20_000,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  ignorePatterns: ['dist', 'build', 'coverage', 'reports', '.test-results.json', '*.tgz'],
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  clearTextReporter: { allowEmojis: false, logTests: false, reportScoreTable: true, reportMutants: true },
  htmlReporter: { fileName: `reports/mutation/${reportName}.html` },
  jsonReporter: { fileName: `reports/mutation/${reportName}.json` },
  incrementalFile: `reports/mutation/${reportName}.incremental.json`,
  thresholds: { high: REQUIRED_SCORE, low: REQUIRED_SCORE, break: REQUIRED_SCORE },
};
