// The modules `npm run mutate` tests (security- and data-critical code), each with the test files
// that exercise it in-process. Only those files run against a module's mutants: a test that starts
// the built CLI as a subprocess runs dist/, which mutation never touches, so it could kill nothing.
export const MUTATION_MODULES = [
  {
    name: 'client-credentials',
    mutate: ['src/maas/credentials.ts', 'src/maas/creds-file.ts', 'src/maas/api-key.ts'],
    tests: ['test/maas/credentials.test.ts'],
  },
  {
    name: 'client-oauth',
    mutate: ['src/maas/oauth.ts'],
    tests: ['test/maas/oauth.test.ts'],
  },
  {
    name: 'spool',
    mutate: ['src/runner/spool.ts'],
    tests: ['test/runner/spool.test.ts', 'test/runner/delivery.test.ts'],
  },
  {
    name: 'scripts',
    mutate: ['src/runner/scripts.ts'],
    tests: ['test/runner/scripts.test.ts', 'test/runner/report.test.ts', 'test/runner/run-report.test.ts'],
  },
  {
    name: 'tar',
    mutate: ['src/runner/tar.ts'],
    tests: ['test/runner/tar.test.ts'],
  },
  {
    name: 'cpu-collector',
    mutate: ['collectors/cpu.ts'],
    tests: ['test/collectors/cpu.test.ts'],
  },
  {
    name: 'storage-collector',
    mutate: ['collectors/storage.ts'],
    tests: ['test/collectors/storage.test.ts'],
  },
  {
    name: 'server-oauth',
    mutate: ['src/server/oauth.ts'],
    tests: ['test/server/oauth.test.ts', 'test/server/bad-input.test.ts'],
  },
  {
    name: 'server-request-body',
    mutate: ['src/server/request-body.ts'],
    tests: ['test/server/request-body.test.ts', 'test/server/request-limits.test.ts', 'test/server/bad-input.test.ts'],
  },
];

/** The mutation score every module must reach, in percent. */
export const REQUIRED_SCORE = 90;
