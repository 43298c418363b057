// Vitest settings for `npm run mutate`: the normal ones, but only the test files of the module
// being mutated (MUTATE_MODULE, set by scripts/mutate.mjs; every listed module's without it).
// The files are chosen here and not with Stryker's own testFiles option: with that option,
// Stryker 9.6.1 activates a mutant of module-level code (a constant, a pattern) only after the
// module was loaded, so every such mutant would wrongly survive.
import base from './vitest.config.ts';
import { MUTATION_MODULES } from './scripts/mutate-modules.mjs';

const selected = process.env.MUTATE_MODULE
  ? MUTATION_MODULES.filter((module) => module.name === process.env.MUTATE_MODULE)
  : MUTATION_MODULES;

// Spread, not vitest's mergeConfig: that would add these files to the usual `include`, not replace it.
export default { ...base, test: { ...base.test, include: selected.flatMap((module) => module.tests) } };
